"""Stripe webhooks: signed, stored before handling, handled once, never rolled back."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connections
from django.test import Client

from billing import selectors, services
from billing.models import (
    BillingAccount,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    SubscriptionChange,
)
from tests.billing.conftest import WEBHOOK_SECRET, post_event, sign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_client():
    """Stripe is an anonymous caller without a CSRF token."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def customer(fake_stripe):
    """A user who already has a Stripe customer, as after their first Checkout."""
    user = UserFactory()
    customer = fake_stripe.route("POST", "/v1/customers", {"email": user.email})[1]
    BillingAccount.objects.create(user=user, stripe_customer_id=customer["id"])
    return user


@pytest.fixture
def stripe_subscription(fake_stripe, customer):
    """A Creator subscription that exists at Stripe (Checkout completed there)."""
    account = customer.billing_account
    status, session = fake_stripe.route("POST", "/v1/checkout/sessions", {
        "mode": "subscription", "customer": account.stripe_customer_id,
        "line_items": [{"price": "price_test_creator", "quantity": "1"}],
        "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no",
    })
    assert status == 200
    session = fake_stripe.complete_checkout(session["id"])
    return fake_stripe.state.subscriptions[session["subscription"]]


def test_bad_signature_gets_400_and_nothing_is_stored(stripe_client, fake_stripe,
                                                      stripe_subscription):
    event = fake_stripe.event("customer.subscription.created", stripe_subscription)
    response = post_event(stripe_client, event, secret="whsec_someone_else")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_signature"
    body = json.dumps(event).encode()
    tampered = body.replace(b'"active"', b'"trialing"')
    response = stripe_client.post("/billing/stripe/webhook/", data=tampered,
                                  content_type="application/json",
                                  HTTP_STRIPE_SIGNATURE=sign(body))
    assert response.status_code == 400
    response = stripe_client.post("/billing/stripe/webhook/", data=body,
                                  content_type="application/json")
    assert response.status_code == 400, "no signature header at all"
    assert not StripeEvent.objects.exists()
    assert not Subscription.objects.exists()


def test_stale_timestamp_gets_400_and_nothing_is_stored(stripe_client, fake_stripe,
                                                        stripe_subscription, settings):
    event = fake_stripe.event("customer.subscription.created", stripe_subscription)
    stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 5
    response = post_event(stripe_client, event, timestamp=stale)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert not Subscription.objects.exists()
    # The same body, signed now, is accepted: only its age was wrong.
    assert post_event(stripe_client, event).status_code == 200


def test_a_body_that_is_not_an_event_gets_400(stripe_client, fake_stripe):
    body = b'{"hello": "world"}'
    response = stripe_client.post("/billing/stripe/webhook/", data=body,
                                  content_type="application/json",
                                  HTTP_STRIPE_SIGNATURE=sign(body))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_webhook_answers_only_post(stripe_client, fake_stripe):
    assert stripe_client.get("/billing/stripe/webhook/").status_code == 405


def test_unhandled_event_type_is_stored_and_ignored(stripe_client, fake_stripe, customer):
    event = fake_stripe.event("customer.updated", {"id": "cus_x", "object": "customer"})
    response = post_event(stripe_client, event)
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert (stored.stripe_event_id, stored.status) == (event["id"], StripeEventStatus.IGNORED)
    assert stored.payload["data"]["object"]["id"] == "cus_x"


def test_same_event_three_times_in_sequence_has_one_effect(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    event = fake_stripe.event("customer.subscription.created", stripe_subscription)
    responses = [post_event(stripe_client, event) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts, stored.deliveries) == ("processed", 1, 3)
    sub = Subscription.objects.get()
    assert (sub.user, sub.plan_code, sub.status) == (customer, "creator", "active")
    assert SubscriptionChange.objects.count() == 1
    assert selectors.plan_for_user(user=customer).code == "creator"


@pytest.mark.django_db(transaction=True)
def test_same_event_three_times_in_parallel_has_one_effect(fake_stripe, customer,
                                                           stripe_subscription):
    session = next(iter(fake_stripe.state.checkout_sessions.values()))
    event = fake_stripe.event("checkout.session.completed", fake_stripe._public(session))
    # The handler asks Stripe for the subscription; a slow answer keeps all three
    # deliveries in flight together.
    fake_stripe.latency = 0.3
    body = json.dumps(event).encode()
    header = sign(body)
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            response = Client(enforce_csrf_checks=True).post(
                "/billing/stripe/webhook/", data=body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200, 200, 200]
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts, stored.deliveries) == ("processed", 1, 3)
    assert Subscription.objects.count() == 1
    assert SubscriptionChange.objects.count() == 1
    assert len(fake_stripe.requests_to("GET", f"/v1/subscriptions/{session['subscription']}")) \
        == 1


