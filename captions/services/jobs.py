"""Caption jobs: submission, the state machine and its lease, cancel, retry and delete.

Every change of a job's status goes through ``_transition``, which locks the row,
checks ``ALLOWED_TRANSITIONS`` and writes a ``JobEvent`` in the same transaction. A job's
task is sent through the outbox once the job's rows are committed; a job left queued
(its message lost) is sent again by the outbox sweep.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from billing import cost_ledger
from billing import quotas as billing_quotas
from billing import services as billing_services
from billing.cost_ledger import CostCapExceeded
from config.errors import ApplicationError
from config.log_context import log_context
from config.outbox import Message, outbox_send, outbox_send_on_commit
from config.transactions import atomic_joined
from engines import caption_writer, stt
from webhooks import services as webhook_services
from webhooks.models import OutboundEventType

from .. import storage
from ..failures import failure_message
from ..models import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    CaptionJob,
    CaptionVariant,
    JobEvent,
    JobStage,
    JobStatus,
    SttEngine,
    Transcript,
)
from ..options import caption_options_validate
from ..selectors import queue_for_media_kind
from ..uploads import clean_original_name
from . import assets, burn_in, reuse, routing
from .results import SttCharge
from .statements import job_update_with_rows
from .telemetry import caption_job_finished_on_commit

logger = logging.getLogger(__name__)

# Registered task names stay as they were, so messages queued during a deploy still run.
CAPTION_JOB_TASK = "workers.tasks.caption_job_process"


class JobCancelled(Exception):
    """Raised inside the pipeline when the job was cancelled while it ran."""


class InvalidTransition(ApplicationError):
    """409: the job's status does not allow the change (e.g. retrying a finished job)."""

    def __init__(self, job: CaptionJob, to_status: str):
        super().__init__(
            f"A {job.get_status_display().lower()} job cannot become {to_status}.",
            code="invalid_transition", status=409,
        )


# --- Submission ------------------------------------------------------------------------


def caption_job_admission_check(*, owner, media_seconds: float = 0, language: str = "",
                                now: datetime | None = None) -> None:
    """Refuse early (no lock) a job the owner's plan would not admit now; see billing.quotas."""
    billing_quotas.quota_admission_check(user=owner, media_seconds=media_seconds,
                                         language=language, now=now)


def _job_create(*, owner, asset, clean: dict, message: str) -> CaptionJob:
    """Admit the job under the owner's quotas and create it, in the caller's transaction.

    The admission comes first: it locks the owner's account until the commit, so the
    owner's jobs get their creation times in the order they commit, and a client that
    follows the list by ``created_after`` never misses one that committed late."""
    job_id = uuid.uuid4()
    billing_quotas.quota_admit(user=owner, job_id=job_id,
                               media_seconds=asset.duration_seconds or 0,
                               language=clean["language"])
    job = CaptionJob.objects.create(id=job_id, owner=owner, asset=asset, **clean,
                                    **routing.caption_job_route_fields(kind=asset.kind))
    JobEvent.objects.create(job=job, to_status=JobStatus.QUEUED, stage=job.stage, actor=owner,
                            message=message)
    outbox_send_on_commit(caption_job_message(job=job))
    return job


def caption_job_submit(*, owner, upload, options: dict, fresh: bool = False) -> CaptionJob:
    """Check the options, the file and the quotas; store the upload; create and queue the job.

    The same file (by content) with the same options as one of the owner's finished jobs
    is answered from that job's results at no charge (``reuse``), unless ``fresh``.

    Raises ApplicationError: 400 for bad options (naming each), what
    ``assets.media_check`` raises for the file, 429 over a quota (checked before the
    upload is stored, and again under the owner's lock as the job is created: a request
    that lost that race leaves nothing stored), 503 when storage does not answer.
    """
    clean = caption_options_validate(options)
    with assets.upload_local_path(upload) as path:
        checked = assets.media_check(owner=owner, size=upload.size, path=path)
    source = None if fresh else reuse.caption_job_reusable(
        owner=owner, sha256=checked.sha256, clean=clean)
    if source is not None:
        with transaction.atomic():
            job = reuse.caption_job_reuse(owner=owner, source=source,
                                          original_name=clean_original_name(upload.name or ""))
            _job_event_publish(job=job, event_type=OutboundEventType.JOB_COMPLETED)
        return job
    caption_job_admission_check(owner=owner, media_seconds=checked.duration_seconds,
                                language=clean["language"])
    asset = assets.media_asset_store(owner=owner, upload=upload, checked=checked)
    try:
        with transaction.atomic():
            return _job_create(owner=owner, asset=asset, clean=clean, message="Submitted")
    except Exception:
        assets.media_asset_discard(asset=asset)
        raise


