"""The outbox: a broker that fails when a task is sent loses nothing.

For each kind of row behind the outbox (a job, an overage report, a webhook delivery)
the broker refuses the message at commit time; the customer's action still succeeds and
the row stays pending. Once the broker is back, the one sweep sends it again and the
work is done, once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from billing import services as billing_services
from billing.models import OverageReport, OverageReportStatus
from billing.plans import STUDIO
from captions import services as caption_services
from captions.models import CaptionJob, JobStatus
from config.outbox import outbox_sweep
from tests.billing.conftest import fake_stripe, subscribe  # noqa: F401 - fixture
from tests.factories import SubscriptionFactory
from tests.helpers import png_bytes
from tests.webhooks.conftest import receiver  # noqa: F401 - fixture
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus, OutboundEventType, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


class Broker:
    """The broker as the tasks see it: refuses every message while it is down."""

    def __init__(self, monkeypatch):
        self.down = True
        # When set: how many more messages go through before the broker fails.
        self.fails_after: int | None = None
        self.refused: list[str] = []
        # Tasks sent while the broker is up run at once, in this process, as a worker would.
        monkeypatch.setitem(current_app.conf, "task_always_eager", True)
        for name in ("workers.tasks.caption_job_process", "billing.tasks.overage_report_send",
                     "workers.tasks.webhook_delivery_send"):
            current_app.loader.import_default_modules()
            task = current_app.tasks[name]
            monkeypatch.setattr(task, "apply_async", self._wrap(name, task.apply_async))

    def _wrap(self, name, apply_async):
        def send(*args, **kwargs):
            if self.fails_after is not None:
                self.down, self.fails_after = self.fails_after <= 0, self.fails_after - 1
            if self.down:
                self.refused.append(name)
                raise OperationalError("Error 111 connecting to 127.0.0.1:6379. "
                                       "Connection refused.")
            return apply_async(*args, **kwargs)

        return send


def sweep_later(minutes: int = 11) -> dict:
    return outbox_sweep(now=timezone.now() + timedelta(minutes=minutes))


def test_job_submitted_while_the_broker_is_down_runs_once_it_is_back(user, monkeypatch):
    broker = Broker(monkeypatch)
    upload = SimpleUploadedFile("poster.png", png_bytes())
    job = caption_services.caption_job_submit(owner=user, upload=upload,
                                              options={"variant_count": 1})
    assert broker.refused == ["workers.tasks.caption_job_process"]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    assert outbox_sweep()["caption_job"] == 0, "not left pending long enough yet"
    broker.down = False
    assert sweep_later()["caption_job"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.captions.count() == 1
    assert sweep_later(minutes=30)["caption_job"] == 0, "a finished job is never sent again"


def test_overage_report_made_while_the_broker_is_down_reaches_stripe_once_it_is_back(
    user_client, user, fake_stripe, monkeypatch  # noqa: F811 - fixture
):
    subscribe(user_client, fake_stripe, "studio")
    broker = Broker(monkeypatch)
    billing_services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                      audio_seconds=STUDIO.included_audio_seconds + 30)
    assert broker.refused == ["billing.tasks.overage_report_send"]
    assert OverageReport.objects.get().status == OverageReportStatus.PENDING

    broker.down = False
    assert sweep_later()["overage_report"] == 1
    report = OverageReport.objects.get()
    assert report.status == OverageReportStatus.SENT
    meter_events = fake_stripe.requests_to("POST", "/v1/billing/meter_events")
    assert len(meter_events) == 1
    assert sweep_later(minutes=30)["overage_report"] == 0


def subscribe_endpoint(user, receiver):  # noqa: F811 - fixture
    SubscriptionFactory(user=user, plan_code="studio")
    webhook_services.webhook_endpoint_create(owner=user, url=receiver.url,
                                             events=[OutboundEventType.JOB_COMPLETED])


def publish_job_completed(user):
    with transaction.atomic():
        webhook_services.webhook_event_publish(owner=user, event_type="job.completed",
                                               data={"job": {"id": "example"}})


def test_webhook_delivery_made_while_the_broker_is_down_is_delivered_once_it_is_back(
    user, receiver, monkeypatch  # noqa: F811 - fixture
):
    subscribe_endpoint(user, receiver)
    broker = Broker(monkeypatch)
    publish_job_completed(user)
    assert broker.refused == ["workers.tasks.webhook_delivery_send"]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING

    broker.down = False
    assert sweep_later()["webhook_delivery"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1
    assert sweep_later(minutes=30)["webhook_delivery"] == 0


def test_a_failed_webhook_attempt_whose_retry_the_broker_refused_is_retried_by_the_sweep(
    user, receiver, monkeypatch  # noqa: F811 - fixture
):
    subscribe_endpoint(user, receiver)
    receiver.statuses = [503, 200]
    broker = Broker(monkeypatch)
    broker.fails_after = 1
    # The first attempt runs (eagerly) and fails; its retry is sent while the broker is down.
    publish_job_completed(user)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempt_count == 1
    assert broker.refused == ["workers.tasks.webhook_delivery_send"]

    broker.fails_after, broker.down = None, False
    assert sweep_later(minutes=45)["webhook_delivery"] == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 2
    assert len(receiver.requests) == 2


def test_a_job_that_was_never_pending_long_is_left_to_its_task(user, monkeypatch):
    Broker(monkeypatch).down = False
    caption_services.caption_job_submit(owner=user, upload=SimpleUploadedFile(
        "poster.png", png_bytes()), options={"variant_count": 1})
    job = CaptionJob.objects.get(owner=user)
    assert job.status == JobStatus.DONE
    assert sweep_later()["caption_job"] == 0
