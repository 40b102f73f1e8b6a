"""Celery tasks for captions: thin shells around ``captions.services``.

Registered names keep their old ``workers.tasks.`` prefix, so messages queued by an
earlier release during a deploy still find their task.
"""

import json
import logging
import uuid

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import close_old_connections

from config import metrics
from config.outages import outage_of, task_retry_with_backoff
from config.outbox import outbox_sweep

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=services.jobs.CAPTION_JOB_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def caption_job_process(self, job_id: str, attempt_chain: str = "") -> dict:
    return _attempt_run(self, services.caption_job_run, job_id, attempt_chain)


def _attempt_run(task, run, job_id: str, attempt_chain: str) -> dict:
    """Run ``run`` (an attempt, or its continuation) and retry it when it crashed.

    A message without a chain (sent by the outbox, or queued by an earlier release)
    starts one; its retries carry it, so each retry is recognised as the successor of
    the attempt that crashed (``caption_job_start``), and a second delivery is not.
    Returns what Celery's "Task ... succeeded" line shows: the task ran, and the job's
    status (a failed job is logged as an error with its code when it is finished).
    """
    chain = attempt_chain or uuid.uuid4().hex
    token = services.caption_job_attempt_token(chain=chain, execution=task.request.retries)
    try:
        job = run(job_id=job_id, attempt_token=token)
    except Exception as exc:
        service = outage_of(exc)
        if service is None:
            logger.exception("caption job %s attempt crashed", job_id)
        elif service == "database":
            # A connection the database dropped stays unusable for the rest of this run;
            # a fresh one records the crash if the database is back already.
            close_old_connections()
        if services.caption_job_attempt_crashed(job_id=job_id, error=exc):
            raise task_retry_with_backoff(
                task, exc, kwargs={**task.request.kwargs, "attempt_chain": chain}
            ) from exc
        return {"job_id": job_id, "status": "attempt crashed, not retried"}
    if job is None:
        return {"job_id": job_id, "status": "nothing to do"}
    return {"job_id": job_id, "status": job.status, "error_code": job.error_code}


@shared_task(
    bind=True,
    name="captions.tasks.transcribe_managed_poll",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def transcribe_managed_poll(self, job_id: str, attempt_chain: str = "") -> dict:
    """Ask Amazon Transcribe about a handed-off job; it schedules itself again while the
    job runs, and continues the job on this worker once Transcribe has finished."""
    if attempt_chain or services.caption_job_managed_poll(job_id=job_id):
        # A retry (attempt_chain set) is the continuation that crashed: go on with it.
        return _attempt_run(self, services.caption_job_resume_managed, job_id, attempt_chain)
    return {"job_id": job_id, "status": "waiting for Amazon Transcribe"}


@shared_task(
    name=services.burn_in.BURN_IN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
)
def burn_in_export_process(export_id: str) -> dict:
    """Render one burned-in export. A second delivery while the first renders does
    nothing; a worker that died is replaced by the outbox sweep once its lease ran out."""
    export = services.burn_in_export_run(export_id=export_id)
    if export is None:
        return {"export_id": export_id, "status": "nothing to do"}
    return {"export_id": export_id, "status": export.status, "error_code": export.error_code}


@shared_task(name="captions.tasks.stt_overflow_sweep")
def stt_overflow_sweep() -> int:
    """Move jobs stuck in the GPU queue to the managed engine (overflow; celery beat)."""
    return services.stt_overflow_sweep()


def stt_worker_ready(**_kwargs) -> bool:
    """Load the model as the worker starts and say so; False when it could not be loaded.

    Connected to ``worker_process_init``, which both the solo pool (in the worker's own
    process) and the prefork pool (in each child) send before taking tasks, so the model
    lives in the process that uses it and CUDA is never initialised before a fork.
    """
    if not settings.WHISPER_PRELOAD:
        return False
    loaded = services.stt_preload()
    # Scraped through the multiprocess registry: 0 while a worker that should have a model
    # has none, absent once its process is gone (either alerts: infra/observability).
    metrics.WORKER_READY.labels(model=settings.WHISPER_MODEL.rsplit("/", 1)[-1],
                                device=settings.WHISPER_DEVICE).set(loaded is not None)
    if loaded is None:
        return False
    logger.info("speech-to-text ready: model %s (sha256 %s) on %s", loaded.name,
                loaded.checkpoint_sha256[:12], loaded.device)
    if settings.WHISPER_READY_FILE:
        with open(settings.WHISPER_READY_FILE, "w") as fh:
            json.dump({"model": loaded.name, "checkpoint_sha256": loaded.checkpoint_sha256,
                       "device": loaded.device}, fh)
    # Routing (overflow policy) sends jobs to the GPU queue only while a worker beats.
    if settings.STT_GPU_HEARTBEAT_SECONDS > 0:
        services.gpu_heartbeat_start(worker_id=services.gpu_worker_id())
    return True


worker_process_init.connect(stt_worker_ready, weak=False)


@shared_task(name="workers.tasks.caption_jobs_requeue_stale")
def caption_jobs_requeue_stale() -> int:
    """Kept for messages queued by an earlier release: the outbox sweep does this now."""
    return outbox_sweep(sources=["caption_job"])["caption_job"]


@shared_task(name="workers.tasks.caption_retention_purge")
def caption_retention_purge() -> dict:
    """Delete uploads and results past their plan's retention (run by celery beat)."""
    return services.caption_retention_purge()


@shared_task(name="workers.tasks.direct_uploads_sweep")
def direct_uploads_sweep() -> int:
    """Delete objects of direct uploads that never became a job (run by celery beat)."""
    return services.direct_uploads_sweep()