def caption_job_submit_from_upload(*, owner, upload_id, options: dict) -> CaptionJob:
    """Create a job from a finished direct upload, after checking the object's bytes.

    Raises ApplicationError: 400 for bad options, 404 for an unknown (or another user's)
    upload, 409 when nothing was uploaded yet or the upload was already used, as
    ``assets.media_check`` does for the file (the uploaded object is then deleted), 429
    over a quota.
    """
    clean = caption_options_validate(options)
    caption_job_admission_check(owner=owner, language=clean["language"])
    with transaction.atomic():
        upload, asset = assets.direct_upload_claim(owner=owner, upload_id=upload_id)
        try:
            with transaction.atomic():
                job = _job_create(owner=owner, asset=asset, clean=clean,
                                  message="Submitted from a direct upload")
                assets.direct_upload_mark_used(upload=upload, job=job)
        except Exception:
            storage.object_delete(asset.file.name)
            raise
    return job


# --- Queues and the outbox -----------------------------------------------------------------


def caption_job_queue(*, job: CaptionJob) -> str:
    """Jobs with sound go to the speech-to-text queue that GPU workers serve; images do not.

    A job runs as one task (probe, transcribe, write) so that its attempts, redelivery
    and cancellation stay one state machine; the stages around transcription are short
    next to it. The README section "Queues" explains the choice.
    """
    return queue_for_media_kind(job.asset.kind, job.stt_engine)


def caption_job_message(*, job: CaptionJob, countdown: float | None = None) -> Message:
    return Message(task=CAPTION_JOB_TASK, args=(str(job.pk),), queue=caption_job_queue(job=job),
                   countdown=countdown, subject=f"caption job {job.pk}",
                   headers={**log_context(), "job_id": str(job.pk),
                            "user_id": str(job.owner_id)})


def caption_job_enqueue(*, job_id, countdown: float | None = None) -> bool:
    """Send the job's task now. Never raises; False when the broker refused it."""
    job = CaptionJob.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:
        return False
    return outbox_send(caption_job_message(job=job, countdown=countdown))


def caption_jobs_pending(*, cutoff: datetime, now: datetime) -> list[Message]:
    """The outbox's view of jobs: those whose task was lost, to be sent again.

    A queued job nobody picked up since ``cutoff`` (an hour more for a job waiting for
    the hourly cap, whose task is scheduled up to an hour ahead), and a processing job
    whose worker's lease ran out (the worker died). They are touched, so the next sweep
    waits a full period again. Sending a job twice is harmless: ``caption_job_start``
    lets only one attempt run.
    """
    stale = (
        CaptionJob.objects.filter(status=JobStatus.QUEUED, deferrals=0, updated_at__lt=cutoff)
        | CaptionJob.objects.filter(status=JobStatus.QUEUED, deferrals__gt=0,
                                    updated_at__lt=cutoff - timedelta(hours=1))
        | CaptionJob.objects.filter(status=JobStatus.PROCESSING, lease_expires_at__lt=now)
    )
    jobs = list(stale.select_related("asset")[:500])
    CaptionJob.objects.filter(pk__in=[job.pk for job in jobs]).update(updated_at=now)
    return [caption_job_message(job=job) for job in jobs]


# --- The state machine ---------------------------------------------------------------------


# A change made by someone other than the job's owner (support staff) is audited.
STAFF_AUDITED = {JobStatus.QUEUED: AuditAction.JOB_RETRIED,
                 JobStatus.CANCELLED: AuditAction.JOB_CANCELLED}


def _transition(
    job_id, to_status: str, *, actor=None, message: str = "", audited: bool = True,
    locked: CaptionJob | None = None, unlocked: CaptionJob | None = None,
    rows: tuple = (), **fields
) -> CaptionJob:
    """Move a job to ``to_status`` under its row lock, with its event and quota hold.

    ``locked``: the job's row as already locked (``select_for_update``) by the caller in
    this transaction, so it is not read and locked a second time. ``unlocked``: the
    caller's copy of the row, not locked: the change applies only while the job's status
    is still the copy's (the UPDATE takes the lock and checks it), else InvalidTransition
    with the caller's transaction to roll back. ``rows``: lists of unsaved rows (results)
    written in the same statement as the change and its event. In the caller's
    transaction when one is open (no savepoint: a refused transition raises before any
    write), else in its own.
    """
    with atomic_joined():
        return _transition_locked(job_id, to_status, actor=actor, message=message,
                                  audited=audited, locked=locked, unlocked=unlocked,
                                  rows=rows, **fields)


