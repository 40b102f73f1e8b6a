"""Billing fixtures: the fake Stripe server, and webhooks signed with Stripe's real scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.fakes.stripe_server import FakeStripeServer

WEBHOOK_SECRET = "whsec_test_" + "5" * 32
API_KEY = "sk_test_caption_generator"
PRICES = {
    "STRIPE_PRICE_CREATOR": "price_test_creator",
    "STRIPE_PRICE_STUDIO": "price_test_studio",
    "STRIPE_PRICE_STUDIO_OVERAGE": "price_test_studio_overage",
}


@pytest.fixture
def fake_stripe(settings):
    """A fake Stripe on loopback, and settings pointing the real SDK at it."""
    server = FakeStripeServer(api_key=API_KEY).start()
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_WEBHOOK_TOLERANCE = 300
    for name, value in PRICES.items():
        setattr(settings, name, value)
    yield server
    server.stop()


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post_event(client, event: dict, **sign_kwargs):
    body = json.dumps(event).encode()
    return client.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=sign(body, **sign_kwargs))


def start_checkout(client, plan: str = "creator"):
    return client.post("/billing/checkout/", {"plan": plan})


def subscribe(client, fake: FakeStripeServer, plan: str = "creator") -> dict:
    """A logged-in customer buys a plan: Checkout, payment on Stripe, the webhook arrives.

    Returns the subscription as Stripe holds it.
    """
    response = start_checkout(client, plan)
    assert response.status_code == 303, response.content
    session_id = response["Location"].rsplit("/", 1)[1]
    session = fake.complete_checkout(session_id)
    response = post_event(client, fake.event("checkout.session.completed", session))
    assert response.status_code == 200, response.content
    return fake.state.subscriptions[session["subscription"]]
