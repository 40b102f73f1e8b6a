"""A worker process killed with SIGKILL in the middle of a job (quality bar 22).

A real Celery worker process takes the job; the test kills it with SIGKILL while the
job is processing. Its lease runs out, the requeue sweep sends the job again, a new
worker finishes it: exactly one transcript, one set of captions, no double charge.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from billing.models import CostReservation
from captions import services
from captions.models import CaptionJob, JobStatus, Transcript
from config.outbox import outbox_sweep

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def long_speech(tmp_path, shared_media) -> Path:
    out = tmp_path / "long.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-stream_loop", "20", "-i",
                    str(shared_media / "jfk.flac"), "-ac", "1", "-ar", "16000", str(out)],
                   check=True, timeout=60)
    return out


def test_job_of_a_killed_worker_is_finished_once_by_another(
    user, long_speech, whisper_checkpoint, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CAPTION_JOB_LEASE_SECONDS = 2
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "AWS_S3_ENDPOINT_URL": settings.AWS_S3_ENDPOINT_URL,
        "WHISPER_MODEL": whisper_checkpoint,
        "CAPTION_JOB_LEASE_SECONDS": "2",
    }
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--queues=default,gpu", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        upload = SimpleUploadedFile("long.flac", long_speech.read_bytes())
        with django_capture_on_commit_callbacks(execute=True):
            job = services.caption_job_submit(owner=user, upload=upload,
                                              options={"variant_count": 2})
        wait_for(lambda: CaptionJob.objects.get(pk=job.pk).status == JobStatus.PROCESSING,
                 90, "the worker process to start the job")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        log.close()
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.attempts == 1

    # Nothing renews the dead worker's lease; once it runs out the sweep sends the job
    # again, and a new worker (in this process) finishes it.
    time.sleep(2.2)
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    with start_worker(app, pool="solo", perform_ping_check=False, queues=["default", "gpu"],
                      loglevel="WARNING", shutdown_timeout=30):
        assert outbox_sweep(sources=["caption_job"]) == {"caption_job": 1}
        wait_for(lambda: CaptionJob.objects.get(pk=job.pk).status in
                 (JobStatus.DONE, JobStatus.FAILED), 120, "the job to finish")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.attempts == 2
    assert Transcript.objects.filter(job=job).count() == 1
    assert job.captions.count() == 2
    assert [e.to_status for e in job.events.all()] == ["queued", "processing", "processing",
                                                       "done"]
    stt = CostReservation.objects.get(job_id=job.pk, kind="stt")
    assert stt.status == "settled"
    assert CostReservation.objects.filter(job_id=job.pk).count() == 1
    connection.close()
