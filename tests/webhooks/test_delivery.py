"""Signed job events reach a real local receiver through a real Celery worker, with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from captions import services as caption_services
from captions.failures import FAILURES
from captions.models import CaptionJob
from tests.factories import CaptionJobFactory, SubscriptionFactory, UserFactory
from tests.helpers import bearer_client, png_bytes
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def verify(request: dict, secret: str, tolerance: int = 300) -> dict:
    """What a customer's receiver does with the documented signature header."""
    header = request["headers"]["Caption-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) < tolerance
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "signature does not match"
    return json.loads(request["body"])


def wait_for_delivery(delivery_filter, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.filter(**delivery_filter).first()
        if delivery and delivery.status == status:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"no {status} delivery; have {list(WebhookDelivery.objects.values())}")


def test_submitted_job_delivers_a_correctly_signed_job_completed(receiver, celery_worker_thread):
    from accounts.services import api_key_create

    user = UserFactory()
    SubscriptionFactory(user=user, plan_code="studio")  # the plan with API and webhooks
    api = bearer_client(api_key_create(user=user, name="ci", scopes=["read", "write"])[1])
    created = api.post("/api/v1/webhooks/", {"url": receiver.url, "events": ["job.completed"]},
                       format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in api.get("/api/v1/webhooks/").json()[0]

    response = api.post("/api/v1/jobs/", {"file": SimpleUploadedFile("cat.png", png_bytes())},
                        format="multipart")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]

    [request] = receiver.wait_for(1)
    event = verify(request, secret)
    assert event["type"] == "job.completed"
    assert event["data"]["job"]["id"] == job_id
    assert event["data"]["job"]["status"] == "done"
    assert event["data"]["job"]["links"]["captions"].endswith(f"/api/v1/jobs/{job_id}/captions/")
    assert request["path"] == "/hooks/captions?source=test"
    assert request["headers"]["Caption-Event"] == "job.completed"
    assert request["headers"]["Content-Type"] == "application/json"
    assert CaptionJob.objects.get(pk=job_id).status == "done"

    endpoint_id = created.json()["id"]
    delivery = wait_for_delivery({"endpoint_id": endpoint_id}, "succeeded")
    log = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/").json()["results"]
    assert [d["id"] for d in log] == [str(delivery.pk)]
    assert log[0]["event_id"] == event["id"]
    assert log[0]["status"] == "succeeded" and log[0]["attempt_count"] == 1
    assert log[0]["attempts"][0]["response_status"] == 200
    assert log[0]["attempts"][0]["succeeded"] is True


def test_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    receiver, celery_worker_thread
):
    receiver.statuses = [500, 503, 200]
    job = CaptionJobFactory(status="processing")
    endpoint = WebhookEndpoint.objects.create(owner=job.owner, url=receiver.url,
                                              events=["job.failed"], secret="whsec_test")
    with transaction.atomic():
        caption_services.caption_job_fail(job_id=job.pk, code="no_audio",
                                          detail="ffprobe: no audio stream in upload.bin")

    requests = receiver.wait_for(3)
    events = [verify(r, "whsec_test") for r in requests]
    assert {e["id"] for e in events} == {events[0]["id"]}  # one event, three attempts
    assert events[0]["type"] == "job.failed"
    assert events[0]["data"]["job"]["error"] == {"code": "no_audio",
                                                 "message": FAILURES["no_audio"].message}
    delivery = wait_for_delivery({"endpoint": endpoint}, "succeeded")
    attempts = list(delivery.attempts.values_list("number", "response_status", "succeeded"))
    assert attempts == [(1, 500, False), (2, 503, False), (3, 200, True)]
    # Backoff: the second wait is longer than the first (0.2 s, then 0.4 s in test settings).
    gap1 = requests[1]["at"] - requests[0]["at"]
    gap2 = requests[2]["at"] - requests[1]["at"]
    assert gap1 >= 0.2 and gap2 >= 0.4
    time.sleep(0.5)
    assert len(receiver.requests) == 3


def test_receiver_that_never_recovers_is_given_up_after_the_attempt_limit(
    receiver, celery_worker_thread, settings
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    receiver.statuses = [500]
    job = CaptionJobFactory(status="processing")
    endpoint = WebhookEndpoint.objects.create(owner=job.owner, url=receiver.url,
                                              events=["job.failed"], secret="whsec_test")
    caption_services.caption_job_fail(job_id=job.pk, code="x", detail="Broken.")
    delivery = wait_for_delivery({"endpoint": endpoint}, "failed")
    assert delivery.attempt_count == 3
    assert delivery.attempts.filter(succeeded=False).count() == 3
    assert "HTTP 500" in delivery.attempts.last().error
    time.sleep(1.5)
    assert len(receiver.requests) == 3


def test_a_job_without_subscribed_endpoints_sends_nothing(receiver):
    job = CaptionJobFactory(status="processing")
    WebhookEndpoint.objects.create(owner=job.owner, url=receiver.url, events=["job.failed"],
                                   secret="whsec_test")
    caption_services.caption_job_cancel(job=job, actor=job.owner)
    assert not WebhookDelivery.objects.exists()
