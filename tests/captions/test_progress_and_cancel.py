"""A running job shows honest progress with the time left, and a cancel stops it mid-way.

Real speech (two minutes of the reference clips), the real tiny.en weights, a worker
thread running the real pipeline, and the customer's cancel from another connection.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import CostReservation, ReservationStatus
from captions import services
from captions.models import CaptionJob, JobStage, JobStatus, Transcript
from tests.helpers import joined_recording

pytestmark = pytest.mark.django_db(transaction=True)

CLIPS = ["jfk.flac", "librispeech_1089-134686-0001.wav", "librispeech_1221-135766-0001.wav",
         "librispeech_1221-135766-0002.wav", "librispeech_1272-141231-0002.flac",
         "picovoice_leopard_test_1272-128104-0000.wav"]


@pytest.fixture
def two_minutes_of_speech(shared_media, tmp_path):
    """The six reference clips joined twice (about 137 s), as one FLAC file."""
    return joined_recording([shared_media / name for name in CLIPS * 2],
                            tmp_path / "speech.flac")


@pytest.fixture
def real_tiny_model(settings, tmp_path):
    settings.WHISPER_MODEL = "tiny.en"
    settings.WHISPER_ENGINE = "openai-whisper"
    settings.WHISPER_SAMPLE_LEN = 224
    settings.WHISPER_BATCH_SIZE = 2  # small batches: progress after every minute of audio
    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path / "whisper")
    settings.CAPTION_JOB_PROGRESS_SECONDS = 0.2


def submit(user, path) -> CaptionJob:
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    return services.caption_job_submit(owner=user, upload=upload,
                                       options={"variant_count": 1})


def run_in_worker(job: CaptionJob) -> tuple[threading.Thread, list]:
    outcome: list = []

    def work():
        from django.db import connection

        try:
            outcome.append(services.caption_job_run(job_id=job.pk))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def wait_for(job: CaptionJob, predicate, seconds: float = 300) -> CaptionJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if predicate(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job never reached the expected state: {job.status} {job.progress}")


def test_progress_moves_while_transcribing_with_the_time_left(
    user, user_client, api, two_minutes_of_speech, real_tiny_model
):
    job = submit(user, two_minutes_of_speech)
    thread, outcome = run_in_worker(job)
    seen = set()
    try:
        job = wait_for(job, lambda j: (j.stage == JobStage.TRANSCRIBING
                                       and j.progress_eta_at is not None))
        seen.add(job.progress)
        status = user_client.get(f"/jobs/{job.pk}/status.json").json()
        assert 20 < status["progress"] < 80
        assert status["seconds_left"] is not None and status["seconds_left"] >= 0
        assert status["time_left_display"].endswith("left")
        assert api.get(f"/api/v1/jobs/{job.pk}/").json()["seconds_left"] >= 0
        page = user_client.get(f"/jobs/{job.pk}/").content.decode()
        assert 'id="job-time-left"' in page
        while thread.is_alive():
            job.refresh_from_db()
            if job.stage == JobStage.TRANSCRIBING:
                seen.add(job.progress)
            time.sleep(0.05)
    finally:
        thread.join(timeout=600)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, (outcome, job.error_message)
    # Progress moved through several values while transcribing, never backwards past 80.
    assert len(seen) >= 3 and max(seen) <= 79, sorted(seen)
    assert job.seconds_left is None  # no estimate once the job is done


def test_cancelling_a_running_job_stops_the_transcription_part_way(
    user, two_minutes_of_speech, real_tiny_model, monkeypatch
):
    from captions.services import pipeline

    # The shares of the audio the engine reported as decoded, on their way to the job.
    shares: list[float] = []
    real_progress = pipeline._transcription_progress

    def recorded(job):
        report = real_progress(job)

        def spy(share: float) -> None:
            shares.append(share)
            report(share)
        return spy

    monkeypatch.setattr(pipeline, "_transcription_progress", recorded)
    job = submit(user, two_minutes_of_speech)
    thread, outcome = run_in_worker(job)
    try:
        job = wait_for(job, lambda j: j.stage == JobStage.TRANSCRIBING and j.progress > 20)
        services.caption_job_cancel(job=job, actor=user)
    finally:
        thread.join(timeout=600)
    assert not thread.is_alive()
    assert outcome == [None]  # the attempt ended quietly: the job was cancelled
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    # The engine stopped with most of the audio left to decode, and no transcript.
    assert shares and max(shares) < 0.9, shares[-5:]
    assert not Transcript.objects.filter(job=job).exists()
    # Nothing was charged for the transcription it did not finish.
    stt_holds = CostReservation.objects.filter(job_id=job.pk, kind="stt")
    assert [h.status for h in stt_holds] == [ReservationStatus.RELEASED]