def _transition_locked(job_id, to_status: str, *, actor, message: str, audited: bool,
                       locked: CaptionJob | None, unlocked: CaptionJob | None, rows: tuple,
                       **fields) -> CaptionJob:
    condition = None
    if locked is not None and locked.pk == job_id:
        job = locked
    elif unlocked is not None and unlocked.pk == job_id:
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("an unlocked transition must run in the caller's transaction")
        job, condition = unlocked, unlocked.status
    else:
        job = CaptionJob.objects.select_for_update().get(pk=job_id)
    if to_status not in ALLOWED_TRANSITIONS[job.status]:
        raise InvalidTransition(job, to_status)
    from_status = job.status
    now = timezone.now()
    if to_status == JobStatus.QUEUED:
        fields.setdefault("queued_at", now)  # how long the queue has kept it
    values = {**fields, "status": to_status, "updated_at": now}
    event = JobEvent(job_id=job.pk, from_status=from_status, to_status=to_status,
                     stage=fields.get("stage", job.stage), actor=actor, message=message[:2000])
    # One statement: the job's row, its event and the rows that come with the change.
    current = job_update_with_rows(job.pk, status=condition, values=values,
                                   rows=([event], *rows))
    if current is None:
        raise InvalidTransition(CaptionJob.objects.get(pk=job.pk), to_status)
    for name, value in {**values, **current}.items():
        setattr(job, name, value)
    # The minutes the job held under the plan's quota: counted as usage once it is done
    # (the usage ledger has them then), free again when it failed or was cancelled.
    if to_status == JobStatus.DONE:
        billing_quotas.quota_hold_settle(job_id=job.pk)
    elif to_status in FINAL_STATUSES:
        billing_quotas.quota_hold_release(job_id=job.pk)
    if to_status in FINAL_STATUSES:
        # A job done is the worker's row as this change left it, with its asset.
        caption_job_finished_on_commit(
            job_id=job.pk, job=job if to_status == JobStatus.DONE else None)
    if audited and _by_staff(job, actor) and to_status in STAFF_AUDITED:
        audit_record(action=STAFF_AUDITED[to_status], target=job, actor=actor,
                     subject_user=job.owner, before={"status": from_status},
                     after={"status": to_status})
    return job


def caption_job_set_stage(*, job: CaptionJob, stage: str, progress: int,
                          eta_at: datetime | None = None, stt_engine: str = "") -> None:
    """Record progress (and, while it is known, when the stage should end); raises
    JobCancelled if the customer cancelled meanwhile.

    ``stt_engine``: transcription begins on that engine, fixed in the same statement
    (``stt_started_at`` set once; ``routing.stt_engine_for_attempt`` says which).
    """
    now = timezone.now()
    fields = {}
    if stt_engine:
        fields = {"stt_engine": stt_engine,
                  "stt_started_at": Coalesce(F("stt_started_at"), Value(now))}
    updated = CaptionJob.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
        stage=stage, progress=progress, progress_eta_at=eta_at, updated_at=now, **fields
    )
    if not updated:
        raise JobCancelled()
    job.stage, job.progress, job.progress_eta_at = stage, progress, eta_at
    if stt_engine:
        job.stt_engine = stt_engine


def caption_job_defer(*, job: CaptionJob, refusal: CostCapExceeded) -> CaptionJob:
    """Put a job back to wait for its owner's hourly cost cap to reset, then resume it.

    The attempt does not count against CAPTION_JOB_MAX_ATTEMPTS. After
    CAPTION_JOB_MAX_DEFERRALS waits the job fails with the cap's message instead, so a
    job never waits forever.
    """
    if job.deferrals >= settings.CAPTION_JOB_MAX_DEFERRALS:
        return caption_job_fail(
            job_id=job.pk, code="cost_cap_exceeded",
            detail=f"{refusal.message} (waited {job.deferrals} times)",
            facts={"cap": refusal.message, "waits": job.deferrals},
        )
    resets_at = refusal.details["resets_at"]
    with transaction.atomic():
        job = _transition(
            job.pk, JobStatus.QUEUED,
            message=f"Waiting for the hourly cost cap to reset at {resets_at}",
            stage=JobStage.WAITING, progress=0,
            attempts=max(job.attempts - 1, 0), deferrals=job.deferrals + 1,
            error_code="waiting_for_budget",
            error_message=failure_message("waiting_for_budget", {"cap": refusal.message}),
            error_detail=refusal.message,
        )
        outbox_send_on_commit(caption_job_message(job=job, countdown=refusal.retry_after + 1))
    return job


