"""The pipeline run by the worker, called directly: real ffmpeg, Whisper, S3, Postgres."""

import subprocess
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from billing.models import JobAdmission
from captions import services
from captions.models import CaptionJob, JobStatus, Transcript
from config.errors import ApplicationError
from tests.conftest import s3_keys
from tests.factories import CaptionJobFactory
from tests.helpers import assert_customer_text

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "funny", "length": "short", "platform": "tiktok", "language": "",
           "variant_count": 3}


def submit_and_run(user, path: Path, django_capture_on_commit_callbacks, **options):
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        job = services.caption_job_submit(owner=user, upload=upload,
                                          options={**OPTIONS, **options})
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def ffmpeg(*args, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(out)],
                   check=True, timeout=60)
    return out


@pytest.fixture
def run(user, django_capture_on_commit_callbacks):
    return lambda path, **opts: submit_and_run(user, path, django_capture_on_commit_callbacks,
                                               **opts)


def test_video_with_speech_gets_transcript_covering_the_audio_in_order(run, shared_media,
                                                                       video_plan):
    job = run(shared_media / "auto_editor_example.mp4")
    assert job.status == JobStatus.DONE, job.error_message
    segments = job.transcript.segments
    assert segments
    assert all(a["end"] <= b["start"] for a, b in zip(segments, segments[1:], strict=False))
    assert all(0 <= s["start"] <= s["end"] <= 42.6 for s in segments)
    assert job.asset.kind == "video"
    assert set(job.stage_seconds) == {"probing", "transcribing", "writing"}
    assert job.captions.count() == 3


def test_image_job_gets_captions_and_no_transcript(run, shared_media):
    job = run(shared_media / "skimage_coffee.png")
    assert job.status == JobStatus.DONE, job.error_message
    assert not Transcript.objects.filter(job=job).exists()
    assert job.captions.count() == 3
    assert "stt" not in job.engine_versions


def test_video_without_a_sound_track_still_gets_captions(run, tmp_path, video_plan):
    video = ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10",
                   "-pix_fmt", "yuv420p", out=tmp_path / "silent.mp4")
    job = run(video)
    assert job.status == JobStatus.DONE, job.error_message
    assert not Transcript.objects.filter(job=job).exists()
    assert job.captions.exists()


def test_zero_length_audio_fails_with_a_reason(run, tmp_path):
    wav = ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0",
                 out=tmp_path / "empty.wav")
    job = run(wav)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "empty_audio"
    assert job.error_message == ("The audio track is empty, so there was nothing to "
                                 "transcribe. Upload a recording with speech.")
    assert job.error_detail == "The audio track is empty."


def test_silent_audio_finishes(run, tmp_path):
    wav = ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3",
                 out=tmp_path / "silence.wav")
    job = run(wav)
    assert job.status == JobStatus.DONE, job.error_message


def refused_at_upload(user, path: Path) -> ApplicationError:
    """Submit ``path``; it must be refused before anything is stored or a job exists."""
    before = s3_keys()
    with pytest.raises(ApplicationError) as refused:
        services.caption_job_submit(owner=user, upload=SimpleUploadedFile(
            path.name, path.read_bytes()), options=OPTIONS)
    assert s3_keys() == before and not CaptionJob.objects.exists()
    assert not JobAdmission.objects.exists(), "a refused file uses no quota"
    return refused.value


def run_in_worker_anyway(user, path: Path, kind: str) -> CaptionJob:
    """The worker's own checks, for a file that reached storage some other way."""
    job = CaptionJobFactory(owner=user, asset__kind=kind,
                            asset__file=ContentFile(path.read_bytes(), name=path.name))
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_media_longer_than_allowed_is_refused_at_upload_and_by_the_worker(
    user, shared_media, settings
):
    settings.CAPTIONS_MAX_MEDIA_SECONDS = 5
    refusal = refused_at_upload(user, shared_media / "jfk.flac")
    assert (refusal.status, refusal.code) == (413, "media_too_long")
    assert refusal.message == ("The media is 11.0 seconds long; the limit is 5.0 seconds on "
                               "the Free plan.")
    job = run_in_worker_anyway(user, shared_media / "jfk.flac", "audio")
    assert job.status == JobStatus.FAILED
    assert job.error_code == "media_too_long"
    assert job.error_message == ("The media is 11.0 seconds long; the limit is 5.0 seconds. "
                                 "Trim it or upload a shorter file.")


def test_truncated_png_is_refused_as_damaged(user, shared_media, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes((shared_media / "skimage_coffee.png").read_bytes()[:5000])
    refusal = refused_at_upload(user, broken)
    assert (refusal.status, refusal.code) == (422, "image_unreadable")
    assert run_in_worker_anyway(user, broken, "image").error_code == "image_unreadable"


def test_jpeg_with_garbage_after_the_header_is_refused_as_damaged(user, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x13\x37" * 2000)
    refusal = refused_at_upload(user, bad)
    assert (refusal.status, refusal.code) == (422, "image_unreadable")
    assert run_in_worker_anyway(user, bad, "image").error_code == "image_unreadable"


def test_decompression_bomb_is_refused(user, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(bomb)
    assert bomb.stat().st_size < 100_000
    refusal = refused_at_upload(user, bomb)
    assert (refusal.status, refusal.code) == (413, "image_too_large")
    job = run_in_worker_anyway(user, bomb, "image")
    assert job.status == JobStatus.FAILED
    assert job.error_code == "image_too_large"


def test_missing_whisper_model_fails_saying_how_to_configure_one(run, shared_media, settings,
                                                                 tmp_path):
    settings.WHISPER_MODEL = "small"  # no installed package ships it
    settings.WHISPER_ALLOW_DOWNLOAD = False
    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path)
    job = run(shared_media / "jfk.flac")
    assert job.status == JobStatus.FAILED
    assert job.error_code == "stt_model_unavailable"
    # The operator reads how to configure a model, in the admin and the failure's log line;
    # the customer reads what happened and what to do, with no setting, path or error text.
    assert "WHISPER_MODEL" in job.error_detail
    assert ".pt" in job.error_detail
    assert_customer_text(job.error_message)
    assert "retry" in job.error_message.lower()
    assert job.error_detail not in job.error_message
    failed_events = [e.message for e in job.events.all() if "WHISPER_MODEL" in e.message]
    assert failed_events, "the job's history (admin only) keeps the detail"


def test_redelivered_job_finishes_once_with_one_set_of_results(
    user, shared_media, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        job = services.caption_job_submit(owner=user, upload=upload, options=OPTIONS)
    # A first worker claimed the job, then died before finishing: its lease ran out.
    services.caption_job_start(job_id=job.pk)
    CaptionJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())
    services.caption_job_run(job_id=job.pk)
    services.caption_job_run(job_id=job.pk)  # a duplicate delivery after completion
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.attempts == 2
    assert Transcript.objects.filter(job=job).count() == 1
    assert job.captions.count() == 3
    assert [e.to_status for e in job.events.all()] == [
        "queued", "processing", "processing", "done"
    ]


def test_crashed_attempt_is_retried_then_failed_with_a_reason(user, settings):
    from tests.factories import CaptionJobFactory

    settings.CAPTION_JOB_MAX_ATTEMPTS = 2
    job = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING, attempts=1)
    assert services.caption_job_attempt_crashed(job_id=job.pk) is True
    CaptionJob.objects.filter(pk=job.pk).update(attempts=2)
    assert services.caption_job_attempt_crashed(job_id=job.pk) is False
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "internal_error"
