"""Jobs on the managed engine: Amazon Transcribe through the real boto3 path.

The far end is tests/fakes/transcribe.py (JSON 1.1, SigV4 verified), which reads the
upload from the S3 server and writes Transcribe's result document back into it. The
poll task's messages are run here as a worker would run them, one after another.
"""

import html
import json
import subprocess
from datetime import timedelta

import pytest
import srt
import webvtt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import CostReservation, CostWindow, ReservationStatus
from captions import services
from captions.models import CaptionJob, JobStage, JobStatus, ManagedSttState, SttEngine
from captions.tasks import transcribe_managed_poll
from engines.stt import amazon_transcribe as transcribe
from tests.captions.test_transcription_pipeline import (
    LIMITS,
    assert_cues_respect_limits,
    vtt_seconds,
)
from tests.conftest import s3_keys
from tests.fakes.transcribe import SPOKEN, transcribe_result
from tests.helpers import assert_customer_text

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "casual", "length": "short", "platform": "youtube", "variant_count": 1,
           **LIMITS}


@pytest.fixture
def managed(settings, fake_transcribe):
    settings.STT_ROUTING_POLICY = "managed"
    return fake_transcribe


@pytest.fixture
def polls(monkeypatch):
    """The poll messages the product sends, kept to be run by ``drive``."""
    sent = []
    monkeypatch.setattr(transcribe_managed_poll, "apply_async",
                        lambda args, queue, countdown=None: sent.append((args, queue, countdown)))
    return sent


def drive(polls, *, limit=20) -> int:
    """Deliver the poll messages in order, as the worker would; returns how many ran."""
    ran = 0
    while polls and ran < limit:
        args, _, _ = polls.pop(0)
        transcribe_managed_poll.apply(args=args)
        ran += 1
    return ran


@pytest.fixture
def submit(user, shared_media, django_capture_on_commit_callbacks):
    def submit(name="jfk.flac", data=None, owner=None):
        upload = SimpleUploadedFile(name, data or (shared_media / name).read_bytes())
        with django_capture_on_commit_callbacks(execute=False):
            return services.caption_job_submit(owner=owner or user, upload=upload,
                                               options=OPTIONS)
    return submit


def run(job):
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def reservation(job) -> CostReservation:
    return CostReservation.objects.get(key=f"stt:{job.pk}")


# --- The engine's mapping ---------------------------------------------------------------------


def test_a_transcribe_result_becomes_sentence_segments_with_timed_words():
    document = transcribe_result("job-1", SPOKEN, duration=12.0, language_code="en-US",
                                 identified=True)
    result = transcribe.result_to_transcript(document)

    assert result.language == "en"
    assert [s.text for s in result.segments] == [
        "Welcome back to the channel.",
        "Today we are testing captions, subtitles and timing.",
        "Does every word land on time?",
        "It should, and the cues stay readable.",
    ]
    words = [w for s in result.segments for w in s.words]
    assert len(words) == sum(1 for i in document["results"]["items"]
                             if i["type"] == "pronunciation")
    assert words[0].word == " Welcome" and words[4].word == " channel."
    assert 0.9 <= words[0].probability <= 1.0
    previous = 0.0
    for segment in result.segments:
        assert previous <= segment.start < segment.end <= 12.0
        assert segment.start == segment.words[0].start and segment.end == segment.words[-1].end
        previous = segment.end
    assert result.text == SPOKEN


def test_a_long_pause_or_a_long_run_of_words_starts_a_new_segment():
    def word(text, start, end):
        return {"type": "pronunciation", "start_time": str(start), "end_time": str(end),
                "alternatives": [{"confidence": "0.99", "content": text}]}

    items = [word("so", 0.0, 0.3), word("anyway", 0.4, 0.9), word("later", 4.0, 4.4)]
    items += [word(f"w{i}", 5 + i * 0.1, 5.05 + i * 0.1) for i in range(90)]
    result = transcribe.result_to_transcript({"results": {"items": items}},
                                             language_code="de-DE")
    assert result.language == "de"
    assert result.segments[0].text == "so anyway"
    assert all(len(s.words) <= transcribe.MAX_SEGMENT_WORDS for s in result.segments)
    assert sum(len(s.words) for s in result.segments) == 93


def test_a_document_that_is_not_a_transcribe_result_is_refused_with_a_reason():
    with pytest.raises(transcribe.ManagedSttFailed, match="unreadable result"):
        transcribe.result_to_transcript({"status": "COMPLETED"})


# --- A job through the managed engine ----------------------------------------------------------


