from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints_for_owner(*, owner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner)


def webhook_endpoint_get_for_owner(*, owner, endpoint_id) -> WebhookEndpoint:
    """The owner's endpoint, or Http404 for anyone else's."""
    return get_object_or_404(webhook_endpoints_for_owner(owner=owner), pk=endpoint_id)


def webhook_deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempts")
