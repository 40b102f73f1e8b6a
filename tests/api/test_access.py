"""Who may call what: API keys, scopes, and one customer never seeing another's objects."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from captions.models import CaptionJob, DirectUpload
from tests.factories import CaptionJobFactory, CaptionVariantFactory, TranscriptFactory
from tests.helpers import bearer_client, wav_bytes
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


# --- Keys ------------------------------------------------------------------------------------


def test_request_without_credentials_is_401_with_a_bearer_challenge():
    response = APIClient().get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer cg_live_nope", "Bearer", "Bearer a b",
                                    "Bearer " + "x" * 80])
def test_unknown_or_malformed_key_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}


def test_key_is_stored_hashed_with_a_visible_prefix(user, make_key):
    key, secret = make_key(user)
    assert secret.startswith(key.prefix) and key.prefix.startswith("cg_live_")
    assert len(key.prefix) == len("cg_live_") + 8
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in {stored.key_hash, stored.prefix, stored.name}
    assert len(stored.key_hash) == 64


def test_revoked_key_gets_401_and_last_used_is_recorded_before(user, make_key):
    key, secret = make_key(user)
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    from accounts.services import api_key_revoke

    api_key_revoke(key=key)
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["code"] == "revoked_api_key"


def test_expired_key_gets_401(user, make_key):
    key, secret = make_key(user, expires_at=timezone.now() + timedelta(days=1))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer_client(secret).get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["code"] == "expired_api_key"


def test_key_of_a_deactivated_user_gets_401(user, make_key):
    _, secret = make_key(user)
    user.is_active = False
    user.save()
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 401


def test_read_only_key_can_read_but_not_submit_or_change(user, make_key):
    _, secret = make_key(user, scopes=["read"])
    client = bearer_client(secret)
    job = CaptionJobFactory(owner=user)
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    response = client.post("/api/v1/jobs/", {"file": SimpleUploadedFile("a.wav", wav_bytes())},
                           format="multipart")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert "read-only" in response.json()["message"]
    assert client.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 403
    assert client.delete(f"/api/v1/jobs/{job.pk}/").status_code == 403
    assert client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/"},
                       format="json").status_code == 403
    assert not CaptionJob.objects.exclude(pk=job.pk).exists()
    job.refresh_from_db()
    assert job.status == "queued"


def test_write_only_key_cannot_read(user, make_key):
    _, secret = make_key(user, scopes=["write"])
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 403


def test_session_calls_need_a_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/jobs/").status_code == 200
    response = client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


# --- Tenant isolation ------------------------------------------------------------------------


@pytest.fixture
def b_objects(other_user):
    """User B's job with results, a failed job, a webhook endpoint with a delivery, an upload."""
    done = TranscriptFactory(job__owner=other_user).job
    CaptionVariantFactory(job=done)
    failed = CaptionJobFactory(owner=other_user, status="failed")
    queued = CaptionJobFactory(owner=other_user)
    endpoint = WebhookEndpoint.objects.create(owner=other_user, url="http://127.0.0.1:9/",
                                              events=["job.completed"], secret="whsec_b")
    WebhookDelivery.objects.create(endpoint=endpoint, event_type="job.completed", payload={})
    upload = DirectUpload.objects.create(owner=other_user, key="uploads/b/x",
                                         expires_at=timezone.now() + timedelta(minutes=5))
    return {"done": done, "failed": failed, "queued": queued, "endpoint": endpoint,
            "upload": upload}


def _requests(b):
    done, failed, queued, endpoint = b["done"], b["failed"], b["queued"], b["endpoint"]
    yield "get", f"/api/v1/jobs/{done.pk}/", None
    yield "delete", f"/api/v1/jobs/{done.pk}/", None
    yield "delete", f"/api/v1/jobs/{queued.pk}/", None
    yield "post", f"/api/v1/jobs/{queued.pk}/cancel/", None
    yield "post", f"/api/v1/jobs/{failed.pk}/retry/", None
    yield "get", f"/api/v1/jobs/{done.pk}/captions/", None
    for fmt in ("txt", "srt", "vtt", "json", "tsv"):
        yield "get", f"/api/v1/jobs/{done.pk}/transcript.{fmt}", None
    yield "post", "/api/v1/jobs/from-upload/", {"upload_id": str(b["upload"].pk)}
    yield "get", f"/api/v1/webhooks/{endpoint.pk}/", None
    yield "delete", f"/api/v1/webhooks/{endpoint.pk}/", None
    yield "post", f"/api/v1/webhooks/{endpoint.pk}/ping/", None
    yield "get", f"/api/v1/webhooks/{endpoint.pk}/deliveries/", None


def test_a_key_on_b_objects_gets_the_same_404_as_a_missing_id_for_every_verb(
    api, b_objects
):
    missing = uuid.uuid4()
    for method, path, data in _requests(b_objects):
        response = getattr(api, method)(path, data, format="json")
        assert response.status_code == 404, (method, path, response.content)
        # Indistinguishable from an id that does not exist: no hint that it does.
        for obj in b_objects.values():
            path = path.replace(str(obj.pk), str(missing))
        if data:
            data = {"upload_id": str(missing)}
        twin = getattr(api, method)(path, data, format="json")
        assert twin.status_code == 404 and twin.json() == response.json(), path

    for key in ("done", "failed", "queued"):
        job = b_objects[key]
        assert CaptionJob.objects.get(pk=job.pk).status == job.status
    assert WebhookEndpoint.objects.filter(pk=b_objects["endpoint"].pk).exists()
    assert WebhookDelivery.objects.filter(endpoint=b_objects["endpoint"]).count() == 1
    assert DirectUpload.objects.get(pk=b_objects["upload"].pk).used_at is None


def test_a_session_on_b_objects_gets_404(client, user, b_objects):
    client.force_login(user)
    assert client.get(f"/api/v1/jobs/{b_objects['done'].pk}/").status_code == 404
    assert client.get(f"/api/v1/jobs/{b_objects['done'].pk}/transcript.txt").status_code == 404


def test_lists_and_filters_never_show_b_objects(api, user, b_objects):
    mine = CaptionJobFactory(owner=user, status="done")
    b_ids = {str(o.pk) for o in b_objects.values()}
    queries = [{}, {"status": "done"}, {"status": "failed"}, {"status": "queued"},
               {"created_after": (timezone.now() - timedelta(days=1)).isoformat()},
               {"page_size": 100}]
    for query in queries:
        ids = {j["id"] for j in api.get("/api/v1/jobs/", query).json()["results"]}
        assert not ids & b_ids, query
    assert {j["id"] for j in api.get("/api/v1/jobs/").json()["results"]} == {str(mine.pk)}
    assert api.get("/api/v1/webhooks/").json() == []
    usage = api.get("/api/v1/usage/").json()
    assert usage["jobs_submitted"] == 1 and usage["audio_seconds"] == 0
