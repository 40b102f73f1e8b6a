import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


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
    cache.set(_generation_key(owner_id), uuid.uuid4().hex, timeout=None)


def webhook_subscriptions_for_owner(*, owner) -> list[tuple]:
    """[(endpoint id, its events)] of the owner: read by every job that finishes.

    Cached under the generation of the owner's endpoints as it was before the database
    was read, so an entry read before a change was committed is never used after it
    (the change sets a new generation once committed). Most owners have none, which is
    cached too. A cache outage reads the database.
    """
    gen_key, key = _generation_key(owner.pk), _subscriptions_key(owner.pk)
    try:
        cached = cache.get_many([gen_key, key])
        generation = cached.get(gen_key)
        if generation is None:
            generation = uuid.uuid4().hex
            if not cache.add(gen_key, generation, timeout=None):
                generation = cache.get(gen_key)
        entry = cached.get(key)
        if generation is not None and entry is not None and entry[0] == generation:
            return entry[1]
    except Exception:  # noqa: BLE001 - a cache outage falls back to the database
        generation = None
    subscriptions = [(endpoint_id, tuple(events)) for endpoint_id, events in
                     WebhookEndpoint.objects.filter(owner=owner).values_list("id", "events")]
    if generation is not None:
        try:
            cache.set(key, (generation, subscriptions),
                      timeout=settings.BILLING_PLAN_CACHE_SECONDS)
        except Exception:  # noqa: BLE001 - the answer stands; the next read tries again
            logger.debug("could not cache the webhook endpoints of %s", owner.pk,
                         exc_info=True)
    return subscriptions
