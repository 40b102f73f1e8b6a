"""A delivery to an address the SSRF check refuses fails at once, and says why everywhere.

A host name that now resolves to a private or loopback address will not become public by
waiting, so its events are not retried for a day; a host name that does not resolve at
all may come back (DNS outages end), so that one is still retried.
"""

from __future__ import annotations

import time

import pytest

from captions import services as caption_services
from tests.factories import CaptionJobFactory
from tests.helpers import bearer_client
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

REFUSED_URL = "http://10.0.0.7/hooks/captions"  # a private address: refused in every setting


def wait_for_finished_delivery(endpoint, timeout=30) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
        if delivery and delivery.status != DeliveryStatus.PENDING:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"still pending: {list(WebhookDelivery.objects.values())}")


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_whose_host_now_resolves_to_loopback_fails_at_once_and_is_never_called(
    receiver, celery_worker_thread, settings
):
    job = CaptionJobFactory(status="processing")
    endpoint = WebhookEndpoint.objects.create(owner=job.owner, url=receiver.url,
                                              events=["job.failed"], secret="whsec_test")
    # Outside the test settings loopback is refused: as if the customer's host name had
    # been re-pointed at 127.0.0.1 after the endpoint was registered.
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    caption_services.caption_job_fail(job_id=job.pk, code="no_audio", detail="No sound.")

    delivery = wait_for_finished_delivery(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.finished_at is not None and delivery.next_attempt_at is None
    [attempt] = delivery.attempts.all()
    assert attempt.error.startswith("Refused:")
    assert "a loopback address" in attempt.error and "Not retried" in attempt.error
    assert attempt.response_status is None
    # Well past the first retry's delay (0.2 s in the test settings): nothing more is tried.
    time.sleep(1.5)
    delivery.refresh_from_db()
    assert delivery.attempt_count == 1 and delivery.attempts.count() == 1
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_refusal_is_shown_in_the_delivery_log_on_the_page_and_in_the_api(
    user, user_client, make_key, api_plan
):
    endpoint = WebhookEndpoint.objects.create(owner=user, url=REFUSED_URL,
                                              events=["job.failed"], secret="whsec_test")
    [delivery] = services.webhook_event_publish(owner=user, event_type="job.failed",
                                                data={"job": {"id": "j1"}})
    # The delivery task's one attempt: it schedules no next one.
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 1)
    reason = delivery.attempts.get().error
    assert "'10.0.0.7' resolves to 10.0.0.7, a private address" in reason

    page = user_client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "Failed" in page
    assert "a private address; webhooks go to the public internet only." in page
    assert "next attempt" not in page

    api = bearer_client(make_key(user)[1])
    [logged] = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert logged["status"] == "failed" and logged["attempt_count"] == 1
    assert logged["next_attempt_at"] is None and logged["finished_at"] is not None
    assert logged["attempts"][0]["error"] == reason
    assert logged["attempts"][0]["succeeded"] is False


@pytest.mark.django_db
def test_a_metadata_address_fails_at_once_even_where_loopback_is_allowed(user, settings):
    assert settings.WEBHOOKS_ALLOW_LOOPBACK
    endpoint = WebhookEndpoint.objects.create(owner=user, url="http://169.254.169.254/latest/",
                                              events=["job.failed"], secret="whsec_test")
    [delivery] = services.webhook_event_publish(owner=user, event_type="job.failed", data={})
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "a cloud metadata address" in delivery.attempts.get().error
    assert endpoint.deliveries.get().attempt_count == 1


@pytest.mark.django_db
def test_a_host_name_that_does_not_resolve_is_retried_because_dns_can_come_back(user):
    endpoint = WebhookEndpoint.objects.create(owner=user, url="http://no-such-host.invalid/h",
                                              events=["job.failed"], secret="whsec_test")
    [delivery] = services.webhook_event_publish(owner=user, event_type="job.failed", data={})
    delay = services.webhook_delivery_attempt(delivery_id=delivery.pk)
    assert delay is not None and delay > 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    attempt = delivery.attempts.get()
    assert attempt.error == "The host name 'no-such-host.invalid' does not resolve."
    assert endpoint.deliveries.count() == 1
