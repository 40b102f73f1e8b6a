"""Each change that matters leaves exactly one audit row, written with the change."""

import pytest
from django.db import transaction

from accounts.models import ApiKey
from audit.models import AuditAction, AuditEntry
from audit.services import AuditOutsideTransaction, audit_record
from captions.models import CaptionJob, JobStatus
from tests.factories import CaptionJobFactory, UserFactory
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def rows(action):
    return list(AuditEntry.objects.filter(action=action))


def test_an_api_key_created_and_revoked_on_the_settings_page_leaves_one_row_each(
        user_client, user, api_plan):
    response = user_client.post("/settings/api-keys/", {"name": "ci", "scopes": ["read"]},
                                HTTP_X_REQUEST_ID="req-key-1")
    assert response.status_code == 200
    key = ApiKey.objects.get(user=user)
    [created] = rows(AuditAction.API_KEY_CREATED)
    assert (created.actor, created.subject_user, created.target_id) == (user, user, str(key.pk))
    assert created.after["prefix"] == key.prefix and created.before == {}
    assert created.request_id == "req-key-1"
    assert "key_hash" not in created.after

    user_client.post(f"/settings/api-keys/{key.pk}/revoke/")
    user_client.post(f"/settings/api-keys/{key.pk}/revoke/")  # a second revoke changes nothing
    [revoked] = rows(AuditAction.API_KEY_REVOKED)
    assert revoked.before["revoked_at"] is None and revoked.after["revoked_at"]
    assert revoked.actor == user


def test_staff_revoking_a_key_in_the_admin_is_the_actor(admin_client, admin_user):
    customer = UserFactory()
    from accounts import services as account_services

    key, _ = account_services.api_key_create(user=customer, name="app", scopes=["read"])
    response = admin_client.post("/admin/accounts/apikey/", {
        "action": "revoke_keys", "_selected_action": [str(key.pk)]})
    assert response.status_code == 302
    [revoked] = rows(AuditAction.API_KEY_REVOKED)
    assert (revoked.actor, revoked.subject_user) == (admin_user, customer)
    assert revoked.actor_label == admin_user.email


def test_a_webhook_endpoint_created_and_deleted_leaves_one_row_each(api, user):
    created = api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["id"]
    [row] = rows(AuditAction.WEBHOOK_ENDPOINT_CREATED)
    assert row.after["url"] == "http://127.0.0.1:9/hook" and row.subject_user == user
    assert "secret" not in row.after
    assert api.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 204
    [deleted] = rows(AuditAction.WEBHOOK_ENDPOINT_DELETED)
    assert deleted.before["url"] == "http://127.0.0.1:9/hook"
    assert deleted.target_id == str(endpoint_id)
    assert not WebhookEndpoint.objects.exists()


def test_a_refused_endpoint_leaves_no_row(api, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    assert api.post("/api/v1/webhooks/", {"url": "http://10.0.0.1/"},
                    format="json").status_code == 400
    assert not rows(AuditAction.WEBHOOK_ENDPOINT_CREATED)


def test_staff_retry_cancel_and_delete_of_a_job_leave_one_row_each(
        admin_client, admin_user, django_capture_on_commit_callbacks):
    failed = CaptionJobFactory(status=JobStatus.FAILED)
    queued = CaptionJobFactory()
    doomed = CaptionJobFactory()
    with django_capture_on_commit_callbacks(execute=False):
        for action, job in (("retry_jobs", failed), ("cancel_jobs", queued)):
            admin_client.post("/admin/captions/captionjob/", {
                "action": action, "_selected_action": [str(job.pk)]})
        response = admin_client.post(f"/admin/captions/captionjob/{doomed.pk}/delete/",
                                     {"post": "yes"})
    assert response.status_code == 302
    [retried] = rows(AuditAction.JOB_RETRIED)
    assert (retried.before, retried.after) == ({"status": "failed"}, {"status": "queued"})
    assert retried.subject_user == failed.owner and retried.actor == admin_user
    [cancelled] = rows(AuditAction.JOB_CANCELLED)
    assert cancelled.target_id == str(queued.pk)
    [deleted] = rows(AuditAction.JOB_DELETED)
    assert (deleted.target_id, deleted.before) == (str(doomed.pk), {"status": "queued"})
    assert not CaptionJob.objects.filter(pk=doomed.pk).exists()
    assert AuditEntry.objects.count() == 3


def test_a_customer_cancelling_or_deleting_their_own_job_is_not_a_staff_action(
        user_client, user):
    job = CaptionJobFactory(owner=user)
    from captions import services

    services.caption_job_cancel(job=job, actor=user)
    services.caption_job_delete(job=job, actor=user)
    assert not AuditEntry.objects.exists()


def test_an_audit_row_outside_a_transaction_is_refused(user):
    # The suite's test transaction is open here; leave it to show the guard.
    connection_atomic = transaction.get_connection().in_atomic_block
    assert connection_atomic
    transaction.get_connection().in_atomic_block = False
    try:
        with pytest.raises(AuditOutsideTransaction):
            audit_record(action=AuditAction.JOB_RETRIED, target=user)
    finally:
        transaction.get_connection().in_atomic_block = True


def test_the_audit_trail_is_read_only_in_the_admin_even_for_superusers(admin_client, user):
    with transaction.atomic():
        entry = audit_record(action=AuditAction.COST_CAP_SET, target=user, actor=None)
    assert admin_client.get("/admin/audit/auditentry/").status_code == 200
    assert admin_client.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditentry/{entry.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert entry.actor_label == "system"
