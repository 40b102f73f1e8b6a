from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from config.cache import generation_cached, generation_renew

from .models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints_for_owner(*, owner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner)


def webhook_endpoint_get_for_owner(*, owner, endpoint_id) -> WebhookEndpoint:
    """The owner's endpoint, or Http404 for anyone else's."""
    return get_object_or_404(webhook_endpoints_for_owner(owner=owner), pk=endpoint_id)


def webhook_deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempts")


def _generation_key(owner_id) -> str:
    return f"webhooks:endpoints:generation:{owner_id}"


def _subscriptions_key(owner_id) -> str:
    return f"webhooks:endpoints:{owner_id}"


def webhook_subscriptions_forget(*, owner_id) -> None:
    """A new generation for the owner's endpoints: every entry cached before is stale.
    Called whenever one of their endpoints is saved or deleted (``webhooks.apps``)."""
    generation_renew(_generation_key(owner_id))


def webhook_subscriptions_for_owner(*, owner) -> list[tuple]:
    """[(endpoint id, its events)] of the owner: read by every job that finishes.

    Cached under the generation of the owner's endpoints (``config.cache``), so an entry
    read before a change was committed is never used after it. Most owners have none,
    which is cached too.
    """
    subscriptions, _ = generation_cached(
        key=_subscriptions_key(owner.pk), generation_key=_generation_key(owner.pk),
        load=lambda: [(endpoint_id, tuple(events)) for endpoint_id, events in
                      WebhookEndpoint.objects.filter(owner=owner).values_list("id", "events")],
        timeout=settings.BILLING_PLAN_CACHE_SECONDS)
    return subscriptions
