"""Billing in the admin: support staff can look, nobody edits Stripe's truth by hand."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission

from accounts.permissions import SUPPORT_GROUP, group_permissions_grant
from billing import services
from billing.models import StripeEvent, StripeEventStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_client(client):
    # The migration's own function: the group may have been flushed by a transactional test.
    migration = importlib.import_module("billing.migrations.0002_support_group_can_view_billing")
    migration.grant_view(apps, None)
    # 0002 granted view_webhookevent and 0005 renamed it in place to view_stripeevent. After
    # a flush only the new name exists, so grant it as a migrated database holds it.
    group_permissions_grant(apps, group=SUPPORT_GROUP, app_label="billing",
                            codenames=["view_stripeevent"])
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    client.force_login(staff)
    client.staff = staff
    return client


@pytest.fixture
def failed_event(fake_stripe):
    event = fake_stripe.event("customer.subscription.created", {
        "id": "sub_nobody", "object": "subscription", "customer": "cus_nobody",
        "status": "active", "created": 1_700_000_000,
        "items": {"data": [{"price": {"id": "price_test_creator"}}]}})
    stored = services.stripe_event_store(event=event)
    stored = services.stripe_event_process(event_pk=stored.pk)
    assert stored.status == StripeEventStatus.FAILED
    return stored


def test_support_staff_see_webhook_events_and_cannot_change_them(support_client,
                                                                 failed_event):
    listing = support_client.get("/admin/billing/stripeevent/")
    assert listing.status_code == 200
    assert failed_event.stripe_event_id in listing.content.decode()
    detail = support_client.get(f"/admin/billing/stripeevent/{failed_event.pk}/change/")
    assert detail.status_code == 200
    assert "cus_nobody" in detail.content.decode()
    response = support_client.post(f"/admin/billing/stripeevent/{failed_event.pk}/change/",
                                   {"status": "processed"})
    assert response.status_code == 403
    for model in ("subscription", "billingaccount", "usagerecord", "overagereport"):
        assert support_client.get(f"/admin/billing/{model}/").status_code == 200, model
        assert support_client.get(f"/admin/billing/{model}/add/").status_code == 403, model
    failed_event.refresh_from_db()
    assert failed_event.status == StripeEventStatus.FAILED


def test_reprocessing_failed_events_needs_its_own_permission_and_is_audited(
    support_client, failed_event
):
    action = {"action": "reprocess_events", "_selected_action": [failed_event.pk]}
    support_client.post("/admin/billing/stripeevent/", action)
    failed_event.refresh_from_db()
    assert failed_event.attempts == 1, "support without the permission cannot reprocess"

    support_client.staff.user_permissions.add(
        Permission.objects.get(codename="reprocess_stripeevent"))
    response = support_client.post("/admin/billing/stripeevent/", action, follow=True)
    assert response.status_code == 200
    failed_event.refresh_from_db()
    assert failed_event.attempts == 2
    assert failed_event.status == StripeEventStatus.FAILED, "the customer is still unknown"
    entry = LogEntry.objects.get(object_id=str(failed_event.pk))
    assert entry.user == support_client.staff


def test_subscription_list_shows_the_plan_catalogue(admin_client, settings):
    settings.STRIPE_PRICE_CREATOR = "price_live_creator"
    html = admin_client.get("/admin/billing/subscription/").content.decode()
    for text in ("Plan catalogue", "Free", "Creator", "Studio", "price_live_creator", "$49"):
        assert text in html, text


def test_subscriptions_cannot_be_edited_even_by_a_superuser(admin_client):
    assert admin_client.get("/admin/billing/subscription/add/").status_code == 403
    assert StripeEvent.objects.count() == 0