def caption_job_storage_wait(*, job_id, detail: str = "") -> CaptionJob | None:
    """Put a job whose attempt could not read its upload back in the queue, saying why.

    The attempt still counts against CAPTION_JOB_MAX_ATTEMPTS, so the waits are bounded.
    Returns None when the job is no longer processing (cancelled meanwhile).
    """
    with transaction.atomic():
        job = CaptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.PROCESSING:
            return None
        return _transition(
            job.pk, JobStatus.QUEUED, message="Waiting for file storage to answer",
            stage=JobStage.WAITING, progress=0, lease_expires_at=None,
            error_code="storage_unavailable",
            error_message=failure_message("storage_unavailable", waiting=True),
            error_detail=detail,
        )


def caption_job_event_data(*, job: CaptionJob) -> dict:
    """What a webhook tells about a job: enough to act on without another request."""
    api = f"{settings.SITE_URL.rstrip('/')}/api/v1/jobs/{job.pk}/"
    failed = job.status == JobStatus.FAILED
    return {
        "job": {
            "id": str(job.pk),
            "status": job.status,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "error": {"code": job.error_code, "message": job.error_message} if failed else None,
            "links": {
                "self": api,
                "transcript": f"{api}transcript.json",
                "captions": f"{api}captions/",
            },
        }
    }


def _job_event_publish(*, job: CaptionJob, event_type: str) -> None:
    # Same transaction as the status change: the event exists if and only if the change
    # does, and it is sent once the change is committed.
    webhook_services.webhook_event_publish(
        owner=job.owner, event_type=event_type, data=caption_job_event_data(job=job)
    )


def caption_job_fail(*, job_id, code: str, detail: str = "", facts: dict | None = None,
                     actor=None) -> CaptionJob:
    """Fail a job with ``code``: the customer reads that code's message (``captions.failures``,
    filled with ``facts``); ``detail``, for operators only, is kept in ``error_detail`` (the
    admin, the job's events and the failure's log line)."""
    message = failure_message(code, facts)
    with transaction.atomic():
        job = _transition(
            job_id,
            JobStatus.FAILED,
            actor=actor,
            message=f"{message} ({detail})" if detail else message,
            error_code=code[:50],
            error_message=message,
            error_detail=detail,
            finished_at=timezone.now(),
        )
        _job_event_publish(job=job, event_type=OutboundEventType.JOB_FAILED)
    return job


def caption_job_cancel(*, job: CaptionJob, actor) -> CaptionJob:
    """Cancel a queued or running job. Raises ApplicationError(409) for a finished one."""
    return _transition(
        job.pk,
        JobStatus.CANCELLED,
        actor=actor,
        message="Cancelled",
        stage=JobStage.FINISHED,
        finished_at=timezone.now(),
    )


def caption_job_retry(*, job: CaptionJob, actor) -> CaptionJob:
    """Queue a failed job again with a fresh attempt count.

    The job is admitted again under its owner's quotas, in the same transaction: a
    customer's own retry must fit them like a new job (429 otherwise); a retry by
    support staff is admitted (its minutes held) without that check.
    """
    if job.asset.purged_at is not None:
        raise ApplicationError(
            "This job's upload was deleted under your plan's retention period, so it cannot "
            "run again. Upload the file again to start a new job.",
            code="media_purged", status=409,
        )
    with transaction.atomic():
        # The job's row first, as completion locks it (then the owner's account): one
        # order of locks, and a job that cannot be retried is a 409 before any quota.
        # Only a failed job is retried (processing -> queued is the cost cap's wait).
        locked = CaptionJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != JobStatus.FAILED:
            raise InvalidTransition(locked, JobStatus.QUEUED)
        billing_quotas.quota_admit(
            user=job.owner, job_id=job.pk, media_seconds=job.asset.duration_seconds or 0,
            language=job.language, enforce=actor is not None and actor.pk == job.owner_id,
        )
        job = _transition(
            job.pk,
            JobStatus.QUEUED,
            actor=actor,
            message="Retried",
            stage=JobStage.WAITING,
            progress=0,
            attempts=0,
            error_code="",
            error_message="",
            error_detail="",
            finished_at=None,
        )
        outbox_send_on_commit(caption_job_message(job=job))
    return job


