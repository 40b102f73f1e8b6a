"""Which speech-to-text engine transcribes a job: the deployment's policy, per job.

``STT_ROUTING_POLICY`` is ``self_hosted`` (the GPU queue), ``managed`` (Amazon
Transcribe) or ``overflow``. In overflow a new job goes to the managed engine when no
GPU worker is ready or the GPU queue's oldest job has waited longer than
``STT_OVERFLOW_QUEUE_WAIT_SECONDS``; otherwise to the GPU queue. The decision and its
reason are stored on the job as it is created, and the engine is part of the job's
state (``captions.models.STT_ENGINE_CHANGE_STATUSES``): it may be changed, by staff,
only before any engine began transcribing the job, so a job is never transcribed by
both.

Readiness comes from the GPU workers themselves: a worker whose model is loaded writes
its heartbeat to a Redis hash (the cache's Redis) every ``STT_GPU_HEARTBEAT_SECONDS``;
a beat is fresh for three periods; no fresh beat means no GPU worker is ready. The
queue's age is read from the jobs table (the oldest job waiting for the GPU queue),
which the broker's own lists do not tell.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from redis.exceptions import RedisError

from ..models import (
    CaptionJob,
    JobStatus,
    MediaKind,
    SttEngine,
)

logger = logging.getLogger(__name__)

# One Redis hash: worker id -> the time of its last beat (unix seconds). A hash, not a key
# per worker, so counting the ready ones never scans the cache's keys.
HEARTBEATS_KEY = "stt:gpu-ready"
# Beats older than this are a worker that died without saying so: dropped when read.
FORGET_AFTER_SECONDS = 3600


# --- GPU worker readiness ------------------------------------------------------------------


def _redis():
    """The cache's Redis connection; None where the cache is not Redis (local development)."""
    try:
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    except NotImplementedError:
        return None


def gpu_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def gpu_worker_heartbeat(*, worker_id: str) -> None:
    """Say that this GPU worker has its model loaded and takes jobs (fresh for three beats)."""
    client = _redis()
    if client is not None:
        client.hset(HEARTBEATS_KEY, worker_id, str(time.time()))


def gpu_worker_gone(*, worker_id: str) -> None:
    client = _redis()
    if client is not None:
        client.hdel(HEARTBEATS_KEY, worker_id)


def gpu_workers_ready() -> int:
    """How many GPU workers beat within three beats. 0 when Redis does not answer (or is
    not there): with nobody known to be ready, overflow routing goes managed."""
    client = _redis()
    if client is None:
        return 0
    now = time.time()
    try:
        beats = client.hgetall(HEARTBEATS_KEY)
        gone = [w for w, t in beats.items() if now - float(t) > FORGET_AFTER_SECONDS]
        if gone:
            client.hdel(HEARTBEATS_KEY, *gone)
    except RedisError as exc:
        logger.warning("GPU readiness unknown, Redis not answering: %s", exc)
        return 0
    fresh = 3 * max(settings.STT_GPU_HEARTBEAT_SECONDS, 1)
    return sum(1 for t in beats.values() if now - float(t) <= fresh)


def gpu_heartbeat_start(*, worker_id: str) -> threading.Event:
    """Beat from a daemon thread until the returned event is set (the worker stops)."""
    stop = threading.Event()

    def beat():
        while True:
            try:
                gpu_worker_heartbeat(worker_id=worker_id)
            except Exception:  # noqa: BLE001 - a missed beat only makes routing careful
                logger.warning("GPU worker heartbeat not written", exc_info=True)
            if stop.wait(settings.STT_GPU_HEARTBEAT_SECONDS):
                gpu_worker_gone(worker_id=worker_id)
                return

    threading.Thread(target=beat, name="stt-gpu-heartbeat", daemon=True).start()
    return stop


def gpu_queue_oldest_wait_seconds(*, now: datetime | None = None) -> float:
    """How long the oldest job waiting for the GPU queue has waited (0 when none waits).

    Jobs waiting for their owner's cost cap or for storage have a reason on them and are
    not waiting for a GPU, so they do not count.
    """
    now = now or timezone.now()
    oldest = CaptionJob.objects.filter(
        status=JobStatus.QUEUED, stt_engine=SttEngine.SELF_HOSTED, error_code="",
    ).aggregate(oldest=Min("queued_at"))["oldest"]
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


# --- The decision ----------------------------------------------------------------------------


def stt_route_decide(*, kind: str, now: datetime | None = None) -> tuple[str, str]:
    """(engine, reason) for a new job of ``kind``; an image needs no engine ("", "")."""
    if kind == MediaKind.IMAGE:
        return "", ""
    policy = settings.STT_ROUTING_POLICY
    if policy == "self_hosted":
        return SttEngine.SELF_HOSTED, "Policy: self-hosted only"
    if policy == "managed":
        return SttEngine.MANAGED, "Policy: managed only"
    ready = gpu_workers_ready()
    if ready == 0:
        return SttEngine.MANAGED, "Overflow: no GPU worker is ready"
    waited = gpu_queue_oldest_wait_seconds(now=now)
    limit = settings.STT_OVERFLOW_QUEUE_WAIT_SECONDS
    if waited > limit:
        return SttEngine.MANAGED, (f"Overflow: the GPU queue's oldest job has waited "
                                   f"{waited:.0f} s (limit {limit} s)")
    return SttEngine.SELF_HOSTED, (f"Overflow: {ready} GPU worker(s) ready, oldest job "
                                   f"waited {waited:.0f} s")


def caption_job_route_fields(*, kind: str) -> dict:
    """The routing fields a new job is created with."""
    engine, reason = stt_route_decide(kind=kind)
    return {"stt_engine": engine, "stt_route_reason": reason, "queued_at": timezone.now()}


def stt_engine_for_attempt(*, job: CaptionJob) -> str:
    """The engine a running attempt transcribes with: the one on the job as it started.

    It cannot change while the job runs (staff may change it only while the job waits
    or has failed, ``STT_ENGINE_CHANGE_STATUSES``), so the row the attempt locked to start
    says it. The pipeline fixes it with the transcribing stage, in one statement
    (``caption_job_set_stage(stt_engine=...)``). A job made before routing existed has no
    engine recorded: it ran on the GPU queue, so it stays there.
    """
    return job.stt_engine or SttEngine.SELF_HOSTED
