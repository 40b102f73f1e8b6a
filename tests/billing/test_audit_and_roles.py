"""Staff roles through the admin, and the audit rows that money changes leave.

Support: views billing, retries and cancels jobs, cannot change plans or caps.
Billing: sets customers' cost caps (each change one audit row), sees no jobs.
A plan change arriving from Stripe leaves one audit row naming Stripe as the actor.
"""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.test import Client

from accounts.permissions import BILLING_GROUP, SUPPORT_GROUP
from audit.models import AuditAction, AuditEntry
from billing.models import CostCapOverride, Subscription
from tests.billing.conftest import post_event
from tests.factories import CaptionJobFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db

GRANTS = [("billing.migrations.0002_support_group_can_view_billing", "grant_view"),
          ("billing.migrations.0004_support_group_cost_ledger", "grant"),
          ("captions.migrations.0005_support_group_jobs", "grant"),
          ("audit.migrations.0002_staff_roles", "grant")]


def staff_client(group: str, email: str) -> Client:
    # A transactional test elsewhere may have flushed the groups: grant again with the
    # migrations' own functions, which is what a fresh database runs.
    for module, function in GRANTS:
        getattr(importlib.import_module(module), function)(django_apps, None)
    member = UserFactory(email=email, is_staff=True)
    member.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(member)
    client.member = member
    return client


@pytest.fixture
def billing_client():
    return staff_client(BILLING_GROUP, "billing@example.com")


@pytest.fixture
def support_client():
    return staff_client(SUPPORT_GROUP, "support@example.com")


def test_billing_staff_set_change_and_remove_a_cap_each_leaving_one_audit_row(billing_client):
    customer = UserFactory()
    response = billing_client.post("/admin/billing/costcapoverride/add/", {
        "user": customer.pk, "hourly_cap_micros": 5_000_000, "reason": "launch week"})
    assert response.status_code == 302, response.content
    override = CostCapOverride.objects.get(user=customer)
    [set_row] = AuditEntry.objects.filter(action=AuditAction.COST_CAP_SET)
    assert (set_row.actor, set_row.subject_user) == (billing_client.member, customer)
    assert (set_row.before, set_row.after) == (
        {}, {"hourly_cap_micros": 5_000_000, "reason": "launch week"})

    billing_client.post(f"/admin/billing/costcapoverride/{override.pk}/change/", {
        "hourly_cap_micros": 2_000_000, "reason": "back to normal"})
    changed = AuditEntry.objects.filter(action=AuditAction.COST_CAP_SET).order_by("id").last()
    assert changed.before == {"hourly_cap_micros": 5_000_000, "reason": "launch week"}
    assert changed.after == {"hourly_cap_micros": 2_000_000, "reason": "back to normal"}

    billing_client.post(f"/admin/billing/costcapoverride/{override.pk}/delete/", {"post": "yes"})
    assert not CostCapOverride.objects.exists()
    [removed] = AuditEntry.objects.filter(action=AuditAction.COST_CAP_REMOVED)
    assert removed.before["hourly_cap_micros"] == 2_000_000
    assert AuditEntry.objects.count() == 3


def test_a_cap_without_a_reason_is_refused_with_a_message_and_no_row(billing_client):
    customer = UserFactory()
    response = billing_client.post("/admin/billing/costcapoverride/add/", {
        "user": customer.pk, "hourly_cap_micros": 5_000_000, "reason": " "})
    assert response.status_code == 200
    assert "Say why" in response.content.decode()
    assert not CostCapOverride.objects.exists() and not AuditEntry.objects.exists()


def test_billing_staff_cannot_see_or_touch_jobs_users_or_keys(billing_client):
    job = CaptionJobFactory()
    for path in ("/admin/captions/captionjob/", f"/admin/captions/captionjob/{job.pk}/change/",
                 "/admin/accounts/user/", "/admin/accounts/apikey/"):
        assert billing_client.get(path).status_code == 403, path
    assert billing_client.get("/admin/audit/auditentry/").status_code == 200


def test_support_cannot_change_plans_or_caps_and_leaves_no_row(support_client):
    customer = UserFactory()
    subscription = SubscriptionFactory(user=customer, plan_code="creator")
    override = CostCapOverride.objects.create(user=customer, hourly_cap_micros=1_000_000,
                                              reason="trial")
    assert support_client.get("/admin/billing/subscription/").status_code == 200
    response = support_client.post(
        f"/admin/billing/subscription/{subscription.pk}/change/",
        {"plan_code": "studio", "status": "active"})
    assert response.status_code == 403
    assert support_client.post("/admin/billing/costcapoverride/add/", {
        "user": customer.pk, "hourly_cap_micros": 9, "reason": "x"}).status_code == 403
    assert support_client.post(f"/admin/billing/costcapoverride/{override.pk}/delete/",
                               {"post": "yes"}).status_code == 403
    subscription.refresh_from_db()
    override.refresh_from_db()
    assert (subscription.plan_code, override.hourly_cap_micros) == ("creator", 1_000_000)
    assert not AuditEntry.objects.exists()
    assert support_client.get("/admin/audit/auditentry/").status_code == 200


def test_a_plan_change_from_stripe_leaves_one_row_with_stripe_as_actor(
        client, fake_stripe, django_capture_on_commit_callbacks):
    from billing.models import BillingAccount

    customer = UserFactory()
    stripe_customer = fake_stripe.route("POST", "/v1/customers", {"email": customer.email})[1]
    BillingAccount.objects.create(user=customer, stripe_customer_id=stripe_customer["id"])
    status, session = fake_stripe.route("POST", "/v1/checkout/sessions", {
        "mode": "subscription", "customer": stripe_customer["id"],
        "line_items": [{"price": "price_test_creator", "quantity": "1"}],
        "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no",
    })
    session = fake_stripe.complete_checkout(session["id"])
    sub = fake_stripe.state.subscriptions[session["subscription"]]
    created = fake_stripe.event("customer.subscription.created", sub)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, created).status_code == 200
        upgraded = fake_stripe.subscription_update(sub["id"], price="price_test_studio")
        updated = fake_stripe.event("customer.subscription.updated", upgraded)
        assert post_event(client, updated).status_code == 200
        assert post_event(client, updated).status_code == 200  # a duplicate changes nothing
    rows = list(AuditEntry.objects.filter(action=AuditAction.PLAN_CHANGED).order_by("id"))
    assert [(r.before.get("plan"), r.after["plan"]) for r in rows] == [
        ("", "creator"), ("creator", "studio")]
    assert rows[-1].actor is None and rows[-1].actor_label == "stripe"
    assert rows[-1].after["stripe_event_id"] == updated["id"]
    assert rows[-1].subject_user == customer
    assert Subscription.objects.get().plan_code == "studio"