def _files_delete(keys: list[str]) -> None:
    for key in keys:
        storage.file_delete(key)


def caption_job_complete(
    *,
    job: CaptionJob,
    transcript: stt.TranscriptionResult | None,
    duration_seconds: float,
    captions: caption_writer.CaptionResult,
    engine_versions: dict,
    stt_charge: SttCharge | None = None,
) -> CaptionJob:
    """Store the results and mark the job done, in one transaction with what follows from
    it: the transcription's cost settled (``stt_charge``) and shown on the job, the quota
    hold settled, the usage record, the webhook event. Raises InvalidTransition (all of it
    rolled back) when the job was cancelled meanwhile."""
    settle = stt_charge is not None and not stt_charge.settled
    # Results are written only here, with the change to done (final), so a job being
    # completed has none yet: no earlier attempt's rows to replace.
    results = [[CaptionVariant(job_id=job.pk, position=i, text=text, writer=captions.writer,
                               language=captions.language)
                for i, text in enumerate(captions.variants)]]
    if transcript is not None:
        results.append([Transcript(
            job_id=job.pk,
            language=transcript.language,
            text=transcript.text,
            segments=[s.as_dict() for s in transcript.segments],
            duration_seconds=duration_seconds,
            summary=captions.summary,
            chapters=[{"start": c.start, "title": c.title} for c in captions.chapters],
        )])
    with transaction.atomic():
        # The job's row first (then the cost window, then the owner's account): the
        # UPDATE locks it, and applies only while the job is still processing.
        done = _transition(
            job.pk,
            JobStatus.DONE,
            unlocked=job,
            rows=tuple(results),
            message="Done",
            stage=JobStage.FINISHED,
            progress=100,
            engine_versions=engine_versions,
            prompt_id=captions.prompt_id,
            prompt_version=captions.prompt_version,
            stage_seconds=job.stage_seconds,
            finished_at=timezone.now(),
            **({"stt_cost_micro_usd": stt_charge.amount_micros} if settle else {}),
        )
        if settle:  # after the job's lock, as everywhere: job, cost window, account
            cost_ledger.cost_reservation_settle(key=stt_charge.key,
                                                actual_micros=stt_charge.amount_micros,
                                                window_id=stt_charge.window_id)
        # In the same transaction: a job is in the usage ledger exactly when it is done.
        billing_services.usage_record_job(
            user=job.owner, job_id=done.pk,
            audio_seconds=duration_seconds if transcript is not None else 0,
        )
        _job_event_publish(job=done, event_type=OutboundEventType.JOB_COMPLETED)
    if settle:
        stt_charge.settled = True
    return done


def _by_staff(job: CaptionJob, actor) -> bool:
    return actor is not None and actor.pk != job.owner_id


def caption_job_delete(*, job: CaptionJob, actor) -> None:
    """Delete a job with its results and, unless another job uses it, its media.

    A queued or running job is cancelled first (a worker running it stops at its next
    stage). Storage objects are removed once the deletion is committed.
    """
    with transaction.atomic():
        locked = CaptionJob.objects.select_for_update().select_related("asset").get(pk=job.pk)
        before = {"status": locked.status}
        if locked.status not in FINAL_STATUSES:
            # The deletion is what staff did: the cancel on the way is not audited apart.
            _transition(locked.pk, JobStatus.CANCELLED, actor=actor, audited=False,
                        message="Cancelled to be deleted", stage=JobStage.FINISHED,
                        finished_at=timezone.now())
        if _by_staff(locked, actor):
            audit_record(action=AuditAction.JOB_DELETED, target=locked, actor=actor,
                         subject_user=locked.owner, before=before, after={"deleted": True})
        asset = locked.asset
        if locked.stt_engine == SttEngine.MANAGED:  # Transcribe's result and audio go too
            managed_files = storage.transcribe_files_prefix(job_id=locked.pk)
            transaction.on_commit(lambda: storage.prefix_delete(managed_files))
        burn_in.burn_in_exports_delete(exports_=locked.burn_ins.all())
        locked.delete()
        if not CaptionJob.objects.filter(asset=asset).exists():
            keys = asset.stored_keys  # the upload and its preview
            asset.delete()
            transaction.on_commit(lambda: _files_delete(keys))
    logger.info("job %s deleted by %s", job.pk, getattr(actor, "pk", None))
