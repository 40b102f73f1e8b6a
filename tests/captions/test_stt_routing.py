"""Which engine a job gets: the deployment's policy, GPU readiness and the GPU queue's age.

Readiness is what GPU workers write to Redis; the queue's age is the oldest job waiting
for the GPU queue. The load tests run a real Celery worker that serves only the
default queue (the GPU queue is stalled: nobody takes its messages) against the
Transcribe fake.
"""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone

from billing.models import CostReservation, ReservationStatus
from captions import services
from captions.models import CaptionJob, JobStatus, SttEngine
from config.errors import ApplicationError
from tests.factories import CaptionJobFactory, MediaAssetFactory, UserFactory
from tests.test_admin_support import support_client  # noqa: F401 - the fixture

OPTIONS = {"tone": "casual", "length": "short", "platform": "youtube", "variant_count": 1}


@pytest.fixture
def overflow(settings):
    settings.STT_ROUTING_POLICY = "overflow"
    settings.STT_OVERFLOW_QUEUE_WAIT_SECONDS = 60
    settings.STT_GPU_HEARTBEAT_SECONDS = 30
    return settings


def gpu_job_waiting_since(seconds_ago: float) -> CaptionJob:
    """A job in the GPU queue that no worker has taken for ``seconds_ago`` seconds."""
    job = CaptionJobFactory(stt_engine=SttEngine.SELF_HOSTED)
    CaptionJob.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - timedelta(seconds=seconds_ago))
    return job


# --- The decision ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_self_hosted_policy_sends_sound_to_the_gpu_queue_and_images_need_no_engine(settings):
    settings.STT_ROUTING_POLICY = "self_hosted"
    assert services.stt_route_decide(kind="audio") == (SttEngine.SELF_HOSTED,
                                                        "Policy: self-hosted only")
    assert services.stt_route_decide(kind="image") == ("", "")


@pytest.mark.django_db
def test_overflow_with_no_gpu_worker_ready_goes_managed(overflow):
    assert services.gpu_workers_ready() == 0
    assert services.stt_route_decide(kind="video") == (SttEngine.MANAGED,
                                                        "Overflow: no GPU worker is ready")


@pytest.mark.django_db
def test_overflow_with_a_healthy_gpu_queue_stays_self_hosted(overflow):
    services.gpu_worker_heartbeat(worker_id="gpu-host-1:1")
    gpu_job_waiting_since(5)
    engine, reason = services.stt_route_decide(kind="audio")
    assert engine == SttEngine.SELF_HOSTED
    assert reason.startswith("Overflow: 1 GPU worker(s) ready")


@pytest.mark.django_db
def test_overflow_spills_when_the_gpu_queues_oldest_job_waited_past_the_limit(overflow):
    services.gpu_worker_heartbeat(worker_id="gpu-host-1:1")
    gpu_job_waiting_since(300)
    # Jobs waiting for their owner's cost cap are not waiting for a GPU.
    CaptionJob.objects.filter(pk=gpu_job_waiting_since(900).pk).update(
        error_code="waiting_for_budget")
    assert 299 < services.gpu_queue_oldest_wait_seconds() < 310
    engine, reason = services.stt_route_decide(kind="audio")
    assert engine == SttEngine.MANAGED
    assert "oldest job has waited 30" in reason and "(limit 60 s)" in reason


@pytest.mark.django_db
def test_a_gpu_worker_counts_as_ready_while_it_beats_and_not_after_it_stops(overflow):
    overflow.STT_GPU_HEARTBEAT_SECONDS = 1
    stop = services.gpu_heartbeat_start(worker_id="gpu-host-2:7")
    deadline = time.monotonic() + 5
    while services.gpu_workers_ready() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.gpu_workers_ready() == 1
    stop.set()
    deadline = time.monotonic() + 5
    while services.gpu_workers_ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.gpu_workers_ready() == 0


# --- Staff's choice and "never on both engines" --------------------------------------------------


