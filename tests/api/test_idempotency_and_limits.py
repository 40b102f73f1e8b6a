"""Idempotent POSTs, throttling with Retry-After, and one error shape everywhere."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import IdempotencyRecord
from captions.models import CaptionJob
from tests.helpers import bearer_client, wav_bytes
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def post_job(api, key, content, **options):
    data = {"file": SimpleUploadedFile("a.wav", content), **options}
    return api.post("/api/v1/jobs/", data, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_same_upload_twice_makes_one_job_and_replays_the_response(api):
    audio = wav_bytes()
    first = post_job(api, "order-42", audio, tone="funny")
    second = post_job(api, "order-42", audio, tone="funny")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert CaptionJob.objects.count() == 1


def test_same_key_with_a_different_body_is_422_and_changes_nothing(api):
    post_job(api, "order-43", wav_bytes(), tone="funny")
    response = post_job(api, "order-43", wav_bytes(), tone="casual")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    response = post_job(api, "order-43", wav_bytes(0.25), tone="funny")
    assert response.status_code == 422
    assert CaptionJob.objects.count() == 1


def test_keys_are_per_customer(api, other_api):
    assert post_job(api, "shared-key", wav_bytes()).status_code == 201
    assert post_job(other_api, "shared-key", wav_bytes()).status_code == 201
    assert CaptionJob.objects.count() == 2


def test_a_refused_request_is_replayed_too(api):
    php = b"<?php echo 1; ?>"
    first = post_job(api, "bad-1", php)
    assert first.status_code == 415
    again = post_job(api, "bad-1", php)
    assert again.status_code == 415 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_json_post_with_a_key_replays_and_a_different_path_is_422(api):
    body = {"url": "http://127.0.0.1:9/hook", "description": "ci"}
    first = api.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="wh-1")
    again = api.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="wh-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert WebhookEndpoint.objects.count() == 1
    other = api.post("/api/v1/uploads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="wh-1")
    assert other.status_code == 422


def test_a_key_still_in_flight_is_409_with_retry_after(api, user):
    IdempotencyRecord.objects.create(user=user, key="busy", request_hash="x")
    response = api.post("/api/v1/uploads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code in (409, 422)
    record = IdempotencyRecord.objects.get(user=user, key="busy")
    from accounts.services import idempotency_request_hash

    record.request_hash = idempotency_request_hash(method="POST", path="/api/v1/uploads/",
                                                   fields={}, files={})
    record.save()
    response = api.post("/api/v1/uploads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "idempotency_key_in_use"


def test_a_key_whose_first_request_died_can_be_retried_after_a_while(api, user):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import idempotency_request_hash

    IdempotencyRecord.objects.create(
        user=user, key="orphan",
        request_hash=idempotency_request_hash(method="POST", path="/api/v1/uploads/",
                                              fields={}, files={}),
    )
    IdempotencyRecord.objects.filter(key="orphan").update(
        created_at=timezone.now() - timedelta(minutes=6)
    )
    response = api.post("/api/v1/uploads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="orphan")
    assert response.status_code == 201
    assert IdempotencyRecord.objects.get(key="orphan").status_code == 201


def test_too_many_requests_for_one_key_get_429_with_retry_after(settings, user, make_key):
    settings.API_THROTTLE_READ_RATE = "3/min"
    client = bearer_client(make_key(user)[1])
    other = bearer_client(make_key(user)[1])
    statuses = [client.get("/api/v1/usage/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/usage/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled" and body["details"]["retry_after"] >= 1
    # The limit is per key: another key of the same customer still gets through.
    assert other.get("/api/v1/usage/").status_code == 200


def test_throttle_counts_live_in_redis(settings, user, make_key):
    import redis

    settings.API_THROTTLE_WRITE_RATE = "1/min"
    key, secret = make_key(user)
    client = bearer_client(secret)
    client.post("/api/v1/uploads/", {}, format="json")
    assert client.post("/api/v1/uploads/", {}, format="json").status_code == 429
    server = redis.Redis.from_url(settings.REDIS_URL)
    keys = server.keys(f"*throttle:api_write:key-{key.pk}")
    assert keys
    # Each window's counter expires (it is kept one window longer, as the previous one).
    assert all(0 < server.ttl(k) <= 121 for k in keys)


def test_unknown_api_path_and_wrong_method_answer_in_the_error_shape(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}
    response = api.put("/api/v1/jobs/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/webhooks/", b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_too_many_multipart_parts_is_400(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    fields = {f"f{i}": "x" for i in range(101)}
    response = api.post("/api/v1/jobs/", {**fields, "file": SimpleUploadedFile("a.wav",
                                                                                 wav_bytes())},
                        format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_parts"
    assert not CaptionJob.objects.exists()


def test_docs_and_schema_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/jobs/{job_id}/transcript.{export_format}" in schema.content
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/redoc/").status_code == 200


def test_a_throttle_whose_counter_the_cache_loses_lets_the_request_through(
        settings, user, make_key, monkeypatch):
    """The cache grants add() while Redis does not answer (config/cache.py) but keeps
    nothing: the throttle must not turn that into a 500. That is the cache-API path (any
    cache but django-redis; on Redis one pipeline counts, and a Redis that does not answer
    raises there: tests/faults/test_redis_outage.py)."""
    from django.core.cache import cache

    import api.throttles

    class NotThisCache:
        pass

    monkeypatch.setattr(api.throttles, "RedisCache", NotThisCache)
    settings.API_THROTTLE_READ_RATE = "3/min"
    client = bearer_client(make_key(user)[1])

    def incr(*args, **kwargs):
        raise ValueError("Key not found")

    monkeypatch.setattr(cache, "incr", incr)
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: False)
    assert [client.get("/api/v1/usage/").status_code for _ in range(4)] == [200] * 4


def test_the_cache_api_path_counts_like_the_redis_one(settings, user, make_key, monkeypatch):
    """The README's local default keeps the cache in memory: the same limit holds there."""
    import api.throttles

    class NotThisCache:
        pass

    monkeypatch.setattr(api.throttles, "RedisCache", NotThisCache)
    settings.API_THROTTLE_READ_RATE = "3/min"
    client = bearer_client(make_key(user)[1])
    assert [client.get("/api/v1/usage/").status_code for _ in range(4)] == [200] * 3 + [429]


def test_a_burst_across_a_window_boundary_is_not_let_through_at_twice_the_rate(
    settings, user, make_key, monkeypatch
):
    import api.throttles

    settings.API_THROTTLE_READ_RATE = "3/min"
    client = bearer_client(make_key(user)[1])
    clock = {"now": 120 * 60 - 1.0}  # one second before a minute's window ends
    monkeypatch.setattr(api.throttles.time, "time", lambda: clock["now"])
    assert [client.get("/api/v1/usage/").status_code for _ in range(3)] == [200] * 3
    clock["now"] += 2.0  # the next window has begun; the last minute saw three already
    assert client.get("/api/v1/usage/").status_code == 429
    clock["now"] += 60.0  # a minute later the earlier requests have slid out
    assert client.get("/api/v1/usage/").status_code == 200
