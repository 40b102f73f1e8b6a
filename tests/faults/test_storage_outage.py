"""The S3 endpoint refusing, for uploads and for running jobs (quality bar 25).

Media is stored through a moto server of the test's own (moto keeps its objects in this
process, so a server started again on the same port finds them), which the test stops.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from captions import services
from captions.models import CaptionJob, JobStatus, MediaAsset
from tests.faults.servers import free_port, wait_for
from tests.helpers import png_bytes


class OwnS3:
    def __init__(self):
        self.port = free_port()
        self.server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def own_s3(settings):
    s3 = OwnS3()
    s3.start()
    default = dict(settings.STORAGES["default"])
    # One try per call, so each refusal comes at once; what the app does after the
    # client gives up is the same whatever the client's own retries were.
    default["OPTIONS"] = {
        **default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{s3.port}",
        "client_config": Config(connect_timeout=2, read_timeout=5,
                                retries={"max_attempts": 1, "mode": "standard"}),
    }
    settings.STORAGES = {**settings.STORAGES, "default": default}  # Django resets storages
    yield s3
    s3.stop()


@pytest.mark.django_db
def test_api_upload_while_storage_refuses_answers_503_and_keeps_no_rows(own_s3, api):
    """Quality bar 25: the S3 endpoint refuses: a clear 503 with Retry-After, and no
    database row points at a missing object."""
    own_s3.stop()
    response = api.post("/api/v1/jobs/", {
        "file": SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png"),
        "variant_count": 1}, format="multipart")
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "60"
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert "file storage is not answering" in body["message"]
    assert not MediaAsset.objects.exists()
    assert not CaptionJob.objects.exists()


def submit_held(user, django_capture_on_commit_callbacks):
    """Submit an image job, keeping its task until the caller sends it."""
    upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.caption_job_submit(owner=user, upload=upload,
                                          options={"variant_count": 1})
    return job, callbacks


def job_now(job) -> CaptionJob:
    return CaptionJob.objects.get(pk=job.pk)


def test_job_waits_saying_storage_is_unavailable_and_finishes_when_it_answers_again(
    own_s3, user, user_client, celery_worker_thread, settings,
    django_capture_on_commit_callbacks,
):
    """Quality bar 25: the S3 endpoint refuses while a job runs: the job waits, saying
    why, retried with backoff, and finishes once storage answers again."""
    settings.TASK_RETRY_BACKOFF_BASE_SECONDS = 0.5
    settings.TASK_RETRY_BACKOFF_MAX_SECONDS = 1.0
    settings.CAPTION_JOB_MAX_ATTEMPTS = 10
    job, send = submit_held(user, django_capture_on_commit_callbacks)
    own_s3.stop()
    for callback in send:
        callback()
    wait_for(lambda: job_now(job).error_code == "storage_unavailable", 30,
             "the job to say it waits for storage")
    status = user_client.get(f"/jobs/{job.pk}/status.json").json()
    assert status["status"] == "queued" and not status["is_final"]
    assert "file storage is not answering" in status["error_message"]

    own_s3.start()
    wait_for(lambda: job_now(job).status in (JobStatus.DONE, JobStatus.FAILED), 60,
             "the job to finish")
    finished = job_now(job)
    assert (finished.status, finished.error_code) == (JobStatus.DONE, "")
    assert finished.attempts >= 2
    assert finished.captions.count() == 1


def test_job_fails_saying_storage_was_unavailable_when_it_stays_down(
    own_s3, user, api, celery_worker_thread, settings, django_capture_on_commit_callbacks,
):
    """Quality bar 25: the S3 endpoint keeps refusing: bounded retries, then a clear
    failure that says storage was unavailable (not a generic internal error)."""
    settings.TASK_RETRY_BACKOFF_BASE_SECONDS = 0.2
    settings.TASK_RETRY_BACKOFF_MAX_SECONDS = 0.5
    settings.CAPTION_JOB_MAX_ATTEMPTS = 2
    job, send = submit_held(user, django_capture_on_commit_callbacks)
    own_s3.stop()
    for callback in send:
        callback()
    wait_for(lambda: job_now(job).status in (JobStatus.DONE, JobStatus.FAILED), 60,
             "the job to end")
    failed = job_now(job)
    assert [e.to_status for e in failed.events.all()] == [
        "queued", "processing", "queued", "processing", "failed"]
    error = api.get(f"/api/v1/jobs/{job.pk}/").json()["error"]
    assert error == {
        "code": "storage_unavailable",
        "message": "Our file storage was not answering, so this file could not be processed. "
                   "Your upload is kept: retry the job in a few minutes.",
    }
