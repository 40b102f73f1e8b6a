"""Support staff retry and cancel jobs in the admin, see billing, and change no money."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group

from accounts.permissions import SUPPORT_GROUP
from billing.models import CostCapOverride
from captions.models import JobStatus
from tests.factories import CaptionJobFactory, UserFactory

pytestmark = pytest.mark.django_db


GRANTS = ["billing.migrations.0002_support_group_can_view_billing",
          "billing.migrations.0004_support_group_cost_ledger",
          "captions.migrations.0005_support_group_jobs"]


@pytest.fixture
def support_client(client):
    # A transactional test elsewhere may have flushed the group's rows: grant again with
    # the migrations' own functions, which is also what a fresh database runs.
    for module in GRANTS:
        importlib.import_module(module).__dict__[
            "grant_view" if "0002" in module else "grant"](django_apps, None)
    agent = UserFactory(email="support@example.com", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    client.force_login(agent)
    client.agent = agent
    return client


def test_support_retries_a_failed_job_and_the_action_is_audited(support_client,
                                                                 django_capture_on_commit_callbacks):
    job = CaptionJobFactory(status=JobStatus.FAILED, error_message="boom")
    assert support_client.get("/admin/captions/captionjob/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = support_client.post("/admin/captions/captionjob/", {
            "action": "retry_jobs", "_selected_action": [str(job.pk)]})
    assert response.status_code == 302
    assert len(queued) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.events.last().actor == support_client.agent
    entry = LogEntry.objects.get(object_id=str(job.pk))
    assert (entry.user, entry.action_flag) == (support_client.agent, CHANGE)
    assert "Retried" in entry.get_change_message()


def test_support_cancels_a_queued_job(support_client):
    job = CaptionJobFactory()
    support_client.post("/admin/captions/captionjob/", {
        "action": "cancel_jobs", "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert LogEntry.objects.filter(object_id=str(job.pk), user=support_client.agent).exists()


def test_support_sees_billing_and_the_ledger_but_cannot_change_caps(support_client):
    customer = UserFactory()
    override = CostCapOverride.objects.create(user=customer, hourly_cap_micros=1_000_000)
    for path in ("/admin/billing/subscription/", "/admin/billing/costwindow/",
                 "/admin/billing/costcapoverride/"):
        assert support_client.get(path).status_code == 200, path
    assert support_client.get("/admin/billing/costcapoverride/add/").status_code == 403
    response = support_client.post(
        f"/admin/billing/costcapoverride/{override.pk}/change/",
        {"user": customer.pk, "hourly_cap_micros": 99_000_000, "reason": "x"},
    )
    assert response.status_code == 403
    override.refresh_from_db()
    assert override.hourly_cap_micros == 1_000_000


def test_support_cannot_edit_users(support_client):
    customer = UserFactory()
    assert support_client.get(f"/admin/accounts/user/{customer.pk}/change/").status_code == 403
