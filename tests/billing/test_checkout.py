"""Buying a plan: Checkout, the Portal, and limits that change the moment Stripe confirms."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import selectors
from billing.models import BillingAccount, Subscription
from billing.plans import CREATOR, FREE
from captions.models import CaptionJob
from tests.billing.conftest import post_event, start_checkout, subscribe
from tests.conftest import s3_keys

pytestmark = pytest.mark.django_db


def test_checkout_creates_one_customer_and_sends_the_browser_to_stripe(
    user_client, user, fake_stripe
):
    response = start_checkout(user_client, "creator")
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")

    [create_customer] = fake_stripe.requests_to("POST", "/v1/customers")
    assert create_customer.params["email"] == user.email
    assert create_customer.params["metadata"] == {"user_id": str(user.pk)}
    assert create_customer.idempotency_key == f"cg-customer-{user.pk}"
    assert create_customer.headers["authorization"] == "Bearer sk_test_caption_generator"

    [create_session] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    params = create_session.params
    account = BillingAccount.objects.get(user=user)
    assert params["customer"] == account.stripe_customer_id
    assert params["mode"] == "subscription"
    assert params["line_items"] == [{"price": "price_test_creator", "quantity": "1"}]
    assert params["client_reference_id"] == str(user.pk)
    assert params["subscription_data"]["metadata"] == {"user_id": str(user.pk),
                                                       "plan": "creator"}
    assert params["success_url"].endswith("/billing/?checkout=success")
    assert create_session.idempotency_key


def test_second_click_reuses_the_customer_and_the_session(user_client, user, fake_stripe):
    first = start_checkout(user_client, "creator")
    second = start_checkout(user_client, "creator")
    assert first["Location"] == second["Location"], "one session, not two payments"
    assert len(fake_stripe.state.customers) == 1
    assert len(fake_stripe.requests_to("POST", "/v1/customers")) == 1
    assert len(fake_stripe.state.checkout_sessions) == 1


def test_a_newer_checkout_closes_the_older_tab_so_two_plans_cannot_both_be_bought(
    user_client, fake_stripe
):
    first = start_checkout(user_client, "creator")["Location"]
    second = start_checkout(user_client, "studio")["Location"]
    sessions = {s["url"] or s["id"]: s for s in fake_stripe.state.checkout_sessions.values()}
    assert sessions[second]["status"] == "open"
    [older] = [s for s in fake_stripe.state.checkout_sessions.values() if s["url"] != second]
    assert older["status"] == "expired" and first.endswith(older["id"])
    assert len(fake_stripe.requests_to("POST", f"/v1/checkout/sessions/{older['id']}/expire")) == 1


def test_studio_checkout_adds_the_metered_overage_price(user_client, fake_stripe):
    start_checkout(user_client, "studio")
    [create_session] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert create_session.params["line_items"] == [
        {"price": "price_test_studio", "quantity": "1"},
        {"price": "price_test_studio_overage"},
    ]


@pytest.mark.parametrize("plan", ["free", "platinum", ""])
def test_checkout_for_a_plan_that_cannot_be_bought_is_refused(user_client, fake_stripe, plan):
    response = start_checkout(user_client, plan)
    assert response.status_code == 302
    assert not fake_stripe.requests
    page = user_client.get("/billing/")
    assert "Choose one of the paid plans." in page.content.decode()


def test_subscribed_customer_is_sent_to_the_portal_instead_of_a_second_checkout(
    user_client, user, fake_stripe
):
    subscribe(user_client, fake_stripe, "creator")
    response = start_checkout(user_client, "studio")
    assert response.status_code == 302
    assert len(fake_stripe.state.checkout_sessions) == 1
    assert "You already have a subscription" in user_client.get("/billing/").content.decode()


def test_portal_opens_for_the_customer_and_returns_to_the_billing_page(
    user_client, user, fake_stripe
):
    subscribe(user_client, fake_stripe)
    response = user_client.post("/billing/portal/")
    assert response.status_code == 303
    assert response["Location"].startswith("https://billing.stripe.com/p/session/")
    [request] = fake_stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert request.params["customer"] == user.billing_account.stripe_customer_id
    assert request.params["return_url"].endswith("/billing/")
    assert request.idempotency_key


def test_portal_without_a_customer_explains_what_to_do(user_client, fake_stripe):
    response = user_client.post("/billing/portal/", follow=True)
    assert "Choose a plan to subscribe first" in response.content.decode()
    assert not fake_stripe.requests


def test_stripe_failure_during_checkout_shows_a_message_and_charges_nothing(
    user_client, user, fake_stripe
):
    fake_stripe.fail_next("POST", "/v1/checkout/sessions", status=500)
    response = start_checkout(user_client, "creator")
    assert response.status_code == 302
    page = user_client.get("/billing/").content.decode()
    assert "Nothing was charged" in page
    # Trying again works and reuses the customer created the first time.
    assert start_checkout(user_client, "creator").status_code == 303
    assert len(fake_stripe.state.customers) == 1


def test_without_stripe_configured_the_pages_work_and_buying_explains_why_not(
    user_client, settings
):
    settings.STRIPE_SECRET_KEY = ""
    page = user_client.get("/billing/")
    assert page.status_code == 200
    assert "Payments are not set up on this server" in page.content.decode()
    response = start_checkout(user_client, "creator", )
    assert response.status_code == 302
    assert not BillingAccount.objects.filter(stripe_customer_id__isnull=False).exists()


def test_pages_need_a_login(client):
    assert client.get("/billing/").status_code == 302
    assert client.post("/billing/checkout/", {"plan": "creator"}).status_code == 302
    assert client.post("/billing/portal/").status_code == 302


def test_checkout_needs_csrf(user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.post("/billing/checkout/", {"plan": "creator"}).status_code == 403


def _limits_on_page(client) -> dict[str, str]:
    import re

    html = client.get("/billing/").content.decode()
    found = dict(re.findall(r'data-testid="([\w-]+)">([^<]*)<', html))
    return {k: " ".join(v.split()) for k, v in found.items()}


def test_after_checkout_completed_the_new_limits_apply_at_once(
    user_client, user, fake_stripe, shared_media
):
    before = _limits_on_page(user_client)
    assert before["plan-name"] == "Free"
    assert before["limit-file-size"] == "25.0 MB"
    assert before["limit-minutes"] == "30 min"
    assert before["limit-cost-cap"] == "$0.50"

    # A file one byte over the Free limit is refused...
    flac = (shared_media / "jfk.flac").read_bytes()
    padded = flac + b"\0" * (FREE.max_upload_bytes + 1 - len(flac))
    form = {"tone": "casual", "length": "medium", "platform": "instagram", "language": "",
            "variant_count": 3}
    keys_before = s3_keys()
    response = user_client.post("/jobs/new/", {**form, "file": SimpleUploadedFile("a.flac",
                                                                                  padded)})
    assert response.status_code == 413
    assert "on the Free plan" in response.content.decode()
    assert s3_keys() == keys_before

    subscribe(user_client, fake_stripe, "creator")

    after = _limits_on_page(user_client)
    assert after["plan-name"] == "Creator"
    assert after["limit-file-size"] == "100.0 MB"
    assert after["limit-duration"] == "1 h"
    assert after["limit-minutes"] == "10 h"
    assert after["limit-cost-cap"] == "$5"
    sub = Subscription.objects.get(user=user)
    assert after["renews-at"] == f"{sub.current_period_end:%-d %B %Y}"

    limits = selectors.plan_limits_for_user(user=user)
    assert (limits.plan, limits.max_upload_bytes, limits.included_audio_seconds,
            limits.hourly_cost_cap_micros) == (CREATOR, 100 * 1024 * 1024, 36_000, 5_000_000)

    # ...and accepted the moment the plan changed, with no other step.
    response = user_client.post("/jobs/new/", {**form, "file": SimpleUploadedFile("a.flac",
                                                                                  padded)})
    assert response.status_code == 302
    assert CaptionJob.objects.filter(owner=user).count() == 1


def test_plan_limits_never_exceed_the_servers_ceilings(user_client, user, fake_stripe,
                                                       settings):
    subscribe(user_client, fake_stripe, "studio")
    settings.CAPTIONS_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    settings.CAPTIONS_MAX_MEDIA_SECONDS = 600
    limits = selectors.plan_limits_for_user(user=user)
    assert limits.plan.code == "studio"
    assert (limits.max_upload_bytes, limits.max_media_seconds) == (10 * 1024 * 1024, 600)


def test_billing_page_shows_the_pricing_from_the_catalogue(user_client):
    html = user_client.get("/billing/").content.decode()
    for text in ("Free", "Creator", "$15", "Studio", "$49", "Upgrade to Creator",
                 "Upgrade to Studio", "then $0.02 a minute"):
        assert text in html, text
    nav = user_client.get("/").content.decode()
    assert 'href="/billing/"' in nav


def test_checkout_success_and_cancel_return_pages_say_what_happened(user_client):
    assert "Thank you!" in user_client.get("/billing/?checkout=success").content.decode()
    assert "nothing was charged" in user_client.get(
        "/billing/?checkout=cancelled").content.decode()


def test_cancelled_customer_sees_free_limits(user_client, user, fake_stripe):
    sub = subscribe(user_client, fake_stripe, "creator")
    ended = fake_stripe.subscription_update(sub["id"], status="canceled")
    post_event(user_client, fake_stripe.event("customer.subscription.deleted", ended))
    limits = _limits_on_page(user_client)
    assert limits["plan-name"] == "Free"
    assert limits["limit-file-size"] == "25.0 MB"


def test_upload_form_states_the_plans_limits(user_client, fake_stripe):
    def hint():
        return " ".join(user_client.get("/jobs/new/").content.decode().split())

    assert "On your Free plan: files up to 25.0 MB, recordings up to 10 min." in hint()
    subscribe(user_client, fake_stripe, "creator")
    assert "On your Creator plan: files up to 100.0 MB, recordings up to 1 h." in hint()