@pytest.mark.django_db
def test_staff_force_a_queued_job_onto_the_managed_engine_from_the_admin(
    support_client, settings, django_capture_on_commit_callbacks  # noqa: F811
):
    job = CaptionJobFactory(stt_engine=SttEngine.SELF_HOSTED, stt_route_reason="Policy")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = support_client.post("/admin/captions/captionjob/", {
            "action": "use_managed_engine", "_selected_action": [str(job.pk)]})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.stt_engine == SttEngine.MANAGED
    assert job.stt_route_reason.startswith("Forced by staff")
    assert services.caption_job_queue(job=job) == settings.CAPTIONS_DEFAULT_QUEUE
    assert len(queued) == 1, "the job is sent to the managed engine's queue"
    event = job.events.last()
    assert event.actor == support_client.agent and "Managed" in event.message
    assert LogEntry.objects.filter(object_id=str(job.pk), user=support_client.agent).exists()


@pytest.mark.django_db
def test_once_an_engine_began_the_job_cannot_be_moved_to_the_other(
    support_client, user  # noqa: F811
):
    job = CaptionJobFactory(status=JobStatus.FAILED, stt_engine=SttEngine.SELF_HOSTED,
                            stt_started_at=timezone.now())
    response = support_client.post("/admin/captions/captionjob/", {
        "action": "use_managed_engine", "_selected_action": [str(job.pk)]}, follow=True)
    assert "can no longer change" in response.content.decode()
    job.refresh_from_db()
    assert job.stt_engine == SttEngine.SELF_HOSTED

    running = CaptionJobFactory(status=JobStatus.PROCESSING, stt_engine=SttEngine.MANAGED)
    with pytest.raises(ApplicationError) as refused:
        services.caption_job_stt_engine_force(job=running, engine=SttEngine.SELF_HOSTED,
                                              actor=user)
    assert refused.value.status == 409


@pytest.mark.django_db
def test_the_engine_is_fixed_as_transcription_begins_on_the_gpu(user, shared_media, settings):
    settings.STT_ROUTING_POLICY = "self_hosted"
    upload = SimpleUploadedFile("jfk.flac", (shared_media / "jfk.flac").read_bytes())
    job = services.caption_job_submit(owner=user, upload=upload, options=OPTIONS)
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.stt_started_at is not None and job.engine_versions["stt"]["model"] == "micro.pt"
    assert job.stt_cost_micro_usd == services.stt_cost_micros(11.0)
    assert CostReservation.objects.get(key=f"stt:{job.pk}").kind == "stt"
    with pytest.raises(ApplicationError):
        services.caption_job_stt_engine_force(job=job, engine=SttEngine.MANAGED, actor=user)


# --- Under load, with a real worker --------------------------------------------------------------


@pytest.fixture
def default_queue_worker(transactional_db, settings):
    """A worker for the default queue only: nothing takes the GPU queue's messages."""
    from config.celery_app import app

    with start_worker(app, pool="solo", perform_ping_check=False,
                      queues=[settings.CAPTIONS_DEFAULT_QUEUE], loglevel="WARNING",
                      shutdown_timeout=30) as worker:
        yield worker
    connections.close_all()


def wait_final(job_ids, timeout=90) -> list[CaptionJob]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(CaptionJob.objects.filter(pk__in=job_ids))
        if all(j.is_final for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"not final: {[(j.pk, j.status, j.stage) for j in jobs]}")