def test_a_managed_job_is_handed_off_polled_and_finished_with_its_engine_and_cost(
    managed, polls, submit, user, user_client, api, settings
):
    job = submit()
    assert (job.stt_engine, job.stt_route_reason) == (SttEngine.MANAGED, "Policy: managed only")
    assert services.caption_job_queue(job=job) == settings.CAPTIONS_DEFAULT_QUEUE

    # The attempt starts Transcribe and ends: no worker waits while Transcribe works.
    job = run(job)
    assert (job.status, job.stage, job.managed_stt_state) == (
        JobStatus.PROCESSING, JobStage.TRANSCRIBING, ManagedSttState.RUNNING)
    [start] = managed.started()
    assert start.body["Media"]["MediaFileUri"] == (
        f"s3://{settings.AWS_STORAGE_BUCKET_NAME}/{job.asset.file.name}")
    assert start.body["MediaFormat"] == "flac" and start.body["IdentifyLanguage"] is True
    assert start.body["OutputKey"].startswith(f"transcribe/{job.pk}/")
    assert "Credential=testing/" in start.headers["Authorization"]
    assert reservation(job).status == ReservationStatus.RESERVED
    assert [(q, c) for _, q, c in polls][0][0] == settings.CAPTIONS_DEFAULT_QUEUE

    managed.polls_to_complete = 2
    assert drive(polls) == 2  # in progress at the first poll, completed (and continued) next
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.attempts == 1, "the continuation is the same attempt"

    stt = job.engine_versions["stt"]
    assert (stt["engine"], stt["api_version"], stt["region"]) == (
        "aws-transcribe", "2017-10-26", settings.TRANSCRIBE_REGION)
    assert stt["job_name"] == start.body["TranscriptionJobName"]
    transcript = job.transcript
    assert transcript.text == SPOKEN and transcript.language == "en"
    assert transcript.duration_seconds == pytest.approx(11.0, abs=0.1)

    # Cost: Transcribe's per-second price, its 15-second minimum, in the hourly ledger.
    held = reservation(job)
    assert (held.kind, held.status) == ("stt_managed", ReservationStatus.SETTLED)
    assert held.settled_micros == 15 * settings.TRANSCRIBE_PRICE_MICROS_PER_SECOND == 6000
    window = CostWindow.objects.get(user=user)
    assert (window.settled_micros, window.reserved_micros) == (6000, 0)
    # The customer's API shows the engine and what transcription cost.
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["speech_to_text"] == {
        "engine": "managed", "reason": "Policy: managed only", "cost_micro_usd": 6000,
        "cost_kind": "stt_managed"}
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Speech to text: Managed (Amazon Transcribe) · 6000 µ$" in page
    usage = api.get("/api/v1/usage/").json()
    assert usage["audio_seconds_by_engine"]["managed"] == pytest.approx(11.0, abs=0.1)
    assert usage["audio_seconds_by_engine"]["self_hosted"] == 0

    # Every export parses back and keeps the job's subtitle limits.
    downloads = {fmt: user_client.get(f"/jobs/{job.pk}/transcript.{fmt}").content.decode()
                 for fmt in ("txt", "srt", "vtt", "json", "tsv")}
    srt_cues = [(s.start.total_seconds(), s.end.total_seconds(), s.content.split("\n"))
                for s in srt.parse(downloads["srt"])]
    vtt_cues = [(vtt_seconds(c.start), vtt_seconds(c.end), [html.unescape(x) for x in c.lines])
                for c in webvtt.from_string(downloads["vtt"])]
    assert_cues_respect_limits(srt_cues)
    assert srt_cues == vtt_cues
    assert "".join("".join(lines) for *_, lines in srt_cues).replace(" ", "") == (
        "".join(SPOKEN.split()))
    document = json.loads(downloads["json"])
    assert document["segments"][0]["words"][0]["word"] == " Welcome"
    assert downloads["txt"].strip() == SPOKEN
    assert len(downloads["tsv"].splitlines()) == len(transcript.segments) + 1


def test_throttled_starts_are_retried_with_backoff_and_the_job_goes_on(managed, polls, submit):
    managed.script("throttle", "limit", "500")
    job = run(submit())
    assert job.managed_stt_state == ManagedSttState.RUNNING
    assert len(managed.started()) == 4
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert reservation(job).status == ReservationStatus.SETTLED


def test_throttling_past_the_bound_fails_the_job_readably_and_releases_the_reservation(
    managed, polls, submit, user, settings
):
    settings.TRANSCRIBE_MAX_TRIES = 3
    managed.script("throttle", "throttle", "throttle")
    job = run(submit())
    assert job.status == JobStatus.FAILED
    assert job.error_code == "managed_stt_unavailable"
    assert "over capacity" in job.error_detail and "3 tries" in job.error_detail
    assert_customer_text(job.error_message)
    assert "retry the job" in job.error_message and "nothing was charged" in job.error_message
    assert len(managed.started()) == 3
    assert reservation(job).status == ReservationStatus.RELEASED
    assert CostWindow.objects.get(user=user).reserved_micros == 0
    assert not polls


def test_a_failed_transcribe_job_fails_the_caption_job_and_a_retry_starts_a_new_one(
    managed, polls, submit, user, django_capture_on_commit_callbacks
):
    managed.job_outcome = "fail"
    job = run(submit())
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "managed_stt_failed"
    assert "could not transcribe this recording: Unsupported audio format" in job.error_detail
    assert_customer_text(job.error_message)
    assert "could not transcribe this recording" in job.error_message
    assert reservation(job).status == ReservationStatus.RELEASED
    first = managed.started()[0].body["TranscriptionJobName"]

    managed.job_outcome = "complete"
    with django_capture_on_commit_callbacks(execute=False):
        services.caption_job_retry(job=job, actor=user)
    job = run(job)
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    names = [r.body["TranscriptionJobName"] for r in managed.started()]
    assert len(names) == 2 and names[0] == first and names[1] != first
    assert reservation(job).status == ReservationStatus.SETTLED


