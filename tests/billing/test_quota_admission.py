"""Quotas are a ledger admitted under the owner's lock: parallel submissions cannot race them.

Quality bar 19b: a plan allowing N jobs an hour (or M audio minutes a period) and 3N
parallel submissions: at most N jobs (or M minutes, counting queued and running jobs)
admitted; the rest 429 with Retry-After; nothing stored for them.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from billing import quotas
from billing import services as billing_services
from billing.models import AdmissionStatus, JobAdmission
from billing.plans import CREATOR, FREE
from captions import services as caption_services
from captions.models import CaptionJob, JobStatus, MediaAsset
from config.errors import ApplicationError
from tests.conftest import s3_keys
from tests.factories import SubscriptionFactory
from tests.helpers import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def submit_in_parallel(user, make_upload, count: int):
    """``count`` submissions at once, each on its own database connection."""

    def submit(_):
        try:
            return caption_services.caption_job_submit(owner=user, upload=make_upload(),
                                                       options={"variant_count": 1})
        except ApplicationError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(submit, range(count)))
    admitted = [r for r in results if isinstance(r, CaptionJob)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(admitted) + len(refused) == count, results
    return admitted, refused


def test_three_times_the_hourly_jobs_in_parallel_admit_exactly_the_plans_number(user):
    before = s3_keys()
    admitted, refused = submit_in_parallel(
        user, lambda: SimpleUploadedFile("poster.png", png_bytes()), 3 * FREE.jobs_per_hour)
    assert len(admitted) == FREE.jobs_per_hour
    assert {(r.status, r.code) for r in refused} == {(429, "jobs_per_hour_exceeded")}
    assert all(int(r.headers["Retry-After"]) > 0 for r in refused)
    # Nothing is kept for a refused submission.
    assert MediaAsset.objects.count() == FREE.jobs_per_hour
    assert len(set(s3_keys()) - set(before)) == FREE.jobs_per_hour
    assert JobAdmission.objects.filter(user=user).count() == FREE.jobs_per_hour


def test_admissions_that_meet_at_the_same_instant_still_admit_only_the_plans_number(user):
    """The race itself: every request reaches admission together, then holds its transaction."""
    count = 3 * FREE.jobs_per_hour
    barrier = threading.Barrier(count)

    def admit(_):
        try:
            with transaction.atomic():
                barrier.wait(timeout=30)
                quotas.quota_admit(user=user, job_id=uuid.uuid4(), media_seconds=10)
                time.sleep(0.05)  # what a real request does before it commits
            return True
        except ApplicationError as exc:
            assert exc.status == 429
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        admitted = sum(pool.map(admit, range(count)))
    assert admitted == FREE.jobs_per_hour
    assert JobAdmission.objects.filter(user=user).count() == FREE.jobs_per_hour


def test_parallel_submissions_never_pass_the_included_minutes(user, shared_media):
    SubscriptionFactory(user=user, plan_code="creator")  # no paid overage
    # 30 seconds of the period's minutes are left; jfk.flac is 11 seconds long.
    billing_services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                      audio_seconds=CREATOR.included_audio_seconds - 30)
    data = (shared_media / "jfk.flac").read_bytes()
    admitted, refused = submit_in_parallel(
        user, lambda: SimpleUploadedFile("jfk.flac", data), 9)
    assert len(admitted) == 2, "22 of the 30 seconds fit; a third file would need 33"
    assert {(r.status, r.code) for r in refused} == {(429, "audio_minutes_exhausted")}
    refusal = refused[0]
    assert "only 8.0 seconds" in refusal.message and "held by jobs still in progress" in (
        refusal.message)
    assert refusal.details["held"] == 22 and refusal.details["requested"] == 11
    assert int(refusal.headers["Retry-After"]) > 0
    usage = quotas.quota_usage(user=user)
    assert usage["audio_seconds"]["used"] + usage["audio_seconds"]["held"] <= (
        CREATOR.included_audio_seconds)


def test_minutes_held_by_a_failed_or_cancelled_job_are_free_again(user, shared_media):
    SubscriptionFactory(user=user, plan_code="creator")
    billing_services.usage_record_job(user=user, job_id=uuid.uuid4(),
                                      audio_seconds=CREATOR.included_audio_seconds - 15)
    upload = lambda: SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())  # noqa: E731
    first = caption_services.caption_job_submit(owner=user, upload=upload(), options={})
    with pytest.raises(ApplicationError) as full:
        caption_services.caption_job_submit(owner=user, upload=upload(), options={})
    assert full.value.code == "audio_minutes_exhausted"

    caption_services.caption_job_cancel(job=first, actor=user)
    assert JobAdmission.objects.get(job_id=first.pk).status == AdmissionStatus.RELEASED
    second = caption_services.caption_job_submit(owner=user, upload=upload(), options={})
    caption_services.caption_job_fail(job_id=second.pk, code="no_audio", detail="No audio.")
    assert JobAdmission.objects.get(job_id=second.pk).status == AdmissionStatus.RELEASED
    assert quotas.quota_usage(user=user)["audio_seconds"]["held"] == 0


def test_a_finished_job_moves_its_minutes_from_held_to_used(user, shared_media):
    upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
    job = caption_services.caption_job_submit(owner=user, upload=upload, options={})
    assert quotas.quota_usage(user=user)["audio_seconds"]["held"] == 11
    caption_services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    usage = quotas.quota_usage(user=user)["audio_seconds"]
    assert (usage["held"], usage["used"]) == (0, 11)
    assert JobAdmission.objects.get(job_id=job.pk).status == AdmissionStatus.SETTLED


def test_a_customers_retry_is_admitted_again_and_holds_its_minutes(user, shared_media):
    upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
    job = caption_services.caption_job_submit(owner=user, upload=upload, options={})
    caption_services.caption_job_fail(job_id=job.pk, code="internal_error", detail="Oops.")
    caption_services.caption_job_retry(job=job, actor=user)
    rows = JobAdmission.objects.filter(job_id=job.pk).order_by("admitted_at")
    assert [r.status for r in rows] == [AdmissionStatus.RELEASED, AdmissionStatus.HELD]
    assert quotas.quota_usage(user=user)["jobs_last_hour"]["used"] == 2


def test_retrying_a_job_that_is_still_running_is_409_even_over_the_quota(user):
    from tests.factories import CaptionJobFactory

    for _ in range(FREE.jobs_per_hour):
        CaptionJobFactory(owner=user, status=JobStatus.DONE)
    running = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING)
    with pytest.raises(ApplicationError) as refused:
        caption_services.caption_job_retry(job=running, actor=user)
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")


def test_a_hold_whose_job_is_already_in_the_usage_ledger_is_not_counted_twice(user):
    """A job finished by a worker of the previous release, which did not settle its hold."""
    job_id = uuid.uuid4()
    with transaction.atomic():
        quotas.quota_admit(user=user, job_id=job_id, media_seconds=60)
    assert quotas.quota_usage(user=user)["audio_seconds"]["held"] == 60
    billing_services.usage_record_job(user=user, job_id=job_id, audio_seconds=60)
    usage = quotas.quota_usage(user=user)["audio_seconds"]
    assert (usage["used"], usage["held"]) == (60, 0)
