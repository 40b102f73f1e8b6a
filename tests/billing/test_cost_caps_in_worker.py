"""The worker reserves before each paid step and settles after it; a refused step waits.

Real pipeline, real Bedrock SDK against the local fake, real ledger in PostgreSQL.
"""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import cost_ledger
from billing import services as billing_services
from billing.models import CostCapOverride, CostReservation, CostWindow, ReservationStatus
from captions import services
from captions.models import CaptionJob, JobStatus, ModelCall

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "casual", "length": "short", "platform": "instagram", "language": "en",
           "variant_count": 2}


def set_cap(user, micros: int) -> None:
    CostCapOverride.objects.update_or_create(user=user, defaults={"hourly_cap_micros": micros})


@pytest.fixture
def translating_user(user):
    """The Bedrock fake answers in the requested language: a plan that may choose it."""
    from tests.factories import SubscriptionFactory

    SubscriptionFactory(user=user, plan_code="creator")
    return user


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    from captions.tasks import caption_job_process

    monkeypatch.setattr(caption_job_process, "apply_async",
                        lambda args, queue, countdown=None, **_: calls.append((args[0], countdown)))
    return calls


@pytest.fixture
def submit(user, shared_media, django_capture_on_commit_callbacks):
    def submit(name="jfk.flac"):
        upload = SimpleUploadedFile(name, (shared_media / name).read_bytes())
        with django_capture_on_commit_callbacks(execute=False):
            return services.caption_job_submit(owner=user, upload=upload, options=OPTIONS)
    return submit


def run(job, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_each_paid_step_is_reserved_then_settled_at_its_actual_cost(
    translating_user, user, submit, fake_bedrock, settings, django_capture_on_commit_callbacks
):
    set_cap(user, 5_000_000)
    job = run(submit(), django_capture_on_commit_callbacks)
    assert job.status == JobStatus.DONE, job.error_message

    stt = CostReservation.objects.get(key=f"stt:{job.pk}")
    assert stt.status == ReservationStatus.SETTLED
    assert stt.settled_micros == services.stt_cost_micros(11.0) > 0
    [call] = ModelCall.objects.filter(job=job)
    llm = CostReservation.objects.get(key=f"llm:{job.pk}:{call.attempt}:{call.call_index}")
    assert llm.status == ReservationStatus.SETTLED
    assert llm.settled_micros == call.cost_micro_usd == job.cost_micro_usd > 0
    assert llm.reserved_micros >= llm.settled_micros, "the reservation covers the worst case"
    window = CostWindow.objects.get(user=user)
    assert window.reserved_micros == 0
    assert window.settled_micros == stt.settled_micros + job.cost_micro_usd


def test_llm_call_over_the_cap_is_never_made_and_the_job_waits_for_the_next_window(
    translating_user, user, submit, fake_bedrock, enqueued, django_capture_on_commit_callbacks
):
    # Enough for transcribing 11 s, not for the caption call's worst case.
    set_cap(user, services.stt_cost_micros(11.0) + 1_000)
    job = run(submit(), django_capture_on_commit_callbacks)

    assert job.status == JobStatus.QUEUED
    assert job.error_code == "waiting_for_budget"
    assert "Hourly API cost cap reached" in job.error_message
    assert "continues by itself" in job.error_message
    assert (job.attempts, job.deferrals) == (0, 1)
    assert fake_bedrock.requests == [] and not ModelCall.objects.exists()
    [(job_id, countdown)] = enqueued
    assert job_id == str(job.pk) and 1 < countdown <= 3601

    # The next window: the cap has room again and the job resumes on its own task.
    set_cap(user, 5_000_000)
    job = run(job, django_capture_on_commit_callbacks)
    assert job.status == JobStatus.DONE, job.error_message
    assert job.attempts == 1
    # Transcription was paid once, although it ran twice.
    assert CostReservation.objects.filter(job_id=job.pk, kind="stt").count() == 1
    window = CostWindow.objects.get(user=user)
    assert window.settled_micros == services.stt_cost_micros(11.0) + job.cost_micro_usd


def test_job_that_waited_too_often_fails_naming_the_cap(
    translating_user, user, submit, fake_bedrock, enqueued, settings,
    django_capture_on_commit_callbacks,
):
    settings.CAPTION_JOB_MAX_DEFERRALS = 1
    set_cap(user, 1_000)  # not even the transcription fits
    job = run(submit(), django_capture_on_commit_callbacks)
    assert job.status == JobStatus.QUEUED and job.deferrals == 1
    job = run(job, django_capture_on_commit_callbacks)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "cost_cap_exceeded"
    assert "Hourly API cost cap reached" in job.error_message
    assert not CostReservation.objects.filter(job_id=job.pk).exists()


def test_failing_llm_call_releases_its_reservation_and_costs_nothing(
    translating_user, user, submit, fake_bedrock, settings, django_capture_on_commit_callbacks
):
    settings.LLM_MAX_TRIES = 2
    set_cap(user, 5_000_000)
    fake_bedrock.script("500", "500")
    job = run(submit(), django_capture_on_commit_callbacks)
    assert job.status == JobStatus.FAILED
    llm = CostReservation.objects.get(job_id=job.pk, kind="llm")
    assert llm.status == ReservationStatus.RELEASED and llm.settled_micros is None
    window = CostWindow.objects.get(user=user)
    assert window.reserved_micros == 0
    assert window.settled_micros == services.stt_cost_micros(11.0)


def test_the_attempt_starts_with_its_transcription_reserved_in_the_same_transaction(
    translating_user, user, submit
):
    set_cap(user, 5_000_000)
    job, hold = services.caption_job_start_reserving(job_id=submit().pk)
    assert job.status == JobStatus.PROCESSING and job.attempts == 1
    held = CostReservation.objects.get(key=f"stt:{job.pk}")
    assert (held.status, held.reserved_micros) == (ReservationStatus.RESERVED,
                                                   services.stt_cost_micros(11.0))
    assert (hold.key, hold.amount_micros, hold.window_id) == (
        held.key, held.reserved_micros, held.window_id)
    assert CostWindow.objects.get(user=user).reserved_micros == held.reserved_micros
    # A duplicate delivery neither starts the job nor reserves again.
    assert services.caption_job_start_reserving(job_id=job.pk) == (None, None)
    assert CostReservation.objects.filter(job_id=job.pk).count() == 1


def test_a_hold_the_attempt_never_transcribed_with_is_released(
    translating_user, user, submit, fake_bedrock, monkeypatch, django_capture_on_commit_callbacks
):
    from engines import media

    set_cap(user, 5_000_000)
    job = submit()
    monkeypatch.setattr(media, "probe", lambda path, **_: media.MediaInfo(
        format_name="flac", duration_seconds=11.0, has_audio=False, has_video=False))
    job = run(job, django_capture_on_commit_callbacks)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "no_media_streams")
    held = CostReservation.objects.get(key=f"stt:{job.pk}")
    assert held.status == ReservationStatus.RELEASED and held.settled_micros is None
    window = CostWindow.objects.get(user=user)
    assert (window.reserved_micros, window.settled_micros) == (0, 0)
    assert job.stt_cost_micro_usd == 0 and job.stt_started_at is None


