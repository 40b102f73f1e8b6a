"""A minute of real recordings through the real pipeline, out as five download formats.

Real ffmpeg, the batched Whisper engine (random-weight micro model), S3 (moto),
PostgreSQL, and the download views a customer clicks.
"""

import html
import json
from pathlib import Path

import pytest
import srt
import webvtt
from django.core.files.uploadedfile import SimpleUploadedFile

from captions import services
from captions.models import JobStatus
from captions.options import caption_options_validate
from tests.factories import CaptionJobFactory
from tests.helpers import joined_recording

pytestmark = pytest.mark.django_db

CLIPS = ["jfk.flac", "librispeech_1221-135766-0001.wav", "librispeech_1272-141231-0002.flac",
         "auto_editor_example.mp4"]
LIMITS = {"subtitle_max_chars_per_line": 32, "subtitle_max_lines": 2,
          "subtitle_max_chars_per_second": 15, "subtitle_min_cue_ms": 1000,
          "subtitle_max_cue_ms": 6000}


@pytest.fixture
def minute_of_speech(shared_media, tmp_path) -> Path:
    """60 seconds made by joining real recordings (the last one is cut short)."""
    return joined_recording([shared_media / clip for clip in CLIPS], tmp_path / "minute.flac",
                            seconds=60)


def vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def assert_cues_respect_limits(cues: list[tuple[float, float, list[str]]]):
    assert cues
    previous_end = 0.0
    for start, end, lines in cues:
        assert previous_end <= start < end
        duration = end - start
        assert 1.0 - 1e-6 <= duration <= 6.0 + 1e-6
        assert 1 <= len(lines) <= 2
        assert all(0 < len(line) <= 32 for line in lines), lines
        assert len(" ".join(lines)) / duration <= 15 + 1e-6
        previous_end = end


