"""What a finished job tells operations: its metrics and one log line saying how it ended.

Called once the job's final state is committed (``jobs._transition``), in whichever
process made the change: the worker for done and failed jobs, the web for a cancel.
"""

from __future__ import annotations

import contextvars
import logging
import os

from django.db import transaction

from config import metrics
from config.log_context import log_context_bind

from ..models import CaptionJob, JobStatus
from ..selectors import queue_for_media_kind

logger = logging.getLogger(__name__)


def _stt_labels(job: CaptionJob) -> tuple[str, str]:
    stt = (job.engine_versions or {}).get("stt") or {}
    engine = (stt.get("engine") or "none").split(",")[0].strip() or "none"
    model = os.path.basename(str(stt.get("model") or "none"))
    return engine, model


def caption_job_finished_observe(*, job_id, job: CaptionJob | None = None) -> None:
    """Count the job's outcome, stages, media seconds, real-time factor, tokens and cost,
    and log how it ended (a failure as an error with its code).

    ``job``: the row as committed (read under its lock in the finishing transaction, with
    its asset), so it is not read again; else it is read here."""
    if job is None:
        job = CaptionJob.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:
        return
    with log_context_bind(job_id=job.pk, user_id=job.owner_id):
        engine, model = _stt_labels(job)
        queue = queue_for_media_kind(job.asset.kind, job.stt_engine)
        metrics.JOBS_FINISHED.labels(outcome=job.status, error_code=job.error_code,
                                     queue=queue).inc()
        metrics.TOKENS.labels(direction="input").inc(job.input_tokens)
        metrics.TOKENS.labels(direction="output").inc(job.output_tokens)
        metrics.JOB_TOKENS.labels(direction="input").observe(job.input_tokens)
        metrics.JOB_TOKENS.labels(direction="output").observe(job.output_tokens)
        metrics.COST.inc(job.cost_micro_usd / 1_000_000)
        metrics.JOB_COST.observe(job.cost_micro_usd / 1_000_000)
        extra = {"status": job.status, "error_code": job.error_code,
                 "cost_micro_usd": job.cost_micro_usd, "attempts": job.attempts}
        if job.status == JobStatus.DONE:
            for stage, seconds in (job.stage_seconds or {}).items():
                metrics.STAGE_SECONDS.labels(stage=stage).observe(seconds)
            media_seconds = float(job.asset.duration_seconds or 0)
            transcribing = (job.stage_seconds or {}).get("transcribing") or 0
            if media_seconds > 0 and engine != "none":
                metrics.MEDIA_SECONDS.labels(engine=engine).inc(media_seconds)
                if transcribing > 0:
                    metrics.REAL_TIME_FACTOR.labels(engine=engine, model=model).observe(
                        media_seconds / transcribing)
            logger.info("caption job done", extra={**extra, "media_seconds": media_seconds})
        elif job.status == JobStatus.FAILED:
            logger.error("caption job failed: %s", job.error_code,
                         extra={**extra, "error_message": job.error_message[:500],
                                "error_detail": job.error_detail[:2000]})
        else:
            logger.info("caption job %s", job.status, extra=extra)


def caption_job_finished_on_commit(*, job_id, job: CaptionJob | None = None) -> None:
    """Observe the job once the transaction that finished it commits (never if it rolls back),
    with the log ids bound where it finished (the request id its task carried). ``job``:
    the row as that transaction leaves it (see ``caption_job_finished_observe``)."""
    context = contextvars.copy_context()
    transaction.on_commit(
        lambda: context.run(caption_job_finished_observe, job_id=job_id, job=job))
