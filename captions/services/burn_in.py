"""Burned-in captions: an MP4 of a finished video job with its subtitles in the picture.

An export is asked for with a style (text size, position, a box behind the text, the
aspect ratio); it is admitted under the plan's quotas like a job (``billing.quotas``,
its id is the ledger's job id), queued through the outbox, and rendered by its own
task (``captions.tasks.burn_in_export_process``) with ``engines.burn_in``. Its video's
seconds are recorded in the usage ledger once, when it is ready; a failed export
releases its hold and can be asked for again, which admits it again without charging
anything twice. The subtitles are the transcript's current version (with the
customer's corrections), cut into cues exactly as the SRT export is.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from billing import quotas as billing_quotas
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.plans import Feature
from config.errors import ApplicationError
from config.log_context import log_context
from config.outbox import Message, outbox_send_on_commit
from engines import burn_in as burn_engine
from engines import media
from engines.errors import PipelineError

from .. import exports, storage
from ..failures import export_failure_message
from ..models import (
    BURN_IN_TRANSITIONS,
    BurnInAspect,
    BurnInExport,
    BurnInFontSize,
    BurnInPosition,
    BurnInStatus,
    CaptionJob,
    JobStatus,
    MediaKind,
    Platform,
    Transcript,
)
from ..options import _clean_bool

logger = logging.getLogger(__name__)

BURN_IN_TASK = "captions.tasks.burn_in_export_process"

# What each platform shows best: vertical for the short-video apps, wide for YouTube and
# X, square for LinkedIn's feed. The customer can choose another ratio, or the original.
PLATFORM_ASPECT = {
    Platform.TIKTOK: BurnInAspect.VERTICAL, Platform.INSTAGRAM: BurnInAspect.VERTICAL,
    Platform.YOUTUBE: BurnInAspect.WIDE, Platform.X: BurnInAspect.WIDE,
    Platform.LINKEDIN: BurnInAspect.SQUARE,
}


class _Superseded(Exception):  # noqa: N818 - not an error: another attempt took over
    """This attempt lost its lease to a redelivery; it stops without changing the export."""


def burn_in_default_aspect(*, job: CaptionJob) -> str:
    return PLATFORM_ASPECT.get(job.platform, BurnInAspect.ORIGINAL)


def burn_in_options_validate(options, *, job: CaptionJob) -> dict:
    """The style, clean: font_size, position, box, aspect (the job's platform's by default).

    Raises ApplicationError(400, code ``invalid_options``) naming each bad field.
    """
    errors: dict[str, str] = {}
    clean: dict = {}
    for name, enum, default in (
        ("font_size", BurnInFontSize, BurnInFontSize.MEDIUM),
        ("position", BurnInPosition, BurnInPosition.BOTTOM),
        ("aspect", BurnInAspect, burn_in_default_aspect(job=job)),
    ):
        value = options.get(name)
        if value in (None, ""):
            clean[name] = str(default)
        elif value in enum.values:
            clean[name] = value
        else:
            errors[name] = f"Choose one of: {', '.join(enum.values)}."
    box = options.get("box")
    clean["box"] = True if box in (None, "") else _clean_bool(box)
    if clean["box"] is None:
        errors["box"] = "Use true or false."
    if errors:
        raise ApplicationError("Some burn-in options are not valid.", code="invalid_options",
                               details=errors)
    return clean


def _burnable_check(job: CaptionJob) -> None:
    if job.asset.kind != MediaKind.VIDEO:
        raise ApplicationError(
            f"Captions can be burned only into a video; this job's upload is an "
            f"{job.asset.kind} file. Download the subtitles (.srt or .vtt) instead.",
            code="burn_in_needs_video", status=400)
    if job.status != JobStatus.DONE:
        raise ApplicationError("Captions can be burned in once the job is done.",
                               code="burn_in_job_not_done", status=409)
    if job.results_purged_at or job.asset.purged_at or not job.asset.file.name:
        raise ApplicationError(
            "This job's video or transcript is no longer kept (your plan keeps them for a "
            "limited time), so captions cannot be burned into it.",
            code="burn_in_media_gone", status=409)


def _transition(export: BurnInExport, to_status: str) -> None:
    if to_status not in BURN_IN_TRANSITIONS[export.status]:
        raise ApplicationError(
            f"A burn-in export that is {export.get_status_display().lower()} cannot become "
            f"{to_status}.", code="invalid_transition", status=409)
    export.status = to_status


def burn_in_export_message(*, export: BurnInExport) -> Message:
    return Message(task=BURN_IN_TASK, args=(str(export.pk),),
                   queue=settings.CAPTIONS_DEFAULT_QUEUE, subject=f"burn-in export {export.pk}",
                   headers={**log_context(), "job_id": str(export.job_id),
                            "user_id": str(export.job.owner_id)})


def burn_in_export_request(*, job: CaptionJob, actor, options) -> tuple[BurnInExport, bool]:
    """Ask for the job's video with its subtitles burned in; returns (export, created).

    The same style of the same transcript version while one is queued, rendering or
    ready returns that one (``created`` False) and charges nothing; a failed one is
    queued again. Raises ApplicationError: 400 for bad options or a job that is not a
    video, 403 on a plan without video, 409 while the job is not done or once its video
    or transcript was deleted, 429 over the plan's quotas (jobs per hour, minutes per
    period, the hourly cost cap), as for a new job.
    """
    clean = burn_in_options_validate(options, job=job)
    _burnable_check(job)
    limits = billing_selectors.plan_limits_for_user(user=job.owner)
    if not limits.has(Feature.VIDEO):
        raise ApplicationError(
            f"Burned-in captions are part of plans with video; the {limits.plan.name} plan "
            "has none. Upgrade on the billing page.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.VIDEO, "plan": limits.plan.code})
    with transaction.atomic():
        # One request at a time per job decides between "the existing one" and "a new one".
        CaptionJob.objects.select_for_update().filter(pk=job.pk).first()
        transcript = Transcript.objects.filter(job=job).first()
        if transcript is None or not transcript.segments:
            raise ApplicationError(
                "This video has no speech in its transcript, so there are no subtitles to "
                "burn in.", code="burn_in_no_subtitles", status=409)
        version = transcript.revisions.count() + 1
        export = (BurnInExport.objects.select_for_update()
                  .filter(job=job, transcript_version=version, **clean)
                  .order_by("-created_at").first())
        if export is not None and export.status != BurnInStatus.FAILED:
            return export, False
        seconds = job.asset.duration_seconds or 0
        if export is None:
            export = BurnInExport(id=uuid.uuid4(), job=job, transcript_version=version,
                                  requested_by=actor, media_seconds=seconds, **clean)
        else:
            _transition(export, BurnInStatus.QUEUED)
            export.progress, export.error_code, export.error_message = 0, "", ""
            export.attempts, export.finished_at, export.lease_expires_at = 0, None, None
            export.requested_by = actor
        billing_quotas.quota_admit(user=job.owner, job_id=export.pk, media_seconds=seconds)
        export.status = BurnInStatus.QUEUED
        export.save()
        outbox_send_on_commit(burn_in_export_message(export=export))
    logger.info("burn-in export %s queued for job %s (%s)", export.pk, job.pk, clean)
    return export, True


def burn_in_exports_pending(*, cutoff: datetime, now: datetime) -> list[Message]:
    """The outbox's view: exports whose task was lost (queued since before ``cutoff``) or
    whose worker died (lease run out); touched so the next sweep waits a full period."""
    stale = (BurnInExport.objects.filter(status=BurnInStatus.QUEUED, updated_at__lt=cutoff)
             | BurnInExport.objects.filter(status=BurnInStatus.RUNNING,
                                           lease_expires_at__lt=now))
    exports_ = list(stale.select_related("job")[:500])
    BurnInExport.objects.filter(pk__in=[e.pk for e in exports_]).update(updated_at=now)
    return [burn_in_export_message(export=e) for e in exports_]


def burn_in_exports_delete(*, exports_) -> int:
    """Delete these exports and, once committed, their MP4s; holds still open are released.

    Used when their job is deleted and when the plan's retention removes the upload or
    the transcript they were made from. Returns how many were deleted.
    """
    rows = list(exports_)
    keys = [e.output_key for e in rows if e.output_key]
    for export in rows:
        if not export.is_final:
            billing_quotas.quota_hold_release(job_id=export.pk)
    BurnInExport.objects.filter(pk__in=[e.pk for e in rows]).delete()
    if keys:
        transaction.on_commit(lambda: [storage.file_delete(key) for key in keys])
    return len(rows)


# --- Rendering (the task) ----------------------------------------------------------------


def _claim(export_id) -> BurnInExport | None:
    """Take the export for this attempt: queued, or running with a lease that ran out."""
    now = timezone.now()
    with transaction.atomic():
        export = (BurnInExport.objects.select_for_update().select_related("job__asset")
                  .filter(pk=export_id).first())
        if export is None or export.status in (BurnInStatus.DONE, BurnInStatus.FAILED):
            return None
        if (export.status == BurnInStatus.RUNNING and export.lease_expires_at
                and export.lease_expires_at > now):
            return None  # a second delivery while the first still renders
        if export.attempts >= settings.BURN_IN_MAX_ATTEMPTS:
            _fail_locked(export, code="attempts_exhausted",
                         detail=f"stopped {export.attempts} times (worker lost)")
            return None
        _transition(export, BurnInStatus.RUNNING)
        export.attempts += 1
        export.progress = 0
        export.started_at = now
        export.lease_expires_at = now + timedelta(seconds=settings.BURN_IN_LEASE_SECONDS)
        export.save()
    return export


def _progress_writer(export: BurnInExport):
    """Write the share done (0..99 while rendering) and renew the lease, at most once a
    second; raises _Superseded when another attempt holds the export now."""
    last = [0.0]

    def write(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] < settings.CAPTION_JOB_PROGRESS_SECONDS and fraction < 1.0:
            return
        last[0] = now
        updated = BurnInExport.objects.filter(
            pk=export.pk, status=BurnInStatus.RUNNING, attempts=export.attempts,
        ).update(progress=min(99, int(fraction * 100)), updated_at=timezone.now(),
                 lease_expires_at=timezone.now()
                 + timedelta(seconds=settings.BURN_IN_LEASE_SECONDS))
        if not updated:
            raise _Superseded

    return write


def _cues(job: CaptionJob) -> list[burn_engine.BurnCue]:
    """The subtitles exactly as the SRT download has them: the current transcript."""
    transcript = Transcript.objects.get(job=job)
    return [burn_engine.BurnCue(cue.start_ms, cue.end_ms, tuple(cue.lines))
            for cue in exports.transcript_cues(transcript.segments, job.subtitle_limits,
                                               transcript.duration_seconds or None)]


def _time_limit(video_seconds: float) -> float:
    """ffmpeg's limit for this video: longer videos get longer, up to the task's own."""
    wanted = max(settings.BURN_IN_TIMEOUT_SECONDS,
                 settings.BURN_IN_TIMEOUT_PER_VIDEO_SECOND * video_seconds)
    return min(wanted, max(60, settings.CELERY_TASK_SOFT_TIME_LIMIT - 120))


def _render(export: BurnInExport, workdir: str) -> tuple[str, int, burn_engine.BurnInResult]:
    job = export.job
    ext = os.path.splitext(job.asset.file.name)[1][:10] or ".bin"
    source = os.path.join(workdir, "source" + ext)
    storage.file_download(job.asset.file.name, source)
    info = media.probe(source, ffprobe=settings.FFPROBE_BINARY)
    output = os.path.join(workdir, "captioned.mp4")
    result = burn_engine.burn_in(
        source, output, cues=_cues(job),
        style=burn_engine.BurnInStyle(font_size=export.font_size, position=export.position,
                                      box=export.box, aspect=export.aspect),
        info=info, workdir=workdir, ffmpeg=settings.FFMPEG_BINARY,
        timeout=_time_limit(info.duration_seconds), font=settings.BURN_IN_FONT,
        fonts_dir=settings.BURN_IN_FONTS_DIR, max_long_side=settings.BURN_IN_MAX_LONG_SIDE,
        preset=settings.BURN_IN_X264_PRESET, on_progress=_progress_writer(export),
    )
    size = os.path.getsize(output)
    with open(output, "rb") as fh:
        key = storage.file_save(storage.burn_in_key(owner_id=job.owner_id,
                                                    export_id=export.pk), File(fh))
    return key, size, result


def _complete(export: BurnInExport, *, key: str, size: int,
              result: burn_engine.BurnInResult) -> BurnInExport:
    with transaction.atomic():
        locked = (BurnInExport.objects.select_for_update().select_related("job")
                  .filter(pk=export.pk).first())
        if (locked is None or locked.status != BurnInStatus.RUNNING
                or locked.attempts != export.attempts):
            # Another attempt owns the export now, or it was deleted with its job.
            storage.file_delete(key)
            raise _Superseded
        _transition(locked, BurnInStatus.DONE)
        locked.progress = 100
        locked.output_key, locked.size_bytes = key, size
        locked.width, locked.height = result.width, result.height
        locked.finished_at = timezone.now()
        locked.lease_expires_at = None
        locked.save()
        # Charged once: the usage ledger holds one row per id, whatever retried before.
        billing_services.usage_record_job(user=locked.job.owner, job_id=locked.pk,
                                          audio_seconds=locked.media_seconds)
        billing_quotas.quota_hold_settle(job_id=locked.pk)
    logger.info("burn-in export %s ready: %sx%s, %s bytes", locked.pk, result.width,
                result.height, size)
    return locked


def _fail_locked(export: BurnInExport, *, code: str, detail: str) -> None:
    _transition(export, BurnInStatus.FAILED)
    export.error_code = code
    export.error_message = export_failure_message(code)
    export.finished_at = timezone.now()
    export.lease_expires_at = None
    export.save()
    billing_quotas.quota_hold_release(job_id=export.pk)
    logger.warning("burn-in export %s of job %s failed (%s): %s", export.pk, export.job_id,
                   code, detail)


def burn_in_export_fail(*, export_id, code: str, detail: str,
                        attempt: int | None = None) -> BurnInExport | None:
    """Mark the export failed with a customer's message for ``code``; its hold is released.

    ``detail`` (the operator's) is logged only. With ``attempt``, only that attempt's
    export is failed (a superseded attempt changes nothing). Returns None when the
    export was already final or is another attempt's.
    """
    with transaction.atomic():
        export = BurnInExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.is_final or (
                attempt is not None and export.attempts != attempt):
            return None
        _fail_locked(export, code=code, detail=detail)
    return export


def burn_in_export_run(*, export_id) -> BurnInExport | None:
    """One attempt at rendering the export; None when there was nothing to do.

    Never raises for the video or the tools: each failure ends the export ``failed``
    with a message for the customer and the operator's detail in the log.
    """
    export = _claim(export_id)
    if export is None:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="burn-in-") as workdir:
            key, size, result = _render(export, workdir)
        return _complete(export, key=key, size=size, result=result)
    except _Superseded:
        logger.info("burn-in export %s: attempt %s superseded", export.pk, export.attempts)
        return None
    except PipelineError as exc:
        code, detail = exc.code, exc.detail
    except storage.StorageUnavailable as exc:
        code, detail = "storage_unavailable", exc.message
    except FileNotFoundError as exc:
        code, detail = "upload_gone", f"stored upload missing: {exc}"
    except Exception as exc:
        logger.exception("burn-in export %s crashed", export.pk)
        code, detail = "burn_in_crashed", f"{type(exc).__name__}: {exc}"
    return burn_in_export_fail(export_id=export.pk, code=code, detail=detail,
                               attempt=export.attempts)
