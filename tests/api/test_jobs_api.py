"""Submitting, listing, reading, cancelling, retrying and deleting jobs through /api/v1/."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import srt
import webvtt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from captions.models import CaptionJob, JobEvent, MediaAsset, Transcript
from tests.conftest import s3_keys
from tests.factories import CaptionJobFactory, CaptionVariantFactory, TranscriptFactory
from tests.helpers import png_bytes, wav_bytes

pytestmark = pytest.mark.django_db


def submit(api, content=None, name="clip.wav", **options):
    data = {"file": SimpleUploadedFile(name, content or wav_bytes()), **options}
    return api.post("/api/v1/jobs/", data, format="multipart")


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert body["message"]
    return body


def test_submit_creates_a_queued_job_with_its_options_and_location(api, user):
    response = submit(api, tone="funny", platform="tiktok", variant_count="2")
    assert response.status_code == 201, response.content
    body = response.json()
    job = CaptionJob.objects.get(pk=body["id"])
    assert job.owner == user and job.tone == "funny" and job.variant_count == 2
    assert body["status"] == "queued" and body["progress"] == 0
    assert body["options"] == {"tone": "funny", "length": "medium", "platform": "tiktok",
                               "language": "", "variant_count": 2, "hashtags": True,
                               "emoji": True, "custom_instruction": "",
                               "word_timestamps": False, "split_channels": False,
                               "subtitle_max_chars_per_line": 42,
                               "subtitle_max_lines": 2, "subtitle_max_chars_per_second": 17,
                               "subtitle_min_cue_ms": 833, "subtitle_max_cue_ms": 7000}
    assert body["media"]["kind"] == "audio" and body["media"]["original_name"] == "clip.wav"
    assert body["error"] is None
    assert body["cost"] == {"amount_micro_usd": 0, "input_tokens": 0, "output_tokens": 0,
                            "currency": "USD"}
    assert response["Location"].endswith(f"/api/v1/jobs/{job.pk}/")
    assert job.asset.file.name in s3_keys()


def test_submit_refuses_a_php_script_named_mp3_with_415_and_stores_nothing(api):
    before = s3_keys()
    response = submit(api, b"<?php system($_GET['c']); ?>\n", name="song.mp3")
    body = assert_error(response, 415, "unsupported_media_type")
    assert "not audio, video or an image" in body["message"]
    assert s3_keys() == before and not CaptionJob.objects.exists()


def test_submit_one_byte_over_the_limit_is_413(api, settings):
    data = wav_bytes()
    settings.CAPTIONS_MAX_UPLOAD_BYTES = len(data) - 1
    body = assert_error(submit(api, data), 413, "file_too_large")
    assert body["details"] == {"limit_bytes": len(data) - 1, "size_bytes": len(data),
                               "plan": "studio"}
    assert not MediaAsset.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("tone", "sarcastic"), ("variant_count", "99"),
                                              ("language", "xx"), ("length", "-5")])
def test_out_of_range_options_are_400_naming_the_field(api, field, value):
    body = assert_error(submit(api, **{field: value}), 400, "invalid")
    assert field in body["details"]
    assert not CaptionJob.objects.exists()


def test_json_instead_of_a_file_is_415_and_a_missing_file_is_400(api):
    assert_error(api.post("/api/v1/jobs/", {"tone": "casual"}, format="json"), 415,
                 "unsupported_media_type")
    body = assert_error(api.post("/api/v1/jobs/", {"tone": "casual"}, format="multipart"),
                        400, "invalid")
    assert "file" in body["details"]


def test_list_filters_by_status_and_date_and_pages_with_a_cursor(api, user):
    old = CaptionJobFactory(owner=user, status="done")
    CaptionJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    recent = [CaptionJobFactory(owner=user) for _ in range(5)]
    failed = CaptionJobFactory(owner=user, status="failed")

    body = api.get("/api/v1/jobs/", {"status": "failed"}).json()
    assert [j["id"] for j in body["results"]] == [str(failed.pk)]

    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = api.get("/api/v1/jobs/", {"created_after": since}).json()
    assert str(old.pk) not in {j["id"] for j in body["results"]}
    body = api.get("/api/v1/jobs/", {"created_before": since}).json()
    assert [j["id"] for j in body["results"]] == [str(old.pk)]

    seen, url = [], "/api/v1/jobs/?page_size=3"
    while url:
        page = api.get(url).json()
        seen += [j["id"] for j in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {str(j.pk) for j in [old, failed, *recent]}

    assert_error(api.get("/api/v1/jobs/", {"status": "exploded"}), 400, "invalid")
    assert_error(api.get("/api/v1/jobs/", {"cursor": "garbage"}), 400, "invalid_cursor")


def test_detail_shows_state_stage_progress_timings_and_error(api, user):
    job = CaptionJobFactory(owner=user, status="failed", stage="transcribing", progress=20,
                            error_code="no_audio", error_message="The file has no audio stream.",
                            stage_seconds={"probing": 0.25})
    body = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["status"] == "failed" and body["stage"] == "transcribing"
    assert body["progress"] == 20
    assert body["error"] == {"code": "no_audio", "message": "The file has no audio stream."}
    assert body["timings"]["stage_seconds"] == {"probing": 0.25}
    assert body["timings"]["created_at"]


def test_cancel_then_cancel_again_is_409_and_retry_of_failed_requeues(
    api, user, django_capture_on_commit_callbacks
):
    job = CaptionJobFactory(owner=user)
    response = api.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert_error(api.post(f"/api/v1/jobs/{job.pk}/cancel/"), 409, "invalid_transition")
    assert_error(api.post(f"/api/v1/jobs/{job.pk}/retry/"), 409, "invalid_transition")

    failed = CaptionJobFactory(owner=user, status="failed", attempts=3)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    assert len(callbacks) == 1  # queued for a worker once committed


def test_delete_removes_the_job_its_results_and_its_stored_media(
    api, user, django_capture_on_commit_callbacks
):
    job = CaptionJob.objects.get(pk=submit(api).json()["id"])
    key = job.asset.file.name
    TranscriptFactory(job=job)
    CaptionVariantFactory(job=job)
    assert key in s3_keys()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 204
    assert not CaptionJob.objects.filter(pk=job.pk).exists()
    assert not MediaAsset.objects.filter(pk=job.asset_id).exists()
    assert not Transcript.objects.filter(job_id=job.pk).exists()
    assert not JobEvent.objects.filter(job_id=job.pk).exists()
    assert key not in s3_keys()
    assert_error(api.get(f"/api/v1/jobs/{job.pk}/"), 404, "not_found")


def test_transcript_in_every_format_is_an_attachment_that_parses_back(api, user):
    transcript = TranscriptFactory(job__owner=user)
    job = transcript.job
    base = f"/api/v1/jobs/{job.pk}/transcript"
    for fmt in ("txt", "srt", "vtt", "json", "tsv"):
        response = api.get(f"{base}.{fmt}")
        assert response.status_code == 200, (fmt, response.content)
        # Named after the upload (the factory's "fixture.wav"), with the export's extension.
        assert response["Content-Disposition"] == f'attachment; filename="fixture.{fmt}"'
        assert response["X-Content-Type-Options"] == "nosniff"
    assert api.get(f"{base}.txt").content.decode().strip() == transcript.text

    # "ask not." follows without a pause: two words alone would flash by, so they
    # share the cue of the clause before them.
    cues = list(srt.parse(api.get(f"{base}.srt").content.decode()))
    assert [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in cues] == [
        (0.0, 4.04, "And so my fellow Americans, ask not.")
    ]
    vtt = webvtt.from_buffer(io.StringIO(api.get(f"{base}.vtt").content.decode()))
    assert [(c.start, c.end, c.text) for c in vtt] == [
        ("00:00:00.000", "00:00:04.040", "And so my fellow Americans, ask not."),
    ]
    data = api.get(f"{base}.json").json()
    assert data["segments"] == transcript.segments and data["language"] == "en"
    tsv = api.get(f"{base}.tsv").content.decode().splitlines()
    assert tsv == ["start\tend\ttext", "0\t2500\tAnd so my fellow Americans,",
                   "2500\t4040\task not."]


def test_transcript_of_a_running_job_is_409_and_of_an_image_job_404(api, user):
    running = CaptionJobFactory(owner=user, status="processing")
    assert_error(api.get(f"/api/v1/jobs/{running.pk}/transcript.srt"), 409,
                 "transcript_not_ready")
    image_job = CaptionJobFactory(owner=user, status="done")
    assert_error(api.get(f"/api/v1/jobs/{image_job.pk}/transcript.srt"), 404, "no_transcript")


def test_captions_lists_the_variants_in_order(api, user):
    job = CaptionJobFactory(owner=user, status="done")
    CaptionVariantFactory(job=job, position=1, text="second")
    CaptionVariantFactory(job=job, position=0, text="first")
    body = api.get(f"/api/v1/jobs/{job.pk}/captions/").json()
    assert body["job_id"] == str(job.pk)
    assert [c["text"] for c in body["captions"]] == ["first", "second"]
    assert body["captions"][0]["offline_draft"] is True


def test_usage_counts_this_months_jobs_and_audio_seconds(api, user, other_user):
    TranscriptFactory(job__owner=user, job__finished_at=timezone.now(), duration_seconds=61.5)
    CaptionJobFactory(owner=user, status="failed")
    TranscriptFactory(job__owner=other_user, job__finished_at=timezone.now())
    body = api.get("/api/v1/usage/").json()
    assert body["jobs_submitted"] == 2
    assert body["jobs_completed"] == 1 and body["jobs_failed"] == 1
    assert body["audio_seconds"] == 61.5
    assert body["period_start"] < body["period_end"]


def test_image_upload_is_accepted(api):
    response = submit(api, png_bytes(), name="photo.png")
    assert response.status_code == 201
    assert response.json()["media"]["kind"] == "image"


def test_usage_shows_the_plans_quotas_and_spend_this_hour(api, user):
    from billing import cost_ledger

    cost_ledger.cost_reservation_create(user=user, key="k1", amount_micros=120_000,
                                             kind="llm")
    cost_ledger.cost_reservation_settle(key="k1", actual_micros=80_000)
    cost_ledger.cost_reservation_create(user=user, key="k2", amount_micros=50_000,
                                             kind="llm")
    CaptionJobFactory(owner=user)
    quotas = api.get("/api/v1/usage/").json()["quotas"]
    assert quotas["plan"] == {"code": "studio", "name": "Studio"}
    assert quotas["jobs_last_hour"] == {"allowed": 120, "used": 1}
    cost = quotas["cost_this_hour"]
    assert (cost["settled_micros"], cost["reserved_micros"]) == (80_000, 50_000)
    assert cost["cap_micros"] == 20_000_000
    assert cost["window_start"] < cost["window_end"]
    assert quotas["audio_seconds"]["included"] == 3_000 * 60


def test_submit_takes_the_writer_options_and_detail_reports_the_cost(api, user):
    response = submit(api, hashtags="false", emoji="false",
                      custom_instruction="Mention the spring sale", word_timestamps="true")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["options"]["hashtags"] is False and body["options"]["emoji"] is False
    assert body["options"]["custom_instruction"] == "Mention the spring sale"
    assert body["options"]["word_timestamps"] is True
    assert body["cost"] == {"amount_micro_usd": 0, "input_tokens": 0, "output_tokens": 0,
                            "currency": "USD"}
    job = CaptionJob.objects.get(pk=body["id"])
    CaptionJob.objects.filter(pk=job.pk).update(cost_micro_usd=4321, input_tokens=10,
                                                output_tokens=5)
    cost = api.get(f"/api/v1/jobs/{job.pk}/").json()["cost"]
    assert cost["amount_micro_usd"] == 4321 and cost["input_tokens"] == 10


def test_omitted_booleans_in_a_multipart_submit_keep_their_defaults(api):
    body = submit(api).json()
    assert body["options"]["hashtags"] is True and body["options"]["emoji"] is True
    assert body["options"]["word_timestamps"] is False


def test_the_list_pages_back_and_forth_through_jobs_created_at_the_same_time(api, user):
    """Cursors with an offset (jobs that share a creation time) and reversed cursors (the
    `previous` links) give the same pages both ways."""
    now = timezone.now()
    jobs = [CaptionJobFactory(owner=user) for _ in range(8)]
    for i, job in enumerate(jobs):  # three at each time
        CaptionJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(hours=i // 3))

    forward, url = [], "/api/v1/jobs/?page_size=3"
    while url:
        page = api.get(url).json()
        forward.append([j["id"] for j in page["results"]])
        last, url = page, page["next"]
    assert sorted(sum(forward, [])) == sorted(str(j.pk) for j in jobs)
    assert len(forward) == 3

    backward, url = [forward[-1]], last["previous"]
    while url:
        page = api.get(url).json()
        backward.insert(0, [j["id"] for j in page["results"]])
        url = page["previous"]
    assert backward == forward
