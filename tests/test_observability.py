"""Operations can follow a job: its request id in the worker's logs, its figures at /metrics."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client.parser import text_string_to_metric_families

from captions.models import CaptionJob, JobStatus
from captions.tasks import caption_job_process
from config.celery_app import app
from config.log_context import ContextFilter, JsonFormatter
from tests.factories import CaptionJobFactory, UserFactory
from tests.helpers import wav_bytes

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def log_lines(caplog):
    """The JSON lines the console handler would write, with the bound ids filled in."""
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO)
    formatter = JsonFormatter()
    return lambda: [json.loads(formatter.format(r)) for r in caplog.records]


def submit_through_the_api(api, django_capture_on_commit_callbacks, request_id):
    """Upload as a client behind the load balancer; return the job and its unsent task."""
    with django_capture_on_commit_callbacks(execute=False) as unsent:
        response = api.post("/api/v1/jobs/",
                            {"file": SimpleUploadedFile("clip.wav", wav_bytes(2.0))},
                            format="multipart", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == request_id
    return CaptionJob.objects.get(pk=response.json()["id"]), unsent


def test_the_workers_lines_about_a_job_carry_the_request_id_of_its_upload(
        api, user, eager, log_lines, django_capture_on_commit_callbacks):
    job, unsent = submit_through_the_api(api, django_capture_on_commit_callbacks, "lb-7f3a9c")
    # The request is over: only the task's message can bring the id to the worker.
    with django_capture_on_commit_callbacks(execute=True):
        for send in unsent:
            send()
    job.refresh_from_db()
    assert job.status in (JobStatus.DONE, JobStatus.FAILED)
    worker_lines = [line for line in log_lines()
                    if line["logger"].startswith("captions.") and line.get("job_id") == str(job.pk)]
    assert worker_lines, log_lines()
    finished = [line for line in worker_lines if line["message"].startswith("caption job")]
    assert finished
    for line in finished:
        assert (line["request_id"], line["user_id"]) == ("lb-7f3a9c", str(user.pk))


def test_an_amazon_trace_id_becomes_the_request_id_and_a_bad_one_is_replaced(client):
    trace = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"
    response = client.get("/healthz", HTTP_X_AMZN_TRACE_ID=trace)
    assert response["X-Request-ID"] == "1-67891233-abcdef012345678912345678"
    response = client.get("/healthz", HTTP_X_REQUEST_ID='bad id"<script>')
    assert len(response["X-Request-ID"]) == 32 and '"' not in response["X-Request-ID"]


def test_a_failed_job_is_logged_as_a_failure_with_its_code(
        log_lines, django_capture_on_commit_callbacks):
    job = CaptionJobFactory()  # its "wav" is sixteen zero bytes: nothing ffprobe can read
    with django_capture_on_commit_callbacks(execute=True):
        result = caption_job_process.apply(args=[str(job.pk)],
                                           headers={"request_id": "req-broken"}).get()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code
    assert result == {"job_id": str(job.pk), "status": "failed", "error_code": job.error_code}
    [failure] = [line for line in log_lines() if line["message"].startswith("caption job failed")]
    assert failure["level"] == "ERROR"
    assert (failure["error_code"], failure["job_id"], failure["request_id"]) == (
        job.error_code, str(job.pk), "req-broken")
    assert not [line for line in log_lines() if line["message"] == "caption job done"]


def metric_values(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def delta(before, after, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_a_finished_job_shows_in_the_job_counters_stages_tokens_and_cost(
        api, user, admin_client, eager, fake_bedrock, django_capture_on_commit_callbacks):
    before = metric_values(admin_client)
    job, unsent = submit_through_the_api(api, django_capture_on_commit_callbacks, "req-m1")
    with django_capture_on_commit_callbacks(execute=True):
        for send in unsent:
            send()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.input_tokens > 0 and job.cost_micro_usd > 0
    after = metric_values(admin_client)

    assert delta(before, after, "caption_jobs_finished_total",
                 outcome="done", error_code="", queue="gpu") == 1
    for stage, seconds in job.stage_seconds.items():
        assert delta(before, after, "caption_job_stage_seconds_count", stage=stage) == 1
        assert delta(before, after, "caption_job_stage_seconds_sum", stage=stage) == \
            pytest.approx(seconds)
    assert set(job.stage_seconds) == {"probing", "transcribing", "writing"}
    assert delta(before, after, "caption_tokens_total", direction="input") == job.input_tokens
    assert delta(before, after, "caption_tokens_total", direction="output") == job.output_tokens
    assert delta(before, after, "caption_cost_usd_total") == \
        pytest.approx(job.cost_micro_usd / 1_000_000)
    assert delta(before, after, "caption_job_cost_usd_count") == 1
    # Labelled with the engine the job names ("openai-whisper, batched windows" ->
    # "openai-whisper"; "faster-whisper") and its model's file name.
    engine = job.engine_versions["stt"]["engine"].split(",")[0].strip()
    model = Path(job.engine_versions["stt"]["model"]).name
    assert engine and model
    assert delta(before, after, "caption_media_seconds_processed_total",
                 engine=engine) == pytest.approx(2.0, abs=0.05)
    assert delta(before, after, "caption_stt_real_time_factor_count",
                 engine=engine, model=model) == 1
    # The request histograms (django-prometheus) saw the upload.
    assert any(name == "django_http_requests_latency_seconds_by_view_method_count"
               and dict(labels).get("method") == "POST" for name, labels in after)
    assert after[("caption_queue_depth", (("queue", "gpu"),))] == 0


def test_queue_depth_and_age_come_from_the_waiting_jobs(admin_client):
    CaptionJobFactory()
    CaptionJobFactory()
    values = metric_values(admin_client)
    assert values[("caption_queue_depth", (("queue", "gpu"),))] == 2
    assert values[("caption_queue_depth", (("queue", "default"),))] == 0
    assert values[("caption_queue_oldest_age_seconds", (("queue", "gpu"),))] >= 0


def test_a_refused_submission_is_counted(api, user, settings, admin_client):
    from billing.models import CostCapOverride

    CostCapOverride.objects.create(user=user, hourly_cap_micros=0, reason="test")
    before = metric_values(admin_client)
    response = api.post("/api/v1/jobs/", {"file": SimpleUploadedFile("a.wav", wav_bytes())},
                        format="multipart")
    assert response.status_code == 429
    after = metric_values(admin_client)
    assert delta(before, after, "caption_admission_refusals_total",
                 code="cost_cap_exceeded", where="submission") == 1


def test_metrics_need_a_staff_session_or_the_bearer_token(client, settings):
    settings.METRICS_BEARER_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(UserFactory())
    assert client.get("/metrics").status_code == 403
    client.logout()
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200 and b"caption_queue_depth" in response.content


def test_worker_processes_reach_metrics_through_the_multiprocess_folder(
        admin_client, settings, tmp_path):
    # A separate process (as a Celery worker is) records a finished job and its readiness.
    script = (
        "from config import metrics\n"
        "metrics.JOBS_FINISHED.labels(outcome='failed', error_code='no_audio', queue='gpu')"
        ".inc()\n"
        "metrics.WORKER_READY.labels(model='base', device='cuda').set(1)\n"
        "metrics.WORKER_HEARTBEAT.set(1_700_000_000)\n"
        # What the worker's shutdown signal does (config/celery_app.py).
        "import os; metrics.process_exited(os.getpid())\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60,
                   env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    values = metric_values(admin_client)
    assert values[("caption_jobs_finished_total", (("error_code", "no_audio"),
                                                   ("outcome", "failed"), ("queue", "gpu")))] == 1
    # "liveall": the process has exited, so its readiness is gone with it; its last
    # heartbeat stays, for the "no worker alive" alert to measure from.
    assert not [k for k in values if k[0] == "caption_worker_ready"]
    assert values[("caption_worker_heartbeat_timestamp_seconds", ())] == 1_700_000_000


def test_a_worker_container_can_serve_its_own_metrics(tmp_path):
    import socket
    import urllib.request

    from config import metrics

    script = ("from config import metrics\n"
              "metrics.MEDIA_SECONDS.labels(engine='openai-whisper').inc(42)\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60,
                   env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert metrics.worker_exporter_start(port=0) is False
    assert metrics.worker_exporter_start(port=port, folder=str(tmp_path))
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    assert b'caption_media_seconds_processed_total{engine="openai-whisper"} 42.0' in body
