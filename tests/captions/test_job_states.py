"""The job state machine: only allowed transitions happen, each leaves an event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from captions import services
from captions.models import ALLOWED_TRANSITIONS, CaptionJob, JobStatus
from config.errors import ApplicationError
from tests.factories import CaptionJobFactory

pytestmark = pytest.mark.django_db


def test_every_status_has_its_transitions_declared():
    assert set(ALLOWED_TRANSITIONS) == set(JobStatus.values)
    assert ALLOWED_TRANSITIONS[JobStatus.DONE] == frozenset()
    assert ALLOWED_TRANSITIONS[JobStatus.CANCELLED] == frozenset()


def test_queued_job_can_be_cancelled_once(user):
    job = CaptionJobFactory(owner=user)
    services.caption_job_cancel(job=job, actor=user)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.finished_at is not None
    with pytest.raises(ApplicationError) as exc:
        services.caption_job_cancel(job=job, actor=user)
    assert exc.value.status == 409


def test_done_job_cannot_be_failed_or_retried(user):
    job = CaptionJobFactory(owner=user, status=JobStatus.DONE)
    for action in (services.caption_job_retry, services.caption_job_cancel):
        with pytest.raises(ApplicationError):
            action(job=job, actor=user)
    with pytest.raises(ApplicationError):
        services.caption_job_fail(job_id=job.pk, code="x", detail="y")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_failed_job_retried_is_queued_with_fresh_attempts(user, django_capture_on_commit_callbacks):
    job = CaptionJobFactory(owner=user, status=JobStatus.FAILED, attempts=3,
                            error_message="boom")
    with django_capture_on_commit_callbacks() as callbacks:
        services.caption_job_retry(job=job, actor=user)
    assert len(callbacks) == 1, "the job is queued once, after commit"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error_message) == (JobStatus.QUEUED, 0, "")
    event = job.events.last()
    assert (event.from_status, event.to_status, event.actor) == ("failed", "queued", user)


def test_start_increments_attempts_and_gives_up_after_the_limit(user, settings):
    settings.CAPTION_JOB_MAX_ATTEMPTS = 2
    job = CaptionJobFactory(owner=user)
    assert services.caption_job_start(job_id=job.pk).attempts == 1
    # The worker died: its lease runs out and the task is redelivered.
    worker_died(job)
    assert services.caption_job_start(job_id=job.pk).attempts == 2
    worker_died(job)
    assert services.caption_job_start(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "too_many_attempts"
    assert "Retry it" in job.error_message


def worker_died(job):
    CaptionJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_duplicate_delivery_while_the_worker_is_alive_does_nothing(user, settings):
    settings.CAPTION_JOB_LEASE_SECONDS = 600
    job = CaptionJobFactory(owner=user)
    started = services.caption_job_start(job_id=job.pk)
    assert started.lease_expires_at > timezone.now() + timedelta(seconds=590)
    # The broker's visibility timeout passed while the job ran: a second delivery.
    assert services.caption_job_start(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.PROCESSING, 1)
    assert services.caption_job_lease_renew(job_id=job.pk) is True


def test_finished_job_is_not_started_again(user):
    job = CaptionJobFactory(owner=user, status=JobStatus.CANCELLED)
    assert services.caption_job_start(job_id=job.pk) is None
    assert CaptionJob.objects.get(pk=job.pk).attempts == 0


def test_other_users_job_is_404_on_every_page(client, user, other_user):
    job = CaptionJobFactory(owner=other_user)
    client.force_login(user)
    for path in ("", "status.json", "transcript.txt"):
        assert client.get(f"/jobs/{job.pk}/{path}").status_code == 404
    for path in ("cancel/", "retry/"):
        assert client.post(f"/jobs/{job.pk}/{path}").status_code == 404
    assert str(job.pk) not in client.get("/").content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_customer_cancels_a_queued_job_from_its_page(user_client, user):
    job = CaptionJobFactory(owner=user)
    response = user_client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "The job was cancelled." in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_status_endpoint_reports_state_stage_and_progress(user_client, user):
    job = CaptionJobFactory(owner=user)
    data = user_client.get(f"/jobs/{job.pk}/status.json").json()
    assert data == {
        "id": str(job.pk), "status": "queued", "status_display": "Queued", "stage": "waiting",
        "stage_display": "Waiting for a worker", "progress": 0, "seconds_left": None,
        "time_left_display": "", "error_message": "", "is_final": False,
    }


@pytest.mark.django_db(transaction=True)
def test_running_attempt_keeps_its_lease_alive_past_the_lease_length(settings):
    import time

    settings.CAPTION_JOB_LEASE_SECONDS = 0.3
    job = services.caption_job_start(job_id=CaptionJobFactory().pk)
    with services.caption_job_lease_heartbeat(job):
        time.sleep(1.0)  # three lease lengths of work
        job.refresh_from_db()
        assert job.lease_expires_at > timezone.now()
        assert services.caption_job_start(job_id=job.pk) is None


def token(chain: str, execution: int) -> str:
    return services.caption_job_attempt_token(chain=chain, execution=execution)


def test_retry_of_a_crashed_attempt_takes_over_its_live_lease_at_once(user, settings):
    settings.CAPTION_JOB_LEASE_SECONDS = 600
    job = CaptionJobFactory(owner=user)
    assert services.caption_job_start(job_id=job.pk, attempt_token=token("c1", 0)) is not None
    # Attempt 1 raised (its code has exited); its task's retry is execution 1 of the chain.
    taken = services.caption_job_start(job_id=job.pk, attempt_token=token("c1", 1))
    assert taken is not None
    assert (taken.status, taken.attempts, taken.attempt_token) == ("processing", 2, "c1:1")
    assert "attempt 1 stopped unexpectedly" in taken.events.last().message
    # The crashed attempt's heartbeat can no longer keep the lease: it is not the holder.
    assert services.caption_job_lease_renew(job_id=job.pk, attempt_token="c1:0") is False
    assert services.caption_job_lease_renew(job_id=job.pk, attempt_token="c1:1") is True


def test_second_delivery_of_a_running_attempt_is_still_ignored(user, settings):
    settings.CAPTION_JOB_LEASE_SECONDS = 600
    job = CaptionJobFactory(owner=user)
    services.caption_job_start(job_id=job.pk, attempt_token=token("c1", 1))
    # The same message again (the same execution), another message of the job (another
    # chain, or one from the previous release with none), and an older execution.
    for claim in (token("c1", 1), token("c2", 5), "", token("c1", 0)):
        assert services.caption_job_start(job_id=job.pk, attempt_token=claim) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.attempt_token) == ("processing", 1, "c1:1")


def test_retry_after_a_storage_wait_starts_the_queued_job_normally(user, settings):
    job = CaptionJobFactory(owner=user)
    services.caption_job_start(job_id=job.pk, attempt_token=token("c1", 0))
    waiting = services.caption_job_storage_wait(job_id=job.pk)
    assert (waiting.status, waiting.error_code) == ("queued", "storage_unavailable")
    assert "file storage is not answering" in waiting.error_message
    started = services.caption_job_start(job_id=job.pk, attempt_token=token("c1", 1))
    assert (started.status, started.attempts, started.error_code) == ("processing", 2, "")


def test_crash_while_the_database_is_unreachable_is_always_retried(user, settings):
    from django.db import OperationalError

    settings.CAPTION_JOB_MAX_ATTEMPTS = 1
    job = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING, attempts=1)
    outage = OperationalError('connection to server at "127.0.0.1", port 5432 failed')
    assert services.caption_job_attempt_crashed(job_id=job.pk, error=outage) is True
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING, "nothing is decided without the database"


def test_storage_crash_on_the_last_attempt_fails_saying_storage_was_unavailable(user, settings):
    from captions.storage import StorageUnavailable

    settings.CAPTION_JOB_MAX_ATTEMPTS = 1
    job = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING, attempts=1)
    error = StorageUnavailable("the file could not be read")
    assert services.caption_job_attempt_crashed(job_id=job.pk, error=error) is False
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "storage_unavailable")
    assert "file storage was not answering" in job.error_message
