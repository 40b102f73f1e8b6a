"""Webhook endpoints and the signed, retried delivery of events to them.

Signature: each request carries ``Caption-Signature: t=<unix seconds>,v1=<hex>``, where
``<hex>`` is HMAC-SHA256 with the endpoint's secret over ``"<t>.<raw body>"``. Receivers
recompute it, compare in constant time, and reject timestamps older than a few minutes.
Delivery is at least once: receivers deduplicate by the ``id`` in the body.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from billing import selectors as billing_selectors
from billing.plans import Feature
from config.errors import ApplicationError
from config.outbox import Message, outbox_send, outbox_send_on_commit

from . import selectors, transport
from .models import (
    SUBSCRIBABLE_EVENTS,
    DeliveryStatus,
    OutboundEventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

WEBHOOK_DELIVERY_TASK = "workers.tasks.webhook_delivery_send"

SIGNATURE_HEADER = "Caption-Signature"
MAX_ENDPOINTS_PER_OWNER = 10


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_url_check(*, url: str) -> None:
    """Raises ApplicationError(400) for a URL that may not receive webhooks (see transport)."""
    if len(url) > 2000:
        raise ApplicationError("The URL is too long.", code="invalid_webhook_url",
                               details={"url": "Use at most 2000 characters."})
    try:
        transport.resolve_target(url, allow_loopback=settings.WEBHOOKS_ALLOW_LOOPBACK)
    except transport.UnsafeUrl as exc:
        raise ApplicationError(
            f"This URL cannot receive webhooks: {exc}", code="invalid_webhook_url",
            details={"url": str(exc)},
        ) from None


def _endpoint_state(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}


def webhook_endpoint_create(
    *, owner, url: str, events: list[str] | None = None, description: str = "", actor=None
) -> WebhookEndpoint:
    """Register an endpoint after checking its URL against SSRF.

    Raises ApplicationError(400) for an unsafe or unresolvable URL, unknown events or
    too many endpoints.
    """
    limits = billing_selectors.plan_limits_for_user(user=owner)
    if not limits.has(Feature.WEBHOOKS):
        raise ApplicationError(
            f"Webhooks are not part of the {limits.plan.name} plan. Upgrade on the billing "
            "page to have finished jobs announced to your server.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.WEBHOOKS, "plan": limits.plan.code},
        )
    events = sorted(set(events or SUBSCRIBABLE_EVENTS))
    unknown = [e for e in events if e not in SUBSCRIBABLE_EVENTS]
    if unknown:
        raise ApplicationError(
            "Unknown event types.", code="invalid",
            details={"events": f"Choose from: {', '.join(SUBSCRIBABLE_EVENTS)}."},
        )
    if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS_PER_OWNER:
        raise ApplicationError(
            f"You can register at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints.",
            code="too_many_endpoints", status=409,
        )
    webhook_url_check(url=url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            owner=owner, url=url, events=events, description=description[:200],
            secret="whsec_" + secrets.token_urlsafe(32),
        )
        audit_record(action=AuditAction.WEBHOOK_ENDPOINT_CREATED, target=endpoint,
                     actor=actor or owner, subject_user=owner, after=_endpoint_state(endpoint))
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor=None) -> None:
    """Delete the endpoint with its delivery log; pending retries stop."""
    with transaction.atomic():
        audit_record(action=AuditAction.WEBHOOK_ENDPOINT_DELETED, target=endpoint,
                     actor=actor or endpoint.owner, subject_user=endpoint.owner,
                     before=_endpoint_state(endpoint))
        endpoint.delete()


def _event_body(*, delivery: WebhookDelivery) -> bytes:
    return json.dumps(
        {
            "id": str(delivery.event_id),
            "type": delivery.event_type,
            "created_at": delivery.created_at,
            "data": delivery.payload,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    ).encode()


def webhook_event_publish(*, owner, event_type: str, data: dict) -> list[WebhookDelivery]:
    """Record the event for each of the owner's subscribed endpoints and send it after commit.

    Call it inside the transaction that made the change, so an event exists if and only
    if the change does.
    """
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    deliveries = [
        WebhookDelivery.objects.create(endpoint_id=endpoint_id, event_type=event_type,
                                       payload=data)
        for endpoint_id, events in selectors.webhook_subscriptions_for_owner(owner=owner)
        if event_type in events
    ]
    for delivery in deliveries:
        outbox_send_on_commit(webhook_delivery_message(delivery_id=delivery.pk))
    return deliveries


def webhook_delivery_message(*, delivery_id, countdown: float | None = None) -> Message:
    return Message(task=WEBHOOK_DELIVERY_TASK, args=(str(delivery_id),), countdown=countdown,
                   subject=f"webhook delivery {delivery_id}")


def webhook_deliveries_pending(*, cutoff: datetime, now: datetime) -> list[Message]:
    """The outbox's view of deliveries: pending, and due since before ``cutoff``.

    A delivery is due when it was created (first attempt) or at ``next_attempt_at``
    (a retry); one still pending a full period later lost its task (a broker failure
    at enqueue, a restart). It is marked due now, so the next sweep waits a period.
    """
    stuck = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__lt=cutoff)
                | Q(next_attempt_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)[:500]
    )
    WebhookDelivery.objects.filter(pk__in=stuck).update(next_attempt_at=now)
    return [webhook_delivery_message(delivery_id=pk) for pk in stuck]


def webhook_retry_delay(*, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from the base, capped, with jitter."""
    base = settings.WEBHOOKS_BACKOFF_BASE_SECONDS * (2 ** (attempt - 1))
    delay = min(base, settings.WEBHOOKS_BACKOFF_MAX_SECONDS)
    # Up to 10% jitter so endpoints that failed together are not retried in lockstep.
    return delay * (1 + random.random() / 10)  # noqa: S311 - not for security


