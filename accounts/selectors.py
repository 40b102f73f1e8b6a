from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ApiKey


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def api_key_get_for_user(*, user, key_id) -> ApiKey:
    """The user's key, or Http404 for anyone else's."""
    return get_object_or_404(api_keys_for_user(user=user), pk=key_id)
