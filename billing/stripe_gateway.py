"""The one module that talks to Stripe, through the official SDK.

``STRIPE_API_BASE`` points the SDK at another server (the test suite's fake Stripe);
nothing else in the code knows where Stripe is. Every call that creates something
at Stripe carries an idempotency key chosen by the caller, so a retried request can
never create a second customer, session or meter event. Results are plain dicts.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import stripe
from django.conf import settings

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

StripeError = stripe.StripeError


class StripeNotConfigured(ApplicationError):
    def __init__(self):
        super().__init__(
            "Payments are not set up on this server yet, so plans cannot be bought here.",
            code="billing_not_configured",
            status=503,
        )


# Webhook handlers call Stripe while holding the event's row lock, and Stripe expects a
# quick answer to a webhook: a stalled call must end long before the SDK's default 80 s.
TIMEOUT_SECONDS = 15


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    # The SDK retries network failures itself, reusing the same idempotency key.
    return stripe.StripeClient(
        api_key, base_addresses={"api": api_base}, max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise StripeNotConfigured()
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _plain(obj: Any) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def customer_create(*, email: str, user_id: int, idempotency_key: str) -> dict:
    customer = client().v1.customers.create(
        params={"email": email, "metadata": {"user_id": str(user_id)}},
        options={"idempotency_key": idempotency_key},
    )
    return _plain(customer)


def checkout_sessions_expire_others(*, customer_id: str, keep_id: str) -> list[str]:
    """Expire the customer's other open Checkout sessions; returns their ids.

    Only the newest checkout can then be paid, so two tabs cannot buy two plans.
    """
    sessions = client().v1.checkout.sessions.list(
        params={"customer": customer_id, "status": "open", "limit": 100}
    )
    expired = []
    for session in sessions.data:
        if session.id == keep_id:
            continue
        try:
            client().v1.checkout.sessions.expire(session.id)
        except stripe.InvalidRequestError:
            continue  # completed or expired meanwhile: nothing left to close
        expired.append(session.id)
    return expired


def checkout_session_create(
    *,
    customer_id: str,
    user_id: int,
    plan_code: str,
    line_items: list[dict],
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> dict:
    metadata = {"user_id": str(user_id), "plan": plan_code}
    session = client().v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(user_id),
            "line_items": line_items,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
        },
        options={"idempotency_key": idempotency_key},
    )
    return _plain(session)


def portal_session_create(*, customer_id: str, return_url: str, idempotency_key: str) -> dict:
    session = client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url},
        options={"idempotency_key": idempotency_key},
    )
    return _plain(session)


def subscription_retrieve(*, subscription_id: str) -> dict:
    return _plain(client().v1.subscriptions.retrieve(subscription_id))


def meter_event_create(
    *, event_name: str, customer_id: str, value: int, timestamp: int, identifier: str
) -> dict:
    event = client().v1.billing.meter_events.create(
        params={
            "event_name": event_name,
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
            "identifier": identifier,
            "timestamp": timestamp,
        },
        options={"idempotency_key": identifier},
    )
    return _plain(event)


def webhook_event_construct(*, payload: bytes, signature: str) -> dict:
    """Verify a webhook's signature and age, and return the event as a dict.

    Raises stripe.SignatureVerificationError for a bad, missing or stale signature,
    ValueError for a body that is not a Stripe event.
    """
    if not settings.STRIPE_WEBHOOK_SECRET:
        logger.error("STRIPE_WEBHOOK_SECRET is not set: every Stripe webhook is refused")
    event = stripe.Webhook.construct_event(
        payload, signature, settings.STRIPE_WEBHOOK_SECRET,
        tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
    )
    return _plain(event)