def _send(delivery: WebhookDelivery) -> tuple[WebhookAttempt, bool]:
    """One POST of the delivery; returns the attempt and whether a later one could succeed."""
    body = _event_body(delivery=delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CaptionGenerator-Webhooks/1.0",
        "Caption-Event": delivery.event_type,
        "Caption-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: webhook_signature(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    attempt = WebhookAttempt(delivery=delivery, number=delivery.attempt_count + 1)
    retryable = True
    began = time.monotonic()
    try:
        result = transport.post(
            delivery.endpoint.url, body=body, headers=headers,
            timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
            allow_loopback=settings.WEBHOOKS_ALLOW_LOOPBACK,
        )
    except transport.HostUnresolved as exc:
        # DNS may answer later (an outage, a record not yet published): retried.
        attempt.error = str(exc)
    except transport.UnsafeUrl as exc:
        # The host now resolves to an address we never call (or the URL is one we never
        # call): waiting will not make it public, so retrying for a day only hides it.
        attempt.error = (f"Refused: {exc} Not retried: waiting will not change this; point "
                         "the endpoint at a public address.")
        retryable = False
    except (OSError, http.client.HTTPException) as exc:
        attempt.error = f"{exc.__class__.__name__}: {exc}"[:1000] or "Connection failed"
    else:
        attempt.ip_address = result.ip
        attempt.response_status = result.status
        attempt.response_body = result.body
        attempt.succeeded = 200 <= result.status < 300
        if not attempt.succeeded:
            attempt.error = f"The endpoint answered HTTP {result.status}."
            if 300 <= result.status < 400:
                attempt.error += " Redirects are not followed."
    attempt.duration_ms = round((time.monotonic() - began) * 1000)
    return attempt, retryable


def webhook_delivery_attempt(*, delivery_id) -> float | None:
    """Make one attempt. Returns the seconds to wait before the next one, or None when done.

    Retries stop after WEBHOOKS_MAX_ATTEMPTS attempts or once the next one would fall
    outside WEBHOOKS_RETRY_WINDOW_SECONDS from the event; the delivery is then failed.
    An attempt refused by the address check (the host resolves to a private, loopback,
    link-local or metadata address) fails the delivery at once, its reason in the
    attempt's error; a host name that does not resolve is retried like a refused
    connection.
    """
    delivery = (
        WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    attempt, retryable = _send(delivery)
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if locked is None or locked.status != DeliveryStatus.PENDING:
            return None
        attempt.number = locked.attempt_count + 1
        attempt.save()
        locked.attempt_count = attempt.number
        delay = None
        if attempt.succeeded:
            locked.status = DeliveryStatus.SUCCEEDED
            locked.finished_at = now
            locked.next_attempt_at = None
        else:
            delay = webhook_retry_delay(attempt=attempt.number)
            window_ends = locked.created_at + timedelta(
                seconds=settings.WEBHOOKS_RETRY_WINDOW_SECONDS
            )
            next_at = now + timedelta(seconds=delay)
            if (
                not retryable
                or locked.event_type == OutboundEventType.PING
                or attempt.number >= settings.WEBHOOKS_MAX_ATTEMPTS
                or next_at > window_ends
            ):
                locked.status = DeliveryStatus.FAILED
                locked.finished_at = now
                locked.next_attempt_at = None
                delay = None
            else:
                locked.next_attempt_at = next_at
        locked.save()
    return delay


def webhook_delivery_run(*, delivery_id) -> None:
    """One attempt (the delivery's task), and the next one sent with its delay if it failed.

    A next attempt the broker refuses is not lost: the delivery stays pending with its
    ``next_attempt_at``, and the outbox sweep sends it again.
    """
    delay = webhook_delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        outbox_send(webhook_delivery_message(delivery_id=delivery_id, countdown=delay))


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a signed ``ping`` event now, once, and return the logged delivery."""
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type=OutboundEventType.PING,
        payload={"message": "This is a test event from Caption Generator."},
    )
    webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery
