"""Jobs whose task was lost (broker down at submission, worker killed) are sent again."""

import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from kombu.exceptions import OperationalError

from captions import services
from captions.models import CaptionJob, JobStatus
from captions.tasks import caption_job_process
from config.errors import ApplicationError
from config.outbox import outbox_sweep
from tests.factories import CaptionJobFactory, UserFactory

pytestmark = pytest.mark.django_db


def requeued(now=None) -> int:
    """How many caption jobs the outbox sweep sent again."""
    return outbox_sweep(now=now, sources=["caption_job"])["caption_job"]


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(caption_job_process, "apply_async",
                        lambda args, queue, countdown=None, **_: calls.append((args[0], queue)))
    return calls


def test_submission_while_the_broker_is_down_succeeds_and_the_sweep_sends_it_later(
    user_client, user, shared_media, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(caption_job_process, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post("/jobs/new/", {
            "file": SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes()),
            "tone": "casual", "length": "short", "platform": "x", "variant_count": 1})
    assert response.status_code == 302
    job = CaptionJob.objects.get(owner=user)
    assert job.status == JobStatus.QUEUED

    calls = []
    monkeypatch.setattr(caption_job_process, "apply_async",
                        lambda args, queue, countdown=None, **_: calls.append((args[0], queue)))
    assert requeued(now=timezone.now()) == 0  # not stale yet
    later = timezone.now() + timedelta(minutes=11)
    assert requeued(now=later) == 1
    assert calls == [(str(job.pk), "gpu")]
    # Sent once per period, not on every sweep.
    assert requeued(now=later + timedelta(seconds=60)) == 0


def test_processing_job_whose_worker_died_is_sent_again(sent):
    job = CaptionJobFactory(status=JobStatus.PROCESSING, attempts=1,
                            lease_expires_at=timezone.now() - timedelta(seconds=5))
    alive = CaptionJobFactory(status=JobStatus.PROCESSING, attempts=1,
                              lease_expires_at=timezone.now() + timedelta(minutes=2))
    assert requeued() == 1
    assert sent == [(str(job.pk), "gpu")]
    assert alive.pk not in {c[0] for c in sent}


def test_job_waiting_for_the_hourly_cap_is_not_requeued_before_its_hour(sent):
    waiting = CaptionJobFactory(status=JobStatus.QUEUED, deferrals=1)
    assert requeued(now=timezone.now() + timedelta(minutes=30)) == 0
    assert requeued(now=timezone.now() + timedelta(minutes=75)) == 1
    assert sent == [(str(waiting.pk), "gpu")]


def test_customers_retry_passes_the_quotas_but_supports_does_not(sent):
    owner = UserFactory()
    for _ in range(5):
        CaptionJobFactory(owner=owner, status=JobStatus.DONE)
    failed = CaptionJobFactory(owner=owner, status=JobStatus.FAILED)
    with pytest.raises(ApplicationError) as refused:
        services.caption_job_retry(job=failed, actor=owner)
    assert refused.value.status == 429 and refused.value.code == "jobs_per_hour_exceeded"
    staff = UserFactory(is_staff=True)
    services.caption_job_retry(job=failed, actor=staff)
    failed.refresh_from_db()
    assert failed.status == JobStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_jobs_lost_with_the_brokers_data_still_reach_a_final_state(
    user, shared_media, clean_redis, django_capture_on_commit_callbacks
):
    """Redis keeps nothing on disk here: a restart loses every queued message."""
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from config.celery_app import app

    jobs = []
    for _ in range(3):
        upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
        with django_capture_on_commit_callbacks(execute=True):
            jobs.append(services.caption_job_submit(owner=user, upload=upload,
                                                    options={"variant_count": 1}))
    clean_redis.flushdb()  # the restart: queued messages are gone
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["default", "gpu"],
                      loglevel="WARNING", shutdown_timeout=30):
        assert requeued(now=timezone.now() + timedelta(minutes=11)) == 3
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and CaptionJob.objects.filter(
                pk__in=[j.pk for j in jobs]).exclude(status=JobStatus.DONE).exists():
            time.sleep(0.2)
    statuses = list(CaptionJob.objects.filter(pk__in=[j.pk for j in jobs])
                    .values_list("status", flat=True))
    connections.close_all()
    assert statuses == [JobStatus.DONE] * 3