def test_minute_of_speech_becomes_a_transcript_and_five_readable_exports(
    user, user_client, minute_of_speech, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("minute.flac", minute_of_speech.read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        job = services.caption_job_submit(
            owner=user, upload=upload,
            options={"tone": "casual", "length": "short", "platform": "youtube",
                     "variant_count": 1, **LIMITS},
        )
    assert services.caption_job_queue(job=job) == "gpu"
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message

    # Segments cover the minute in order, without overlap: both windows produced text.
    transcript = job.transcript
    assert transcript.duration_seconds == pytest.approx(60.0, abs=0.05)
    segments = transcript.segments
    assert segments
    previous_end = 0.0
    for segment in segments:
        assert previous_end <= segment["start"] <= segment["end"] <= 60.0
        previous_end = segment["end"]
    assert segments[0]["start"] < 30.0 < segments[-1]["end"]

    # Which model and settings produced it.
    engine = job.engine_versions["stt"]
    assert engine["model"] == "micro.pt"
    assert len(engine["checkpoint_sha256"]) == 64
    assert engine["decoding"]["sample_len"] == 24
    assert engine["decoding"]["temperatures"] == [0.0]
    # Cut at pauses near each 30-second mark: two windows, or three when the pause
    # falls before 30 s.
    assert engine["windows"] in (2, 3)

    downloads = {}
    for fmt in ("txt", "srt", "vtt", "json", "tsv"):
        response = user_client.get(f"/jobs/{job.pk}/transcript.{fmt}")
        assert response.status_code == 200, fmt
        # Named after the upload ("minute.flac"), with the export's extension.
        assert response["Content-Disposition"] == f'attachment; filename="minute.{fmt}"'
        assert response["X-Content-Type-Options"] == "nosniff"
        downloads[fmt] = response.content.decode("utf-8")
    assert downloads["txt"].strip() == transcript.text

    srt_cues = [(s.start.total_seconds(), s.end.total_seconds(), s.content.split("\n"))
                for s in srt.parse(downloads["srt"])]
    vtt_cues = [(vtt_seconds(c.start), vtt_seconds(c.end), [html.unescape(x) for x in c.lines])
                for c in webvtt.from_string(downloads["vtt"])]
    assert_cues_respect_limits(srt_cues)
    assert_cues_respect_limits(vtt_cues)
    assert srt_cues == vtt_cues
    # The subtitles say what the transcript says (a word longer than a line is split
    # over lines, so compare the text without its spaces).
    assert "".join("".join(lines) for *_, lines in srt_cues).replace(" ", "") == (
        "".join(transcript.text.split()))

    document = json.loads(downloads["json"])
    assert document["segments"] == segments
    assert document["engine"]["checkpoint_sha256"] == engine["checkpoint_sha256"]
    rows = downloads["tsv"].splitlines()
    assert rows[0] == "start\tend\ttext" and len(rows) == len(segments) + 1

    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    for fmt in ("txt", "srt", "vtt", "json", "tsv"):
        assert f"/jobs/{job.pk}/transcript.{fmt}" in page


def test_another_customers_exports_are_not_found(user_client, other_user):
    job = CaptionJobFactory(owner=other_user)
    for fmt in ("txt", "srt", "vtt", "json", "tsv"):
        assert user_client.get(f"/jobs/{job.pk}/transcript.{fmt}").status_code == 404


def test_export_before_the_transcript_exists_is_404(user_client, user):
    job = CaptionJobFactory(owner=user)
    response = user_client.get(f"/jobs/{job.pk}/transcript.srt")
    assert response.status_code == 404
    assert response.content == b"This job has no transcript yet."


def test_image_jobs_go_to_the_default_queue_and_sound_to_the_gpu_queue(user):
    image = CaptionJobFactory(owner=user, asset__kind="image")
    audio = CaptionJobFactory(owner=user, asset__kind="audio")
    video = CaptionJobFactory(owner=user, asset__kind="video")
    assert services.caption_job_queue(job=image) == "default"
    assert services.caption_job_queue(job=audio) == "gpu"
    assert services.caption_job_queue(job=video) == "gpu"


@pytest.mark.parametrize(("option", "value"), [
    ("subtitle_max_chars_per_line", 5), ("subtitle_max_lines", 9),
    ("subtitle_max_chars_per_second", "fast"), ("subtitle_min_cue_ms", 10),
    ("subtitle_max_cue_ms", 100000), ("word_timestamps", "maybe"),
])
def test_out_of_range_subtitle_options_are_refused_by_name(option, value):
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        caption_options_validate({option: value})
    assert caught.value.status == 400
    assert option in caught.value.details


def test_subtitle_defaults_and_choices_are_kept():
    clean = caption_options_validate({})
    assert clean["subtitle_max_chars_per_line"] == 42
    assert clean["subtitle_max_cue_ms"] == 7000
    assert clean["word_timestamps"] is False
    clean = caption_options_validate({**LIMITS, "word_timestamps": "on"})
    assert clean["subtitle_max_chars_per_line"] == 32
    assert clean["word_timestamps"] is True
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        caption_options_validate({"subtitle_min_cue_ms": 3000,
                                           "subtitle_max_cue_ms": 2000})
    assert "subtitle_min_cue_ms" in caught.value.details


def test_worker_reports_readiness_once_the_model_is_loaded(settings, tmp_path):
    from captions.tasks import stt_worker_ready
    from engines import stt

    settings.WHISPER_PRELOAD = True
    settings.WHISPER_READY_FILE = str(tmp_path / "ready.json")
    assert stt_worker_ready() is True
    ready = json.loads((tmp_path / "ready.json").read_text())
    assert ready["model"] == "micro.pt" and ready["device"] == "cpu"
    assert stt.is_loaded(services.stt_config())

    settings.WHISPER_MODEL = "small"  # no installed package ships it
    settings.WHISPER_ALLOW_DOWNLOAD = False
    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path / "empty")
    settings.WHISPER_READY_FILE = str(tmp_path / "not-ready.json")
    assert stt_worker_ready() is False
    assert not (tmp_path / "not-ready.json").exists()


def test_word_timestamps_chosen_for_a_job_reach_the_transcript_and_subtitles(
    user, user_client, shared_media, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        job = services.caption_job_submit(
            owner=user, upload=upload,
            options={"variant_count": 1, "word_timestamps": "on"},
        )
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.engine_versions["stt"]["decoding"]["word_timestamps"] is True
    segments = job.transcript.segments
    assert segments and all("words" in s for s in segments)
    for segment in segments:
        for word in segment["words"]:
            assert segment["start"] <= word["start"] <= word["end"] <= segment["end"]
    response = user_client.get(f"/jobs/{job.pk}/transcript.srt")
    cues = list(srt.parse(response.content.decode()))
    assert cues
    assert all(len(line) <= 42 for cue in cues for line in cue.content.split("\n"))
