"""Plans given by hand, without Stripe: `manage.py grant_plan` and the admin action.

A developer following the README gives their local user a paid plan and uses the
paid features (the API here); it ends on its own, and each grant is audited.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from audit.models import AuditAction, AuditEntry
from billing.models import Subscription
from billing.selectors import plan_for_user
from tests.factories import UserFactory
from tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def grant(*args) -> str:
    out = StringIO()
    call_command("grant_plan", *args, stdout=out)
    return out.getvalue()


def test_granted_studio_plan_opens_the_api_until_the_period_ends(client):
    user = UserFactory(email="dev@example.com")
    api = bearer_client(account_services.api_key_create(
        user=user, name="local", scopes=["read", "write"])[1])
    assert api.get("/api/v1/jobs/").status_code == 403  # Free has no API

    printed = grant("DEV@example.com", "studio", "--days", "10", "--reason", "local testing")

    assert "dev@example.com has the Studio plan until" in printed
    assert api.get("/api/v1/jobs/").status_code == 200
    client.force_login(user)
    page = client.get("/billing/").content.decode()
    assert 'data-testid="plan-name">Studio<' in page
    assert "was given to you until" in page
    eleven_days_on = timezone.now() + timedelta(days=11)
    assert plan_for_user(user=user, now=eleven_days_on).code == "free"


def test_each_grant_leaves_one_audit_row_naming_the_command():
    user = UserFactory()
    grant(user.email, "creator", "--days", "30", "--reason", "partner trial")
    [row] = AuditEntry.objects.filter(action=AuditAction.PLAN_CHANGED, subject_user=user)
    sub = Subscription.objects.get(user=user)
    assert row.actor is None and row.actor_label == "manage.py grant_plan"
    assert row.target_id == str(sub.pk)
    assert row.before == {"plan": "free"}
    assert row.after["plan"] == "creator" and row.after["granted_days"] == 30
    assert row.after["reason"] == "partner trial"
    assert sub.is_grant and sub.cancel_at_period_end and not sub.stripe_customer_id


@pytest.mark.parametrize("args, message", [
    (["gold", "--days", "30"], "Unknown paid plan 'gold'"),
    (["free", "--days", "30"], "Unknown paid plan 'free'"),
    (["creator", "--days", "0"], "Days must be a whole number from 1 to 3660"),
    (["creator", "--days", "9999"], "Days must be a whole number from 1 to 3660"),
])
def test_bad_plan_or_period_is_refused_and_nothing_is_stored(args, message):
    user = UserFactory()
    with pytest.raises(CommandError, match=message):
        grant(user.email, *args)
    assert not Subscription.objects.filter(user=user).exists()
    assert not AuditEntry.objects.filter(subject_user=user).exists()


def test_unknown_email_is_refused():
    with pytest.raises(CommandError, match="No user with the email 'nobody@example.com'"):
        grant("nobody@example.com", "creator")


def test_superuser_gives_a_plan_from_the_users_admin_and_is_named_in_the_audit_row():
    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    customers = [UserFactory(), UserFactory()]
    client = Client()
    client.force_login(admin)
    picked = {"action": "grant_plan", "_selected_action": [c.pk for c in customers]}

    form = client.post("/admin/accounts/user/", picked)
    assert form.status_code == 200
    assert "Give the plan" in form.content.decode()
    assert not Subscription.objects.exists()  # the form first, nothing given yet

    done = client.post("/admin/accounts/user/",
                       {**picked, "apply": "1", "plan": "creator", "days": "7", "reason": ""},
                       follow=True)
    assert done.status_code == 200
    for customer in customers:
        assert plan_for_user(user=customer).code == "creator"
        [row] = AuditEntry.objects.filter(subject_user=customer)
        assert row.actor == admin


def test_staff_who_may_edit_users_but_not_billing_cannot_give_plans():
    member = UserFactory(email="people@example.com", is_staff=True)
    member.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="accounts", codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(member)
    customer = UserFactory()

    listing = client.get("/admin/accounts/user/")
    assert listing.status_code == 200
    assert "grant_plan" not in listing.content.decode()  # the action is not offered
    client.post("/admin/accounts/user/", {"action": "grant_plan", "apply": "1",
                                          "_selected_action": [customer.pk],
                                          "plan": "studio", "days": "30"})
    assert plan_for_user(user=customer).code == "free"
    assert not Subscription.objects.filter(user=customer).exists()