def submit_via_api(api, shared_media, name="jfk.flac"):
    # A fresh run each time: the same file with the same options would otherwise be
    # answered from the result cache once an earlier job has finished.
    response = api.post("/api/v1/jobs/", {"file": SimpleUploadedFile(
        name, (shared_media / name).read_bytes()), **OPTIONS, "fresh": "true"},
        format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_a_job_submitted_while_no_gpu_worker_is_ready_finishes_on_the_managed_engine(
    overflow, fake_transcribe, default_queue_worker, api, user, shared_media
):
    job_id = submit_via_api(api, shared_media)
    [job] = wait_final([job_id])
    assert job.status == JobStatus.DONE, job.error_message
    assert (job.stt_engine, job.stt_route_reason) == (SttEngine.MANAGED,
                                                      "Overflow: no GPU worker is ready")
    assert job.engine_versions["stt"]["engine"] == "aws-transcribe"
    assert "model" not in job.engine_versions["stt"], "Whisper never ran"
    assert [r.target for r in fake_transcribe.requests].count("StartTranscriptionJob") == 1
    held = CostReservation.objects.get(key=f"stt:{job.pk}")
    assert (held.kind, held.status, held.settled_micros) == (
        "stt_managed", ReservationStatus.SETTLED, job.stt_cost_micro_usd)
    assert job.stt_cost_micro_usd == services.managed_cost_micros(11.0) == 6000
    assert api.get(f"/api/v1/jobs/{job_id}/").json()["speech_to_text"]["engine"] == "managed"


@pytest.mark.django_db(transaction=True)
def test_with_the_gpu_queue_stalled_jobs_spill_over_and_finish_and_with_it_healthy_none_do(
    overflow, fake_transcribe, default_queue_worker, api, user, shared_media
):
    # A GPU worker beats and takes a job into its queue, which then stops moving.
    services.gpu_worker_heartbeat(worker_id="gpu-host-1:1")
    stuck_id = submit_via_api(api, shared_media)
    stuck = CaptionJob.objects.get(pk=stuck_id)
    assert stuck.stt_engine == SttEngine.SELF_HOSTED
    CaptionJob.objects.filter(pk=stuck_id).update(
        queued_at=timezone.now() - timedelta(seconds=300))

    # New jobs spill to the managed engine, and the sweep moves the one already stuck.
    spilled = [submit_via_api(api, shared_media) for _ in range(3)]
    assert {CaptionJob.objects.get(pk=i).stt_engine for i in spilled} == {SttEngine.MANAGED}
    assert services.stt_overflow_sweep() == 1
    jobs = wait_final([*spilled, stuck_id])
    assert {(j.status, j.stt_engine) for j in jobs} == {(JobStatus.DONE, SttEngine.MANAGED)}
    stuck = CaptionJob.objects.get(pk=stuck_id)
    assert stuck.stt_route_reason.startswith("Overflow: waited 3")
    assert len(fake_transcribe.started()) == 4
    assert services.stt_overflow_sweep() == 0

    # The GPU queue is healthy: new jobs stay on it, and Transcribe sees none of them.
    healthy = [submit_via_api(api, shared_media) for _ in range(2)]
    jobs = list(CaptionJob.objects.filter(pk__in=healthy))
    assert {(j.stt_engine, services.caption_job_queue(job=j)) for j in jobs} == {
        (SttEngine.SELF_HOSTED, "gpu")}
    assert services.stt_overflow_sweep() == 0
    time.sleep(1)
    assert len(fake_transcribe.started()) == 4
    assert all(j.status == JobStatus.QUEUED for j in CaptionJob.objects.filter(pk__in=healthy))


@pytest.mark.django_db
def test_the_overflow_sweep_leaves_jobs_alone_under_other_policies_and_once_begun(overflow):
    begun = gpu_job_waiting_since(600)
    CaptionJob.objects.filter(pk=begun.pk).update(stt_started_at=timezone.now())
    budget = gpu_job_waiting_since(600)
    CaptionJob.objects.filter(pk=budget.pk).update(error_code="waiting_for_budget")
    assert services.stt_overflow_sweep() == 0
    waiting = gpu_job_waiting_since(600)
    overflow.STT_ROUTING_POLICY = "self_hosted"
    assert services.stt_overflow_sweep() == 0
    overflow.STT_ROUTING_POLICY = "overflow"
    assert services.stt_overflow_sweep() == 1
    waiting.refresh_from_db()
    assert waiting.stt_engine == SttEngine.MANAGED
    assert "s in the GPU queue (limit 60 s)" in waiting.events.last().message


@pytest.mark.django_db
def test_old_jobs_without_an_engine_run_on_the_gpu_as_before(user):
    asset = MediaAssetFactory(owner=UserFactory())
    job = CaptionJobFactory(owner=asset.owner, asset=asset, stt_engine="")
    assert services.caption_job_queue(job=job) == "gpu"


@pytest.mark.django_db
def test_the_capacity_planner_gets_the_real_split_of_finished_jobs_by_engine():
    from captions.selectors import stt_engine_split
    from tests.factories import TranscriptFactory

    now = timezone.now()
    for engine, seconds in [(SttEngine.MANAGED, 60.0), (SttEngine.MANAGED, 30.5),
                            (SttEngine.SELF_HOSTED, 100.0), ("", 10.0)]:
        TranscriptFactory(job__stt_engine=engine, job__finished_at=now,
                          duration_seconds=seconds)
    TranscriptFactory(job__stt_engine=SttEngine.MANAGED, job__status=JobStatus.FAILED,
                      job__finished_at=now, duration_seconds=999)
    split = stt_engine_split(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert split == {"self_hosted": {"jobs": 2, "audio_seconds": 110.0},
                     "managed": {"jobs": 2, "audio_seconds": 90.5}}