def test_updated_before_created_ends_in_the_updated_state(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    sub_id = stripe_subscription["id"]
    created_at = int(time.time()) - 60
    created = fake_stripe.event("customer.subscription.created", stripe_subscription,
                                created=created_at)
    upgraded = fake_stripe.subscription_update(sub_id, price="price_test_studio")
    updated = fake_stripe.event("customer.subscription.updated", upgraded,
                                created=created_at + 30)
    assert post_event(stripe_client, updated).status_code == 200
    assert post_event(stripe_client, created).status_code == 200
    sub = Subscription.objects.get(stripe_subscription_id=sub_id)
    assert (sub.plan_code, sub.status) == ("studio", "active")
    assert "skipped, older" in StripeEvent.objects.get(stripe_event_id=created["id"]).outcome
    assert selectors.plan_for_user(user=customer).code == "studio"


def test_deleted_before_updated_ends_cancelled(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    sub_id = stripe_subscription["id"]
    t0 = int(time.time()) - 120
    assert post_event(stripe_client, fake_stripe.event(
        "customer.subscription.created", stripe_subscription, created=t0)).status_code == 200
    scheduled = fake_stripe.subscription_update(sub_id, cancel_at_period_end=True)
    updated = fake_stripe.event("customer.subscription.updated", scheduled, created=t0 + 10)
    ended = fake_stripe.subscription_update(sub_id, status="canceled")
    deleted = fake_stripe.event("customer.subscription.deleted", ended, created=t0 + 20)

    assert post_event(stripe_client, deleted).status_code == 200
    assert post_event(stripe_client, updated).status_code == 200
    sub = Subscription.objects.get(stripe_subscription_id=sub_id)
    assert sub.status == "canceled"
    assert sub.ended_at is not None
    assert selectors.plan_for_user(user=customer).code == "free"
    assert [(c.from_status, c.to_status) for c in SubscriptionChange.objects.all()] == [
        ("", "active"), ("active", "canceled")
    ]


def test_a_cancelled_subscription_never_comes_back_even_with_an_equal_timestamp(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    sub_id = stripe_subscription["id"]
    now = int(time.time())
    ended = fake_stripe.subscription_update(sub_id, status="canceled")
    active = {**ended, "status": "active", "ended_at": None, "canceled_at": None}
    post_event(stripe_client, fake_stripe.event("customer.subscription.deleted", ended,
                                                created=now))
    post_event(stripe_client, fake_stripe.event("customer.subscription.updated", active,
                                                created=now))
    assert Subscription.objects.get().status == "canceled"


def test_handler_that_fails_once_leaves_nothing_and_applies_once_on_retry(
    stripe_client, fake_stripe, customer, stripe_subscription, monkeypatch
):
    real = services.subscription_change_record
    calls = {"n": 0}

    def fails_the_first_time(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            # The subscription row is already saved when this runs: it must be rolled back.
            assert Subscription.objects.filter(user=customer).exists()
            raise RuntimeError("database hiccup while writing the audit row")
        return real(**kwargs)

    monkeypatch.setattr(services, "subscription_change_record", fails_the_first_time)
    event = fake_stripe.event("customer.subscription.created", stripe_subscription)

    first = post_event(stripe_client, event)
    assert first.status_code == 500, "Stripe must deliver it again"
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (StripeEventStatus.FAILED, 1)
    assert "database hiccup" in stored.error
    assert not Subscription.objects.exists(), "no half-applied change"
    assert selectors.plan_for_user(user=customer).code == "free"

    second = post_event(stripe_client, event)
    assert second.status_code == 200
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.error) == ("processed", 2, "")
    assert Subscription.objects.count() == 1
    assert SubscriptionChange.objects.count() == 1
    assert post_event(stripe_client, event).status_code == 200
    assert SubscriptionChange.objects.count() == 1
    assert selectors.plan_for_user(user=customer).code == "creator"


def test_stripe_outage_while_handling_checkout_is_retried(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    account = customer.billing_account
    session = next(s for s in fake_stripe.state.checkout_sessions.values()
                   if s["customer"] == account.stripe_customer_id)
    event = fake_stripe.event("checkout.session.completed", fake_stripe._public(session))
    fake_stripe.fail_next("GET", "/v1/subscriptions/", status=500)
    assert post_event(stripe_client, event).status_code == 500
    assert StripeEvent.objects.get().status == StripeEventStatus.FAILED
    assert not Subscription.objects.exists()

    assert post_event(stripe_client, event).status_code == 200
    assert Subscription.objects.get().plan_code == "creator"
    assert len(fake_stripe.requests_to("GET", f"/v1/subscriptions/{session['subscription']}")) \
        == 2


def test_event_for_a_price_not_in_the_catalogue_fails_visibly(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    odd = fake_stripe.subscription_update(stripe_subscription["id"], price="price_unknown")
    response = post_event(stripe_client, fake_stripe.event("customer.subscription.updated", odd))
    assert response.status_code == 500
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.FAILED
    assert "price_unknown" in stored.error
    assert not Subscription.objects.exists()


def test_failed_payment_keeps_the_plan_for_the_grace_period_then_free(
    stripe_client, fake_stripe, customer, stripe_subscription, settings
):
    from datetime import timedelta

    from django.utils import timezone

    settings.BILLING_PAST_DUE_GRACE_DAYS = 3
    sub_id = stripe_subscription["id"]
    t0 = int(time.time()) - 60
    post_event(stripe_client, fake_stripe.event("customer.subscription.created",
                                                stripe_subscription, created=t0))
    fake_stripe.subscription_update(sub_id, status="past_due")
    failed = fake_stripe.event("invoice.payment_failed", fake_stripe.invoice(sub_id, paid=False),
                               created=t0 + 10)
    assert post_event(stripe_client, failed).status_code == 200
    sub = Subscription.objects.get()
    assert sub.status == "past_due" and sub.past_due_since is not None
    now = timezone.now()
    assert selectors.plan_for_user(user=customer, now=now).code == "creator"
    browser = Client()
    browser.force_login(customer)
    page = browser.get("/billing/").content.decode()
    assert "Your last payment failed" in page
    assert "then Free limits apply" in page
    assert selectors.plan_for_user(user=customer, now=now + timedelta(days=3, minutes=1)).code \
        == "free"

    fake_stripe.subscription_update(sub_id, status="active")
    paid = fake_stripe.event("invoice.paid", fake_stripe.invoice(sub_id, paid=True),
                             created=t0 + 20)
    assert post_event(stripe_client, paid).status_code == 200
    sub.refresh_from_db()
    assert (sub.status, sub.past_due_since) == ("active", None)
    assert selectors.plan_for_user(user=customer, now=now + timedelta(days=4)).code == "creator"


def test_unpaid_subscription_falls_back_to_free_at_once(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    unpaid = fake_stripe.subscription_update(stripe_subscription["id"], status="unpaid")
    post_event(stripe_client, fake_stripe.event("customer.subscription.updated", unpaid))
    assert selectors.plan_for_user(user=customer).code == "free"


def test_cancel_at_period_end_keeps_the_plan_until_the_period_ends(
    stripe_client, fake_stripe, customer, stripe_subscription
):
    from datetime import timedelta

    scheduled = fake_stripe.subscription_update(stripe_subscription["id"],
                                                cancel_at_period_end=True)
    post_event(stripe_client, fake_stripe.event("customer.subscription.updated", scheduled))
    sub = Subscription.objects.get()
    assert selectors.plan_for_user(user=customer).code == "creator"
    # Even if Stripe's final "deleted" event is late, the paid limits end with the period.
    after = sub.current_period_end + timedelta(seconds=1)
    assert selectors.plan_for_user(user=customer, now=after).code == "free"


def test_event_for_a_customer_we_do_not_know_fails_and_is_kept(stripe_client, fake_stripe):
    sub = {"id": "sub_stranger", "object": "subscription", "customer": "cus_stranger",
           "status": "active", "created": int(time.time()),
           "items": {"data": [{"price": {"id": "price_test_creator"}}]}}
    response = post_event(stripe_client, fake_stripe.event("customer.subscription.created", sub))
    assert response.status_code == 500
    assert "cus_stranger" in StripeEvent.objects.get().error


def test_webhook_secret_is_the_only_key(stripe_client, fake_stripe, settings,
                                        stripe_subscription):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(stripe_client, fake_stripe.event("customer.subscription.created",
                                                           stripe_subscription),
                          secret=WEBHOOK_SECRET)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
