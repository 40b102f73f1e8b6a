"""The application's Prometheus metrics, declared once; ``config.health`` serves them.

Web and worker processes record into prometheus_client's registry. With
``PROMETHEUS_MULTIPROC_DIR`` set in the environment before any process starts
(prometheus_client reads it on import), every process writes its samples to files in
that folder and ``/metrics`` merges them all (``MultiProcessCollector``): a worker's
job counters reach Prometheus through the web's scrape, not through its memory.
Without it (one process, the test suite) the process's own registry is read.
"""

from __future__ import annotations

import os
import threading
import time

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

# prometheus_client opens its file in the multiprocess folder as each metric is declared
# below, and a container starts with an empty /tmp (the ECS task definitions name
# /tmp/prometheus): the folder is made before the first declaration.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

STAGE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RTF_BUCKETS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
TOKEN_BUCKETS = (0, 100, 500, 1000, 2000, 5000, 10_000, 50_000, 100_000)
COST_BUCKETS = (0, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)

JOBS_FINISHED = Counter(
    "caption_jobs_finished_total", "Caption jobs that reached a final state.",
    ["outcome", "error_code", "queue"])
STAGE_SECONDS = Histogram(
    "caption_job_stage_seconds", "Seconds a finished job's last attempt spent in each stage.",
    ["stage"], buckets=STAGE_BUCKETS)
MEDIA_SECONDS = Counter(
    "caption_media_seconds_processed_total", "Seconds of audio or video in finished jobs.",
    ["engine"])
REAL_TIME_FACTOR = Histogram(
    "caption_stt_real_time_factor",
    "Audio seconds transcribed per second of transcription, per job.",
    ["engine", "model"], buckets=RTF_BUCKETS)
JOB_TOKENS = Histogram(
    "caption_job_tokens", "Model tokens one finished job used.", ["direction"],
    buckets=TOKEN_BUCKETS)
JOB_COST = Histogram(
    "caption_job_cost_usd", "What one finished job's model calls cost, US dollars.",
    buckets=COST_BUCKETS)
TOKENS = Counter("caption_tokens_total", "Model tokens used by finished jobs.", ["direction"])
COST = Counter("caption_cost_usd_total", "Model cost of finished jobs, US dollars.")
REFUSALS = Counter(
    "caption_admission_refusals_total",
    "Jobs or paid steps refused by a quota or the hourly cost cap.", ["code", "where"])
# "liveall": a worker process that exits takes its value with it, so a dead worker
# reads as absent, not as ready.
WORKER_READY = Gauge(
    "caption_worker_ready", "1 when this worker process has its speech-to-text model loaded.",
    ["model", "device"], multiprocess_mode="liveall")

# Written every WORKER_HEARTBEAT_SECONDS by every worker process; the newest across them
# is kept, so "no worker alive" is time() minus it growing, even for a SIGKILLed worker.
WORKER_HEARTBEAT = Gauge(
    "caption_worker_heartbeat_timestamp_seconds", "When a worker process last said it was alive.",
    multiprocess_mode="max")
WORKER_HEARTBEAT_SECONDS = 15


def worker_heartbeat_start() -> threading.Thread:
    """Beat from a daemon thread for as long as the worker process lives."""
    def beat():
        while True:
            WORKER_HEARTBEAT.set_to_current_time()
            time.sleep(WORKER_HEARTBEAT_SECONDS)

    thread = threading.Thread(target=beat, name="metrics-heartbeat", daemon=True)
    thread.start()
    return thread


def process_exited(pid: int) -> None:
    """Drop a finished process's live gauges (readiness) from the multiprocess folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


def worker_exporter_start(*, port: int, folder: str = "") -> bool:
    """Serve this worker host's metrics on ``port`` (0: off), for Prometheus to scrape
    each worker container directly when the web cannot read the workers' folder.

    Started in the worker's main process; with a multiprocess folder it merges every
    pool process's samples. Plain HTTP without credentials: bind it to the private
    network only (the ECS security group), never a public address.
    """
    if not port:
        return False
    registry = REGISTRY
    if folder:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
    start_http_server(port, registry=registry)
    return True


# Collected at scrape time from the jobs table (config.health.QueueCollector).
QUEUE_DEPTH = "caption_queue_depth"
QUEUE_OLDEST_AGE = "caption_queue_oldest_age_seconds"
