"""The usage ledger: one row per finished job; Studio overage reported to Stripe once."""

from __future__ import annotations

import uuid

import pytest

from billing import selectors, services
from billing.models import OverageReport, OverageReportStatus, UsageRecord
from billing.plans import STUDIO
from captions import services as caption_services
from captions.models import JobStatus
from config.errors import ApplicationError
from config.outbox import outbox_sweep
from engines import caption_writer as llm
from engines import stt
from tests.billing.conftest import subscribe
from tests.factories import CaptionJobFactory

pytestmark = pytest.mark.django_db


def finish(job, seconds: float, *, speech: bool = True):
    transcript = stt.TranscriptionResult(
        language="en", segments=[stt.Segment(0.0, seconds, "hello there")]
    ) if speech else None
    return caption_services.caption_job_complete(
        job=job, transcript=transcript, duration_seconds=seconds,
        captions=llm.CaptionResult(variants=["A caption"], writer="local", versions={}),
        engine_versions={},
    )


def test_finished_job_is_recorded_once_in_the_ledger(user):
    job = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING)
    finish(job, 61.2)
    record = UsageRecord.objects.get()
    assert (record.user, record.job_id, record.audio_seconds, record.plan_code) == (
        user, job.pk, 62, "free")
    assert record.period_start <= record.recorded_at < record.period_end
    # A second call for the same job (a redelivered task, a retried hook) adds nothing.
    again = services.usage_record_job(user=user, job_id=job.pk, audio_seconds=61.2)
    assert again.pk == record.pk
    assert UsageRecord.objects.count() == 1
    assert selectors.billing_overview(user=user).used_seconds == 62


def test_job_without_speech_uses_no_audio_minutes(user):
    finish(CaptionJobFactory(owner=user, status=JobStatus.PROCESSING), 12.0, speech=False)
    assert not UsageRecord.objects.exists()


def test_a_job_that_cannot_finish_records_no_usage(user):
    job = CaptionJobFactory(owner=user, status=JobStatus.CANCELLED)
    with pytest.raises(ApplicationError):
        finish(job, 30.0)
    assert not UsageRecord.objects.exists(), "the ledger rolls back with the job"


def test_free_plan_never_reports_overage(user, fake_stripe):
    services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=45 * 60)
    record = UsageRecord.objects.get()
    assert record.overage_seconds == 0
    assert not OverageReport.objects.exists()
    assert not fake_stripe.requests_to("POST", "/v1/billing/meter_events")


def test_studio_overage_is_reported_to_stripes_meter_once(
    user_client, user, fake_stripe, django_capture_on_commit_callbacks
):
    sub = subscribe(user_client, fake_stripe, "studio")
    included = STUDIO.included_audio_seconds
    with django_capture_on_commit_callbacks(execute=False) as queued:
        services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=included - 100)
        crossing = services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=300)
    assert len(queued) == 1, "only the job that went over the included minutes is reported"
    assert crossing.overage_seconds == 200
    report = OverageReport.objects.get()
    assert (report.seconds, report.identifier) == (200, f"cg-overage-{crossing.job_id}")

    services.overage_report_send(report_id=report.pk)
    services.overage_report_send(report_id=report.pk)  # a duplicate task run
    [sent] = fake_stripe.requests_to("POST", "/v1/billing/meter_events")
    assert sent.params["event_name"] == "audio_overage_seconds"
    assert sent.params["payload"] == {"stripe_customer_id": sub["customer"], "value": "200"}
    assert sent.params["identifier"] == report.identifier
    assert sent.idempotency_key == report.identifier
    report.refresh_from_db()
    assert (report.status, report.attempts) == (OverageReportStatus.SENT, 1)

    overview = selectors.billing_overview(user=user)
    assert (overview.used_seconds, overview.overage_seconds) == (included + 200, 200)
    page = user_client.get("/billing/").content.decode()
    assert "4 min beyond the included minutes" in page


def test_overage_report_survives_a_stripe_failure_and_is_sent_once(
    user_client, user, fake_stripe, django_capture_on_commit_callbacks
):
    subscribe(user_client, fake_stripe, "studio")
    with django_capture_on_commit_callbacks(execute=False):
        services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                  audio_seconds=STUDIO.included_audio_seconds + 90)
    report = OverageReport.objects.get()
    fake_stripe.fail_next("POST", "/v1/billing/meter_events", status=500)
    with pytest.raises(ApplicationError) as exc:
        services.overage_report_send(report_id=report.pk)
    assert exc.value.status == 502
    report.refresh_from_db()
    assert report.status == OverageReportStatus.FAILED

    services.overage_report_send(report_id=report.pk)
    report.refresh_from_db()
    assert (report.status, report.attempts) == (OverageReportStatus.SENT, 2)
    assert len(fake_stripe.state.meter_events) == 1
    assert fake_stripe.state.meter_events[report.identifier]["payload"]["value"] == "90"


def test_usage_counts_only_the_current_period(user):
    from datetime import timedelta

    from django.utils import timezone

    services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=120)
    start, end = selectors.billing_period_for_user(user=user)
    assert selectors.usage_seconds_between(user=user, start=start, end=end) == (120, 0)
    next_month = end + timedelta(days=1)
    start2, end2 = selectors.billing_period_for_user(user=user, now=next_month)
    assert start2 == end
    assert selectors.usage_seconds_between(user=user, start=start2, end=end2) == (0, 0)
    assert start <= timezone.now() < end


def test_the_celery_task_sends_a_pending_report(user_client, user, fake_stripe,
                                                django_capture_on_commit_callbacks):
    from billing.tasks import overage_report_send

    subscribe(user_client, fake_stripe, "studio")
    with django_capture_on_commit_callbacks(execute=False):
        services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                  audio_seconds=STUDIO.included_audio_seconds + 1)
    report = OverageReport.objects.get()
    overage_report_send.apply(args=[report.pk]).get()
    report.refresh_from_db()
    assert report.status == OverageReportStatus.SENT
    assert len(fake_stripe.state.meter_events) == 1


def test_sweep_sends_reports_whose_task_was_lost(user_client, user, fake_stripe, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from config.celery_app import app

    # Tasks the sweep sends run at once, in this process, as a worker would run them.
    monkeypatch.setitem(app.conf, "task_always_eager", True)

    subscribe(user_client, fake_stripe, "studio")
    with django_capture_on_commit_callbacks(execute=False):
        # The broker lost the task: the callbacks never run.
        services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                  audio_seconds=STUDIO.included_audio_seconds + 30)
    def resent(later: timedelta) -> int:
        now = timezone.now() + later
        return outbox_sweep(now=now, sources=["overage_report"])["overage_report"]

    # The sweep sends the report's task (run here at once, as a worker would).
    assert resent(timedelta(0)) == 0, "a fresh report is left to its task"
    assert resent(timedelta(minutes=11)) == 1
    assert resent(timedelta(minutes=12)) == 0, "sent once per period"
    assert OverageReport.objects.get().status == OverageReportStatus.SENT
    assert len(fake_stripe.requests_to("POST", "/v1/billing/meter_events")) == 1