def test_a_hanging_transcribe_job_is_polled_ever_more_slowly_then_fails_the_job(
    managed, polls, submit, user, settings
):
    managed.job_outcome = "hang"
    job = run(submit())
    countdowns = []
    for _ in range(4):
        countdowns.append(polls[0][2])
        drive(polls, limit=1)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.managed_stt_polls == 4
    assert job.lease_expires_at > timezone.now(), "each poll renews the lease"
    assert countdowns[-1] > countdowns[0]
    assert all(c <= settings.TRANSCRIBE_POLL_MAX_SECONDS * 1.2 for c in countdowns)

    CaptionJob.objects.filter(pk=job.pk).update(
        managed_stt_started_at=timezone.now() - timedelta(
            seconds=settings.TRANSCRIBE_JOB_TIMEOUT_SECONDS + 1))
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "managed_stt_timeout"
    assert "did not finish this recording" in job.error_message
    assert reservation(job).status == ReservationStatus.RELEASED
    assert not polls, "polling stops with the job"


def test_an_attempt_started_again_finds_the_running_transcribe_job_instead_of_paying_twice(
    managed, polls, submit
):
    managed.polls_to_complete = 2
    job = run(submit())
    # The polls were lost and the lease ran out: the outbox sweep starts a new attempt.
    polls.clear()
    CaptionJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())
    job = run(job)
    assert job.attempts == 2 and job.status == JobStatus.PROCESSING
    assert len(managed.started()) == 1
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert len(managed.started()) == 1
    assert CostReservation.objects.filter(job_id=job.pk, kind="stt_managed").count() == 1

    # A poll delivered twice after the end does nothing.
    transcribe_managed_poll.apply(args=(str(job.pk),))
    assert not polls


def test_a_duplicate_delivery_while_transcribe_works_is_ignored(managed, polls, submit):
    job = run(submit())
    again = services.caption_job_run(job_id=job.pk)
    assert again is None
    assert len(managed.started()) == 1 and len(polls) == 1


def test_deleting_a_managed_job_deletes_what_transcribe_left_in_the_bucket(
    managed, polls, submit, user, django_capture_on_commit_callbacks
):
    job = run(submit())
    drive(polls)
    prefix = f"transcribe/{job.pk}/"
    assert [k for k in s3_keys() if k.startswith(prefix)], "Transcribe wrote its result"
    with django_capture_on_commit_callbacks(execute=True):
        services.caption_job_delete(job=job, actor=user)
    assert not [k for k in s3_keys() if k.startswith(prefix)]


def test_a_container_transcribe_cannot_read_is_sent_as_wav_under_the_prefix(
    managed, polls, submit, user, video_plan, shared_media, tmp_path
):
    mkv = tmp_path / "talk.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i",
                    str(shared_media / "jfk.flac"), "-c:a", "libvorbis", str(mkv)],
                   check=True, timeout=60)
    job = run(submit("talk.mkv", mkv.read_bytes()))
    [start] = managed.started()
    assert start.body["MediaFormat"] == "wav"
    assert start.body["Media"]["MediaFileUri"].endswith(f"transcribe/{job.pk}/audio.wav")
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.transcript.duration_seconds == pytest.approx(11.0, abs=0.1)


def test_language_code_and_custom_vocabulary_follow_the_settings(managed, polls, submit,
                                                                 settings):
    settings.TRANSCRIBE_LANGUAGE_CODE = "en-GB"
    settings.TRANSCRIBE_VOCABULARY_NAME = "brand-names"
    managed.vocabularies.add("brand-names")
    job = run(submit())
    [start] = managed.started()
    assert start.body["LanguageCode"] == "en-GB" and "IdentifyLanguage" not in start.body
    assert start.body["Settings"] == {"VocabularyName": "brand-names"}
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.engine_versions["stt"]["vocabulary_name"] == "brand-names"


def test_language_identification_uses_the_configured_candidates(managed, polls, submit,
                                                                settings):
    settings.TRANSCRIBE_LANGUAGE_OPTIONS = ("en-US", "es-US")
    settings.TRANSCRIBE_VOCABULARY_NAME = "brand-names"
    managed.vocabularies.add("brand-names")
    run(submit())
    [start] = managed.started()
    assert start.body["IdentifyLanguage"] is True
    assert start.body["LanguageOptions"] == ["en-US", "es-US"]
    assert start.body["LanguageIdSettings"] == {
        "en-US": {"VocabularyName": "brand-names"}, "es-US": {"VocabularyName": "brand-names"}}


def test_a_cancelled_job_stops_polling(managed, polls, submit, user):
    job = run(submit())
    services.caption_job_cancel(job=job, actor=user)
    drive(polls)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not polls
    assert [r.target for r in managed.requests] == ["StartTranscriptionJob"]
