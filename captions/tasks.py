"""Celery tasks for captions: thin shells around ``captions.services``.

Registered names keep their old ``workers.tasks.`` prefix, so messages queued by an
earlier release during a deploy still find their task.
"""

import json
import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

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
def caption_job_process(self, job_id: str) -> None:
    try:
        services.caption_job_run(job_id=job_id)
    except Exception as exc:
        logger.exception("caption job %s attempt crashed", job_id)
        if services.caption_job_attempt_crashed(job_id=job_id):
            raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc


def stt_worker_ready(**_kwargs) -> bool:
    """Load the model as the worker starts and say so; False when it could not be loaded.

    Connected to ``worker_process_init``, which both the solo pool (in the worker's own
    process) and the prefork pool (in each child) send before taking tasks, so the model
    lives in the process that uses it and CUDA is never initialised before a fork.
    """
    if not settings.WHISPER_PRELOAD:
        return False
    loaded = services.stt_preload()
    if loaded is None:
        return False
    logger.info("speech-to-text ready: model %s (sha256 %s) on %s", loaded.name,
                loaded.checkpoint_sha256[:12], loaded.device)
    if settings.WHISPER_READY_FILE:
        with open(settings.WHISPER_READY_FILE, "w") as fh:
            json.dump({"model": loaded.name, "checkpoint_sha256": loaded.checkpoint_sha256,
                       "device": loaded.device}, fh)
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
