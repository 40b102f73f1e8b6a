"""The result cache (quality bar 28): the same file with the same options from the same
user is answered from the earlier job, at no charge, unless a fresh run is asked for.

Decided: a reused result uses no quota at all (no admission, so it counts neither
against jobs per hour nor audio minutes), records no usage and costs nothing.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import CostReservation, JobAdmission, UsageRecord
from captions import services
from captions.models import CaptionJob, JobStatus
from tests.conftest import s3_keys
from tests.helpers import wav_bytes

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "funny", "platform": "tiktok", "variant_count": "2"}
SOUND = wav_bytes(seconds=1.5)


def submit(api, content=SOUND, **fields):
    data = {"file": SimpleUploadedFile("clip.wav", content), **OPTIONS, **fields}
    response = api.post("/api/v1/jobs/", data, format="multipart")
    assert response.status_code == 201, response.content[:500]
    return response.json()


def run(job_id) -> CaptionJob:
    services.caption_job_run(job_id=job_id)
    return CaptionJob.objects.get(pk=job_id)


@pytest.fixture
def first(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        body = submit(api)
    job = run(body["id"])
    assert job.status == JobStatus.DONE, job.error_message
    assert UsageRecord.objects.filter(job_id=job.pk).exists()  # the first run is charged
    return job


def test_the_same_file_and_options_are_answered_from_the_earlier_job_free(api, user, first):
    objects = len(s3_keys())
    admissions = JobAdmission.objects.count()
    body = submit(api)
    assert body["status"] == "done" and body["progress"] == 100
    assert body["reused_from"] == str(first.pk)
    assert body["cost"]["amount_micro_usd"] == 0
    again = CaptionJob.objects.get(pk=body["id"])
    # Not charged and no quota used: no admission, no usage, no cost reservation.
    assert JobAdmission.objects.count() == admissions
    assert not JobAdmission.objects.filter(job_id=again.pk).exists()
    assert not UsageRecord.objects.filter(job_id=again.pk).exists()
    assert not CostReservation.objects.filter(job_id=again.pk).exists()
    # The bytes are the earlier job's: shared, not stored a second time.
    assert again.asset_id == first.asset_id and len(s3_keys()) == objects
    # Its results are the earlier job's.
    captions = api.get(f"/api/v1/jobs/{again.pk}/captions/").json()["captions"]
    earlier = api.get(f"/api/v1/jobs/{first.pk}/captions/").json()["captions"]
    assert [c["text"] for c in captions] == [c["text"] for c in earlier] and captions
    assert again.transcript.text == first.transcript.text
    assert again.events.get().message.startswith(f"Reused the result of job {first.pk}")
    # A third submission points at the original job, not at the copy.
    assert submit(api)["reused_from"] == str(first.pk)


def test_a_fresh_run_is_queued_and_charged(api, first, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        body = submit(api, fresh="true")
    assert body["status"] == "queued" and body["reused_from"] is None
    assert JobAdmission.objects.filter(job_id=body["id"]).exists()  # counts against quotas
    job = run(body["id"])
    assert job.status == JobStatus.DONE
    assert UsageRecord.objects.get(job_id=job.pk).audio_seconds >= 1


def test_other_options_another_file_or_another_user_run_again(api, other_api, first,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert submit(api, tone="professional")["status"] == "queued"
        assert submit(api, content=wav_bytes(seconds=1.0))["status"] == "queued"
        assert submit(other_api)["status"] == "queued"


def test_results_deleted_by_retention_are_not_reused(api, first,
                                                     django_capture_on_commit_callbacks):
    from django.utils import timezone

    CaptionJob.objects.filter(pk=first.pk).update(results_purged_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        assert submit(api)["status"] == "queued"


def test_the_page_says_the_job_was_reused_and_offers_a_fresh_run(client, user, first):
    client.force_login(user)
    page = client.get("/jobs/new/")
    assert b'name="fresh"' in page.content
    # A browser sends ticked boxes only: these are the API's defaults the first job had.
    data = {"file": SimpleUploadedFile("clip.wav", SOUND), **OPTIONS, "hashtags": "on",
            "emoji": "on"}
    response = client.post("/jobs/new/", data)
    assert response.status_code == 302, response.content[:500]
    reused = CaptionJob.objects.exclude(pk=first.pk).get()
    assert reused.reused_from_id == first.pk
    page = client.get(response["Location"])
    assert b"Reused from job" in page.content
    assert str(first.pk).encode() in page.content
