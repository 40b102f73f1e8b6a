"""Uploads and results are deleted when the owner's plan stops keeping them."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from captions import services
from captions.models import CaptionJob, CaptionVariant, JobStatus, Transcript
from config.errors import ApplicationError
from tests.conftest import s3_keys
from tests.factories import CaptionJobFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db


def finished_job(owner, *, days_ago: float):
    job = CaptionJobFactory(owner=owner, status=JobStatus.DONE,
                            asset__file=ContentFile(b"\0" * 16, name="old.wav"))
    moment = timezone.now() - timedelta(days=days_ago)
    job.asset.__class__.objects.filter(pk=job.asset.pk).update(created_at=moment)
    CaptionJob.objects.filter(pk=job.pk).update(finished_at=moment)
    Transcript.objects.create(job=job, text="hello", segments=[])
    CaptionVariant.objects.create(job=job, position=0, text="hi", writer="local")
    job.refresh_from_db()
    return job


def test_free_plan_upload_is_deleted_after_a_day_and_results_after_a_week(client):
    free = UserFactory()
    young, old, older = (finished_job(free, days_ago=d) for d in (0.5, 2, 8))
    summary = services.caption_retention_purge()
    assert summary == {"media": 2, "results": 1}
    keys = s3_keys()
    assert young.asset.file.name in keys
    assert old.asset.file.name not in keys and older.asset.file.name not in keys
    older.refresh_from_db()
    assert older.results_purged_at is not None
    assert not Transcript.objects.filter(job=older).exists()
    assert not CaptionVariant.objects.filter(job=older).exists()
    assert Transcript.objects.filter(job=old).exists()  # 2 days: results are kept 7
    client.force_login(free)
    page = client.get(f"/jobs/{older.pk}/").content.decode()
    assert "were deleted on" in page
    assert services.caption_retention_purge() == {"media": 0, "results": 0}


def test_paid_plan_keeps_longer_and_running_jobs_are_never_touched():
    paying = UserFactory()
    SubscriptionFactory(user=paying, plan_code="creator")  # uploads 7 days, results 90
    kept = finished_job(paying, days_ago=3)
    running = CaptionJobFactory(owner=UserFactory(), status=JobStatus.PROCESSING)
    running.asset.__class__.objects.filter(pk=running.asset.pk).update(
        created_at=timezone.now() - timedelta(days=30))
    assert services.caption_retention_purge() == {"media": 0, "results": 0}
    assert kept.asset.file.name in s3_keys() and running.asset.file.name in s3_keys()


def test_job_whose_upload_was_purged_cannot_be_retried():
    owner = UserFactory()
    job = finished_job(owner, days_ago=2)
    CaptionJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    services.caption_retention_purge()
    job.refresh_from_db()
    with pytest.raises(ApplicationError) as refused:
        services.caption_job_retry(job=job, actor=owner)
    assert refused.value.status == 409 and refused.value.code == "media_purged"