def test_sixth_job_within_an_hour_on_free_is_refused_with_retry_after(user_client, user,
                                                                       shared_media):
    options = {**OPTIONS, "language": ""}  # choosing the language is not on Free
    data = (shared_media / "jfk.flac").read_bytes()
    for _ in range(5):
        response = user_client.post("/jobs/new/", {**options, "file": SimpleUploadedFile(
            "jfk.flac", data)})
        assert response.status_code == 302
    response = user_client.post("/jobs/new/", {**options, "file": SimpleUploadedFile(
        "jfk.flac", data)})
    assert response.status_code == 429
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert "5 jobs in the last hour; the Free plan allows 5 an hour" in response.content.decode()
    assert CaptionJob.objects.filter(owner=user).count() == 5


def test_free_minutes_used_up_refuse_new_jobs_until_the_period_renews(user_client, user,
                                                                       shared_media):
    billing_services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=30 * 60)
    response = user_client.post("/jobs/new/", {**OPTIONS, "file": SimpleUploadedFile(
        "jfk.flac", (shared_media / "jfk.flac").read_bytes())})
    assert response.status_code == 429
    body = response.content.decode()
    assert "used all 30 audio minutes included in the Free plan" in body
    assert int(response["Retry-After"]) > 0
    assert not CaptionJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_call_that_returns_after_its_job_was_deleted_is_still_charged(user, settings):
    from django.db import IntegrityError

    from engines import caption_writer as llm
    from tests.factories import CaptionJobFactory

    set_cap(user, 5_000_000)
    job = CaptionJobFactory(owner=user, status=JobStatus.PROCESSING)
    key = f"llm:{job.pk}:1:0"
    cost_ledger.cost_reservation_create(user=user, key=key, amount_micros=90_000,
                                             kind="llm", job_id=job.pk)
    CaptionJob.objects.filter(pk=job.pk).delete()  # the customer deleted it mid-call
    record = llm.CallRecord(call_index=0, purpose="captions", backend="bedrock", model="m",
                            prompt_id="p", prompt_version="1", status="succeeded", tries=1,
                            input_tokens=1000, output_tokens=500, cost_micro_usd=42_000)
    with pytest.raises(IntegrityError):
        services.model_call_record(job=job, attempt=1, record=record)
    reservation = CostReservation.objects.get(key=key)
    assert (reservation.status, reservation.settled_micros) == ("settled", 42_000)
    assert CostWindow.objects.get(user=user).settled_micros == 42_000
