"""Writes for media assets and caption jobs, and the pipeline that runs a job.

Every change of a job's status goes through ``_transition``, which locks the row,
checks ``ALLOWED_TRANSITIONS`` and writes a ``JobEvent`` in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
import time
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.plans import PLANS, Feature
from config.errors import ApplicationError
from webhooks import services as webhook_services
from webhooks.models import WebhookEvent
from workers import images, llm, media, stt
from workers.errors import MediaRejected, PipelineError

from .exports import LIMIT_RANGES, ReadabilityLimits
from .languages import LANGUAGES
from .models import (
    ALLOWED_TRANSITIONS,
    CUSTOM_INSTRUCTION_MAX_CHARS,
    FINAL_STATUSES,
    CaptionJob,
    CaptionVariant,
    DirectUpload,
    JobEvent,
    JobStage,
    JobStatus,
    Length,
    MediaAsset,
    MediaKind,
    ModelCall,
    ModelCallStatus,
    Platform,
    Tone,
    Transcript,
)
from .uploads import ACCEPTED_TYPES, SNIFF_BYTES, clean_original_name, detect_content_type

logger = logging.getLogger(__name__)

MAX_VARIANTS = 5
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


class JobCancelled(Exception):
    """Raised inside the pipeline when the job was cancelled while it ran."""


# --- Assets --------------------------------------------------------------------------


def _check_size(size: int | None, *, limits) -> None:
    """400 for an empty file, 413 over the plan's size limit."""
    max_bytes = limits.max_upload_bytes
    if not size:
        raise ApplicationError("The file is empty.", code="empty_file", status=400)
    if size > max_bytes:
        raise ApplicationError(
            f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes on the "
            f"{limits.plan.name} plan.",
            code="file_too_large",
            status=413,
            details={"limit_bytes": max_bytes, "size_bytes": size, "plan": limits.plan.code},
        )


def _check_plan_allows_kind(kind: str, *, limits) -> None:
    """403 for a video on a plan without video (the plan catalogue's features)."""
    if kind == MediaKind.VIDEO and not limits.has(Feature.VIDEO):
        raise ApplicationError(
            f"Video uploads are not part of the {limits.plan.name} plan. Upgrade on the "
            "billing page, or upload the sound track as audio.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.VIDEO, "plan": limits.plan.code},
        )


def _check_content_type(head: bytes) -> str:
    content_type = detect_content_type(head)
    if content_type not in ACCEPTED_TYPES:
        raise ApplicationError(
            f"This file's contents are '{content_type}', which is not audio, video or an "
            "image we can caption. Upload MP3, WAV, FLAC, OGG, M4A, MP4, MOV, WebM, MKV, "
            "PNG, JPEG, WebP or GIF.",
            code="unsupported_media_type",
            status=415,
            details={"detected_type": content_type},
        )
    return content_type


def media_asset_create(*, owner, upload) -> MediaAsset:
    """Store an upload under a server-generated key after checking its bytes.

    Raises ApplicationError: 400 for an empty file, 413 over the owner's plan's size
    limit, 415 when the bytes are not audio, video or an image we accept, 503 when the
    storage does not answer. Nothing is stored then.
    """
    limits = billing_selectors.plan_limits_for_user(user=owner)
    _check_size(upload.size, limits=limits)
    upload.seek(0)
    content_type = _check_content_type(upload.read(SNIFF_BYTES))
    kind, ext = ACCEPTED_TYPES[content_type]
    _check_plan_allows_kind(kind, limits=limits)
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    key = f"media/{owner.pk}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{ext}"
    try:
        stored_key = default_storage.save(key, upload)
    except (BotoCoreError, ClientError, OSError) as exc:
        logger.warning("storing upload %s failed: %s", key, exc)
        raise ApplicationError(
            "Our file storage is not answering right now, so the upload was not saved. "
            "Please try again in a minute.",
            code="storage_unavailable",
            status=503,
            headers={"Retry-After": "60"},
        ) from exc
    try:
        return MediaAsset.objects.create(
            owner=owner,
            file=stored_key,
            original_name=clean_original_name(upload.name or ""),
            content_type=content_type,
            kind=kind,
            size_bytes=upload.size,
            sha256=digest.hexdigest(),
        )
    except Exception:
        # No row may point at a missing object, and no object is left without a row.
        default_storage.delete(stored_key)
        raise


# --- Direct uploads ----------------------------------------------------------------------


def _s3_client():
    """The storage's boto3 client, or None where media is not kept in S3."""
    connection = getattr(default_storage, "connection", None)
    return connection.meta.client if connection is not None else None


def direct_upload_create(*, owner, original_name: str = "") -> tuple[DirectUpload, str]:
    """Reserve a server-generated key and return it with a presigned PUT URL for it.

    Raises ApplicationError(400) where media is not stored in S3 (local development).
    """
    client = _s3_client()
    if client is None:
        raise ApplicationError(
            "Direct uploads need S3 storage; send the file in the job request instead.",
            code="direct_upload_unavailable",
        )
    expires = settings.CAPTIONS_DIRECT_UPLOAD_EXPIRES_SECONDS
    upload = DirectUpload.objects.create(
        owner=owner,
        key=f"uploads/{owner.pk}/{uuid.uuid4().hex}",
        original_name=clean_original_name(original_name or ""),
        expires_at=timezone.now() + timedelta(seconds=expires),
    )
    url = client.generate_presigned_url(
        "put_object",
        Params={"Bucket": default_storage.bucket_name, "Key": upload.key},
        ExpiresIn=expires,
        HttpMethod="PUT",
    )
    return upload, url


def direct_uploads_sweep(*, now: datetime | None = None) -> int:
    """Delete objects of direct uploads never turned into a job. Run by celery beat.

    An upload slot left unused an hour past its URL's expiry loses its object and row,
    so abandoned or oversized uploads do not stay in the bucket at our cost.
    """
    now = now or timezone.now()
    client = _s3_client()
    stale = list(DirectUpload.objects.filter(
        used_at__isnull=True, expires_at__lt=now - timedelta(hours=1))[:500])
    for upload in stale:
        if client is not None:
            client.delete_object(Bucket=default_storage.bucket_name, Key=upload.key)
        upload.delete()
    return len(stale)


def caption_job_submit_from_upload(*, owner, upload_id, options: dict) -> CaptionJob:
    """Create a job from a finished direct upload, after checking the object's bytes.

    Raises ApplicationError: 400 for bad options, 404 for an unknown (or another user's)
    upload, 409 when nothing was uploaded yet or the upload was already used, 413 and
    415 as for a normal upload, in which case the uploaded object is deleted; 429 when
    the hourly cost cap is used up.
    """
    clean = caption_options_validate(options)
    caption_job_admission_check(owner=owner, language=clean["language"])
    client = _s3_client()
    bucket = getattr(default_storage, "bucket_name", None)
    with transaction.atomic():
        upload = (
            DirectUpload.objects.select_for_update().filter(owner=owner, pk=upload_id).first()
        )
        if upload is None or client is None:
            raise ApplicationError("Not found.", code="not_found", status=404)
        if upload.used_at is not None:
            raise ApplicationError(
                "A job was already created from this upload.", code="upload_already_used",
                status=409,
            )
        try:
            head = client.head_object(Bucket=bucket, Key=upload.key)
        except client.exceptions.ClientError:
            raise ApplicationError(
                "Nothing has been uploaded for this upload yet: PUT the file to its URL "
                "first." + (" The URL has expired; ask for a new one."
                            if upload.expires_at < timezone.now() else ""),
                code="upload_not_received", status=409,
            ) from None
        limits = billing_selectors.plan_limits_for_user(user=owner)
        try:
            _check_size(head["ContentLength"], limits=limits)
            first = client.get_object(Bucket=bucket, Key=upload.key,
                                      Range=f"bytes=0-{SNIFF_BYTES - 1}")
            content_type = _check_content_type(first["Body"].read())
            kind, ext = ACCEPTED_TYPES[content_type]
            _check_plan_allows_kind(kind, limits=limits)
        except ApplicationError:
            client.delete_object(Bucket=bucket, Key=upload.key)
            raise
        digest = hashlib.sha256()
        body = client.get_object(Bucket=bucket, Key=upload.key)["Body"]
        for chunk in body.iter_chunks(1 << 20):
            digest.update(chunk)
        key = f"media/{owner.pk}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{ext}"
        client.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": upload.key},
            ServerSideEncryption="AES256",
        )
        try:
            asset = MediaAsset.objects.create(
                owner=owner, file=key, original_name=upload.original_name,
                content_type=content_type, kind=kind, size_bytes=head["ContentLength"],
                sha256=digest.hexdigest(),
            )
            job = CaptionJob.objects.create(owner=owner, asset=asset, **clean)
            JobEvent.objects.create(
                job=job, to_status=JobStatus.QUEUED, stage=job.stage, actor=owner,
                message="Submitted from a direct upload",
            )
            upload.used_at = timezone.now()
            upload.job = job
            upload.save(update_fields=["used_at", "job"])
        except Exception:
            client.delete_object(Bucket=bucket, Key=key)
            raise
        upload_key = upload.key
        transaction.on_commit(lambda: client.delete_object(Bucket=bucket, Key=upload_key))
        transaction.on_commit(lambda: caption_job_enqueue(job_id=job.pk))
    return job


# --- Jobs ------------------------------------------------------------------------------


def caption_options_validate(options: dict) -> dict:
    """Return clean caption options or raise ApplicationError(400) naming each bad field."""
    errors: dict[str, str] = {}
    clean = {
        "tone": options.get("tone") or Tone.CASUAL,
        "length": options.get("length") or Length.MEDIUM,
        "platform": options.get("platform") or Platform.INSTAGRAM,
        "language": options.get("language") or "",
    }
    if clean["tone"] not in Tone.values:
        errors["tone"] = f"Choose one of: {', '.join(Tone.values)}."
    if clean["length"] not in Length.values:
        errors["length"] = f"Choose one of: {', '.join(Length.values)}."
    if clean["platform"] not in Platform.values:
        errors["platform"] = f"Choose one of: {', '.join(Platform.values)}."
    if clean["language"] and clean["language"] not in LANGUAGES:
        errors["language"] = "Unsupported language code; use a two-letter code such as 'en'."
    try:
        clean["variant_count"] = int(options.get("variant_count") or 3)
        if not 1 <= clean["variant_count"] <= MAX_VARIANTS:
            raise ValueError
    except (TypeError, ValueError):
        errors["variant_count"] = f"Ask for between 1 and {MAX_VARIANTS} caption variants."
    if clean["platform"] == Platform.X and clean["length"] == Length.LONG:
        # 50+ words and hashtags do not fit in X's 280 characters.
        errors["length"] = "Posts on X hold 280 characters; choose a short or medium length."
    for name in ("hashtags", "emoji"):
        value = options.get(name, True)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            errors[name] = "Use true or false."
        clean[name] = value
    instruction = options.get("custom_instruction") or ""
    if not isinstance(instruction, str):
        errors["custom_instruction"] = "Give the instruction as text."
        instruction = ""
    # Control and invisible formatting characters (right-to-left overrides included) only
    # serve to hide text from the person reading the job page.
    instruction = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in instruction
    ).strip()
    if len(instruction) > CUSTOM_INSTRUCTION_MAX_CHARS:
        errors["custom_instruction"] = (
            f"Keep the instruction to {CUSTOM_INSTRUCTION_MAX_CHARS} characters; it has "
            f"{len(instruction):,}."
        )
    clean["custom_instruction"] = instruction
    _subtitle_options_validate(options, clean, errors)
    if errors:
        raise ApplicationError(
            "Some caption options are not valid.", code="invalid_options", details=errors
        )
    return clean


def caption_job_admission_check(*, owner, language: str = "",
                                now: datetime | None = None) -> None:
    """The plan's quotas, checked when a job is submitted (web and API alike).

    Raises ApplicationError(429) with Retry-After, naming the limit, the use and when it
    resets: jobs per hour (a rolling 60 minutes), audio minutes included per billing
    period (on plans without paid overage) and the hourly cost cap. The cost cap's
    authoritative check is the reservation the worker makes before each paid call.
    Raises 403 when a caption ``language`` is chosen on a plan without translation (on
    such plans captions are written in the language that was spoken).
    """
    now = now or timezone.now()
    limits = billing_selectors.plan_limits_for_user(user=owner, now=now)
    plan = limits.plan.name
    recent = list(
        CaptionJob.objects.filter(owner=owner, created_at__gt=now - timedelta(hours=1))
        .order_by("-created_at").values_list("created_at", flat=True)[: limits.jobs_per_hour]
    )
    if len(recent) >= limits.jobs_per_hour:
        retry_after = max(1, math.ceil((recent[-1] + timedelta(hours=1) - now).total_seconds()))
        raise ApplicationError(
            f"You have submitted {len(recent)} jobs in the last hour; the {plan} plan allows "
            f"{limits.jobs_per_hour} an hour. You can submit again in "
            f"{format_duration(retry_after)}.",
            code="jobs_per_hour_exceeded", status=429,
            details={"limit": "jobs_per_hour", "allowed": limits.jobs_per_hour,
                     "used": len(recent), "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    if not limits.overage_allowed:
        start, end = billing_selectors.billing_period_for_user(user=owner, now=now)
        used, _ = billing_selectors.usage_seconds_between(user=owner, start=start, end=end)
        if used >= limits.included_audio_seconds:
            retry_after = max(1, math.ceil((end - now).total_seconds()))
            raise ApplicationError(
                f"You have used all {limits.included_audio_seconds // 60} audio minutes "
                f"included in the {plan} plan for this period ({used // 60} used). They "
                f"renew on {end:%Y-%m-%d %H:%M} UTC; upgrade your plan for more now.",
                code="audio_minutes_exhausted", status=429,
                details={"limit": "included_audio_seconds",
                         "allowed": limits.included_audio_seconds, "used": used,
                         "resets_at": end.isoformat()},
                headers={"Retry-After": str(retry_after)},
            )
    billing_services.cost_cap_check(user=owner, now=now)
    if language and not limits.has(Feature.TRANSLATION):
        raise ApplicationError(
            f"Choosing the caption language is not part of the {limits.plan.name} plan; "
            "leave it as 'Same as spoken', or upgrade on the billing page.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.TRANSLATION, "plan": limits.plan.code,
                     "language": "Leave empty for the spoken language."},
        )


# Subtitle option name -> the ReadabilityLimits field it sets, and how it is described.
SUBTITLE_OPTIONS = {
    "subtitle_max_chars_per_line": ("max_chars_per_line", "characters per line"),
    "subtitle_max_lines": ("max_lines_per_cue", "lines per subtitle"),
    "subtitle_max_chars_per_second": ("max_chars_per_second", "characters per second"),
    "subtitle_min_cue_ms": ("min_cue_ms", "milliseconds on screen at least"),
    "subtitle_max_cue_ms": ("max_cue_ms", "milliseconds on screen at most"),
}


def _subtitle_options_validate(options: dict, clean: dict, errors: dict) -> None:
    for name, (limit, what) in SUBTITLE_OPTIONS.items():
        low, high = LIMIT_RANGES[limit]
        value = options.get(name)
        if value in (None, ""):
            value = getattr(ReadabilityLimits, limit)
        try:
            value = int(value)
            if not low <= value <= high:
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = f"Choose between {low} and {high} {what}."
            continue
        clean[name] = value
    if (clean.get("subtitle_min_cue_ms", 0) > clean.get("subtitle_max_cue_ms", 10**9)):
        errors["subtitle_min_cue_ms"] = (
            "The shortest time on screen cannot be longer than the longest."
        )
    word_timestamps = options.get("word_timestamps", False)
    if word_timestamps in (True, False, "true", "false", "on", "", None, 0, 1, "0", "1"):
        clean["word_timestamps"] = word_timestamps in (True, "true", "on", 1, "1")
    else:
        errors["word_timestamps"] = "Use true or false."


def caption_job_submit(*, owner, upload, options: dict) -> CaptionJob:
    """Validate, store the upload, create the job and queue it once the rows are committed."""
    clean = caption_options_validate(options)
    # Quotas before anything is stored; the worker makes the authoritative cost reservation.
    caption_job_admission_check(owner=owner, language=clean["language"])
    asset = media_asset_create(owner=owner, upload=upload)
    try:
        with transaction.atomic():
            job = CaptionJob.objects.create(owner=owner, asset=asset, **clean)
            JobEvent.objects.create(
                job=job, to_status=JobStatus.QUEUED, stage=job.stage, actor=owner,
                message="Submitted",
            )
            transaction.on_commit(lambda: caption_job_enqueue(job_id=job.pk))
    except Exception:
        default_storage.delete(asset.file.name)
        asset.delete()
        raise
    return job


def caption_job_queue(*, job: CaptionJob) -> str:
    """Jobs with sound go to the speech-to-text queue that GPU workers serve; images do not.

    A job runs as one task (probe, transcribe, write) so that its attempts, redelivery
    and cancellation stay one state machine; the stages around transcription are short
    next to it. The README section "Queues" explains the choice.
    """
    if job.asset.kind == MediaKind.IMAGE:
        return settings.CAPTIONS_DEFAULT_QUEUE
    return settings.CAPTIONS_STT_QUEUE


def caption_job_enqueue(*, job_id, countdown: int | None = None) -> None:
    """Send the job's task to its queue. Never raises: called after the commit.

    When the broker is down the job stays queued and ``caption_jobs_requeue_stale``
    sends it again; the customer's request has already succeeded.
    """
    from workers.tasks import caption_job_process

    job = CaptionJob.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:
        return
    try:
        caption_job_process.apply_async(
            args=[str(job_id)], queue=caption_job_queue(job=job), countdown=countdown
        )
    except Exception:  # noqa: BLE001 - the broker's failures are many; the sweep recovers
        logger.exception("could not queue job %s; the requeue sweep will send it", job_id)


def caption_jobs_requeue_stale(*, now: datetime | None = None) -> int:
    """Send again the jobs whose task was lost. Returns how many. Run by celery beat.

    A queued job nobody picked up for CAPTION_JOB_REQUEUE_AFTER_SECONDS (longer for a
    job waiting for the hourly cap, whose task is scheduled up to an hour ahead), and a
    processing job whose worker's lease ran out (the worker died), are queued again.
    Sending a job twice is harmless: ``caption_job_start`` lets only one run.
    """
    now = now or timezone.now()
    after = timedelta(seconds=settings.CAPTION_JOB_REQUEUE_AFTER_SECONDS)
    stale = (
        CaptionJob.objects.filter(status=JobStatus.QUEUED, deferrals=0, updated_at__lt=now - after)
        | CaptionJob.objects.filter(status=JobStatus.QUEUED, deferrals__gt=0,
                                    updated_at__lt=now - after - timedelta(hours=1))
        | CaptionJob.objects.filter(status=JobStatus.PROCESSING, lease_expires_at__lt=now)
    )
    job_ids = list(stale.values_list("pk", flat=True)[:500])
    # Touch them so the next sweep waits a full period again.
    CaptionJob.objects.filter(pk__in=job_ids).update(updated_at=now)
    for job_id in job_ids:
        logger.warning("requeueing job %s: its task was lost or its worker died", job_id)
        caption_job_enqueue(job_id=job_id)
    return len(job_ids)


def caption_job_defer(*, job: CaptionJob, refusal: billing_services.CostCapExceeded) -> CaptionJob:
    """Put a job back to wait for its owner's hourly cost cap to reset, then resume it.

    The attempt does not count against CAPTION_JOB_MAX_ATTEMPTS. After
    CAPTION_JOB_MAX_DEFERRALS waits the job fails with the cap's message instead, so a
    job never waits forever.
    """
    if job.deferrals >= settings.CAPTION_JOB_MAX_DEFERRALS:
        return caption_job_fail(
            job_id=job.pk, code="cost_cap_exceeded",
            message=f"{refusal.message} The job waited {job.deferrals} times and was stopped; "
                    "retry it later or ask us to raise your cap.",
        )
    resets_at = refusal.details["resets_at"]
    with transaction.atomic():
        job = _transition(
            job.pk, JobStatus.QUEUED,
            message=f"Waiting for the hourly cost cap to reset at {resets_at}",
            stage=JobStage.WAITING, progress=0,
            attempts=max(job.attempts - 1, 0), deferrals=job.deferrals + 1,
            error_code="waiting_for_budget",
            error_message=(
                f"{refusal.message} This job is paused and continues by itself then."
            ),
        )
        transaction.on_commit(
            lambda: caption_job_enqueue(job_id=job.pk, countdown=refusal.retry_after + 1)
        )
    return job


@transaction.atomic
def _transition(
    job_id, to_status: str, *, actor=None, message: str = "", **fields
) -> CaptionJob:
    job = CaptionJob.objects.select_for_update().get(pk=job_id)
    if to_status not in ALLOWED_TRANSITIONS[job.status]:
        raise ApplicationError(
            f"A {job.get_status_display().lower()} job cannot become {to_status}.",
            code="invalid_transition",
            status=409,
        )
    from_status = job.status
    job.status = to_status
    for name, value in fields.items():
        setattr(job, name, value)
    job.save()
    JobEvent.objects.create(
        job=job, from_status=from_status, to_status=to_status, stage=job.stage,
        actor=actor, message=message[:2000],
    )
    return job


def caption_job_start(*, job_id) -> CaptionJob | None:
    """Claim a job for a worker attempt. Returns None when there is nothing to do.

    A redelivered job whose worker died (its lease ran out) starts a new attempt; after
    CAPTION_JOB_MAX_ATTEMPTS attempts it fails with a reason instead. A delivery that
    finds a live lease is a duplicate (the broker's visibility timeout passed while the
    job ran): it does nothing, so a job never runs on two workers at once.
    """
    now = timezone.now()
    with transaction.atomic():
        job = CaptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINAL_STATUSES:
            return None
        if (job.status == JobStatus.PROCESSING and job.lease_expires_at
                and job.lease_expires_at > now):
            logger.warning("job %s is running elsewhere until %s; duplicate delivery ignored",
                           job.pk, job.lease_expires_at)
            return None
        if job.attempts >= settings.CAPTION_JOB_MAX_ATTEMPTS:
            caption_job_fail(
                job_id=job.pk,
                code="too_many_attempts",
                message=(
                    f"Processing stopped unexpectedly {job.attempts} times, so the job was "
                    "stopped. Retry it, and contact support if it fails again."
                ),
            )
            return None
        return _transition(
            job.pk,
            JobStatus.PROCESSING,
            attempts=job.attempts + 1,
            stage=JobStage.PROBING,
            progress=5,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=settings.CAPTION_JOB_LEASE_SECONDS),
            error_code="",
            error_message="",
            stage_seconds={},
            message=f"Attempt {job.attempts + 1} started",
        )


def caption_job_lease_renew(*, job_id) -> bool:
    """Extend the running job's lease, and its cost reservations' expiry with it.

    False when the job is no longer processing.
    """
    renewed = bool(CaptionJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(
        lease_expires_at=timezone.now() + timedelta(seconds=settings.CAPTION_JOB_LEASE_SECONDS)
    ))
    if renewed:
        billing_services.cost_reservations_extend(job_id=job_id)
    return renewed


@contextmanager
def _lease_heartbeat(job: CaptionJob):
    """Renew the job's lease from a background thread while the attempt runs."""
    stop = threading.Event()
    interval = max(settings.CAPTION_JOB_LEASE_SECONDS / 3, 0.05)

    def beat():
        try:
            while not stop.wait(interval):
                if not caption_job_lease_renew(job_id=job.pk):
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def caption_job_set_stage(*, job: CaptionJob, stage: str, progress: int) -> None:
    """Record progress; raises JobCancelled if the customer cancelled meanwhile."""
    updated = CaptionJob.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
        stage=stage, progress=progress, updated_at=timezone.now()
    )
    if not updated:
        raise JobCancelled()
    job.stage, job.progress = stage, progress


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


def caption_job_fail(*, job_id, code: str, message: str, actor=None) -> CaptionJob:
    with transaction.atomic():
        job = _transition(
            job_id,
            JobStatus.FAILED,
            actor=actor,
            message=message,
            error_code=code[:50],
            error_message=message,
            finished_at=timezone.now(),
        )
        _job_event_publish(job=job, event_type=WebhookEvent.JOB_FAILED)
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

    A customer's own retry passes the same quotas as a new job (429 otherwise); a
    retry by support staff does not.
    """
    if job.asset.purged_at is not None:
        raise ApplicationError(
            "This job's upload was deleted under your plan's retention period, so it cannot "
            "run again. Upload the file again to start a new job.",
            code="media_purged", status=409,
        )
    if actor is not None and actor.pk == job.owner_id:
        caption_job_admission_check(owner=job.owner)
    with transaction.atomic():
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
            finished_at=None,
        )
        transaction.on_commit(lambda: caption_job_enqueue(job_id=job.pk))
    return job


def caption_job_complete(
    *,
    job: CaptionJob,
    transcript: stt.TranscriptionResult | None,
    duration_seconds: float,
    captions: llm.CaptionResult,
    engine_versions: dict,
) -> CaptionJob:
    with transaction.atomic():
        # Results of an earlier, interrupted attempt are replaced, never duplicated.
        Transcript.objects.filter(job=job).delete()
        CaptionVariant.objects.filter(job=job).delete()
        if transcript is not None:
            Transcript.objects.create(
                job=job,
                language=transcript.language,
                text=transcript.text,
                segments=[s.as_dict() for s in transcript.segments],
                duration_seconds=duration_seconds,
                summary=captions.summary,
                chapters=[{"start": c.start, "title": c.title} for c in captions.chapters],
            )
        CaptionVariant.objects.bulk_create(
            CaptionVariant(job=job, position=i, text=text, writer=captions.writer,
                           language=captions.language)
            for i, text in enumerate(captions.variants)
        )
        done = _transition(
            job.pk,
            JobStatus.DONE,
            message="Done",
            stage=JobStage.FINISHED,
            progress=100,
            engine_versions=engine_versions,
            prompt_id=captions.prompt_id,
            prompt_version=captions.prompt_version,
            stage_seconds=job.stage_seconds,
            finished_at=timezone.now(),
        )
        # In the same transaction: a job is in the usage ledger exactly when it is done.
        billing_services.usage_record_job(
            user=done.owner, job_id=done.pk,
            audio_seconds=duration_seconds if transcript is not None else 0,
        )
        _job_event_publish(job=done, event_type=WebhookEvent.JOB_COMPLETED)
        return done


def model_call_record(*, job: CaptionJob, attempt: int, record: llm.CallRecord) -> ModelCall:
    """Store one model call and add what it cost to the job's totals.

    Written in its own transaction as soon as the call ends, so the money spent stays
    recorded even when the attempt later fails. Failed calls carry no tokens and no cost.
    """
    fields = asdict(record)
    if record.status != ModelCallStatus.SUCCEEDED:
        fields.update(input_tokens=0, output_tokens=0, cost_micro_usd=0)
    # The hourly cost ledger first, in its own transaction: what was reserved becomes what
    # the call cost even if the job row is gone by now (deleted while the call ran).
    key = f"llm:{job.pk}:{attempt}:{record.call_index}"
    if record.status == ModelCallStatus.SUCCEEDED:
        billing_services.cost_reservation_settle(key=key, actual_micros=fields["cost_micro_usd"])
    else:
        billing_services.cost_reservation_release(key=key)
    with transaction.atomic():
        call = ModelCall.objects.create(job=job, attempt=attempt, **fields)
        if record.status == ModelCallStatus.SUCCEEDED:
            CaptionJob.objects.filter(pk=job.pk).update(
                input_tokens=F("input_tokens") + call.input_tokens,
                output_tokens=F("output_tokens") + call.output_tokens,
                cost_micro_usd=F("cost_micro_usd") + call.cost_micro_usd,
            )
    return call


def stt_cost_micros(audio_seconds: float) -> int:
    """What transcription costs us, priced per audio second (STT_PRICE_MICROS_PER_SECOND)."""
    return math.ceil(audio_seconds * settings.STT_PRICE_MICROS_PER_SECOND)


@contextmanager
def _paid_call(*, job: CaptionJob, key: str, kind: str, amount_micros: int):
    """Reserve before a paid step, settle its cost after it, release it if it fails.

    Raises billing's CostCapExceeded before the step when the owner's hourly cap cannot
    cover it; the pipeline then defers the job.
    """
    billing_services.cost_reservation_create(
        user=job.owner, key=key, amount_micros=amount_micros, kind=kind, job_id=job.pk
    )
    try:
        yield
    except BaseException:
        billing_services.cost_reservation_release(key=key)
        raise
    billing_services.cost_reservation_settle(key=key, actual_micros=amount_micros)


def caption_job_delete(*, job: CaptionJob, actor) -> None:
    """Delete a job with its results and, unless another job uses it, its media.

    A queued or running job is cancelled first (a worker running it stops at its next
    stage). Storage objects are removed once the deletion is committed.
    """
    with transaction.atomic():
        locked = CaptionJob.objects.select_for_update().select_related("asset").get(pk=job.pk)
        if locked.status not in FINAL_STATUSES:
            _transition(locked.pk, JobStatus.CANCELLED, actor=actor,
                        message="Cancelled to be deleted", stage=JobStage.FINISHED,
                        finished_at=timezone.now())
        asset = locked.asset
        locked.delete()
        if not CaptionJob.objects.filter(asset=asset).exists():
            key = asset.file.name
            asset.delete()
            transaction.on_commit(lambda: default_storage.delete(key))
    logger.info("job %s deleted by %s", job.pk, getattr(actor, "pk", None))


# --- The pipeline ----------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """'9.5 seconds', '3 min 20 s', '2 h 5 min': for messages people read."""
    if seconds < 60:
        return f"{seconds:.1f} seconds"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def stt_config() -> stt.SttConfig:
    return stt.SttConfig(
        model=settings.WHISPER_MODEL,
        device=settings.WHISPER_DEVICE,
        download_root=settings.WHISPER_DOWNLOAD_ROOT,
        allow_download=settings.WHISPER_ALLOW_DOWNLOAD,
        sample_len=settings.WHISPER_SAMPLE_LEN,
        temperatures=settings.WHISPER_TEMPERATURES,
        batch_size=settings.WHISPER_BATCH_SIZE,
    )


def llm_config() -> llm.LlmConfig:
    """The caption writer's settings, for the backend CAPTION_WRITER names."""
    backend = settings.CAPTION_WRITER
    anthropic_api = backend == "anthropic"
    return llm.LlmConfig(
        backend=backend if backend in ("bedrock", "anthropic") else "bedrock",
        model=settings.ANTHROPIC_MODEL if anthropic_api else settings.BEDROCK_MODEL_ID,
        region=settings.BEDROCK_REGION,
        endpoint_url=(settings.ANTHROPIC_BASE_URL if anthropic_api
                      else settings.BEDROCK_ENDPOINT_URL) or None,
        api_key=settings.ANTHROPIC_API_KEY,
        timeout_seconds=settings.LLM_TIMEOUT_SECONDS,
        max_tries=settings.LLM_MAX_TRIES,
        backoff_base_seconds=settings.LLM_BACKOFF_BASE_SECONDS,
        backoff_max_seconds=settings.LLM_BACKOFF_MAX_SECONDS,
        max_output_tokens=settings.LLM_MAX_OUTPUT_TOKENS,
        prices=settings.LLM_PRICES,
        transcript_chunk_chars=settings.LLM_TRANSCRIPT_CHUNK_CHARS,
        outline_min_seconds=settings.LLM_OUTLINE_MIN_SECONDS,
        max_chapters=settings.LLM_MAX_CHAPTERS,
    )


def _pictures_for_writer(*, path: str, kind: str, has_video: bool, duration: float,
                         workdir: str) -> tuple[images.ModelImage, ...]:
    """The image itself, or key frames of a video, re-encoded and shrunk for the model."""
    if kind == MediaKind.IMAGE:
        return (images.image_for_model(path, max_side=settings.LLM_IMAGE_MAX_SIDE),)
    if not has_video or settings.LLM_VIDEO_FRAMES <= 0:
        return ()
    frames = media.extract_key_frames(
        path, workdir, count=settings.LLM_VIDEO_FRAMES, duration_seconds=duration,
        ffmpeg=settings.FFMPEG_BINARY, timeout=settings.FFMPEG_TIMEOUT_SECONDS,
        max_seconds=settings.CAPTIONS_MAX_MEDIA_SECONDS,
    )
    return tuple(images.image_for_model(f, max_side=settings.LLM_IMAGE_MAX_SIDE) for f in frames)


def stt_preload() -> stt.LoadedModel | None:
    """Load the configured Whisper model now (a worker starting up), not on its first job.

    Returns None, after logging why, when no model can be loaded: jobs then fail with
    the same message a customer can act on, and the worker keeps serving other work.
    """
    from workers.errors import SttModelUnavailable

    try:
        return stt.load(stt_config())
    except SttModelUnavailable as exc:
        logger.error("speech-to-text not ready: %s", exc.user_message)
        return None


@contextmanager
def _asset_local_copy(asset: MediaAsset):
    suffix = os.path.splitext(asset.file.name)[1]
    with tempfile.TemporaryDirectory(prefix="caption-job-") as tmp:
        path = os.path.join(tmp, "input" + suffix)
        with default_storage.open(asset.file.name, "rb") as src, open(path, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        yield path


@contextmanager
def _timed(job: CaptionJob, stage: str):
    began = time.monotonic()
    yield
    job.stage_seconds[stage] = round(time.monotonic() - began, 3)


def caption_job_run(*, job_id) -> CaptionJob | None:
    """Run one attempt of a job to a final state.

    Failures a customer can act on (unreadable media, no audio, a missing model)
    end the job as failed with that reason. Unexpected errors propagate, so the
    task layer can retry; the attempt count bounds the retries.
    """
    job = caption_job_start(job_id=job_id)
    if job is None:
        return None
    with _lease_heartbeat(job):
        return _caption_job_attempt(job)


def _caption_job_attempt(job: CaptionJob) -> CaptionJob | None:
    job_id = job.pk
    asset = job.asset
    max_seconds = billing_selectors.plan_limits_for_user(user=job.owner).max_media_seconds
    try:
        with _asset_local_copy(asset) as path:
            transcript = None
            duration = 0.0
            versions: dict = {}
            image_description = ""
            with _timed(job, JobStage.PROBING):
                has_video = False
                if asset.kind == MediaKind.IMAGE:
                    info = images.inspect_image(path)
                    image_description = f"A {info.width}x{info.height} {info.format} image"
                    has_audio = False
                else:
                    info = media.probe(
                        path, ffprobe=settings.FFPROBE_BINARY,
                        timeout=min(120, settings.FFMPEG_TIMEOUT_SECONDS),
                    )
                    duration = info.duration_seconds
                    if duration > max_seconds:
                        raise MediaRejected(
                            f"The media is {format_duration(duration)} long; the limit is "
                            f"{format_duration(max_seconds)}.",
                            code="media_too_long",
                        )
                    if not info.has_audio and not info.has_video:
                        raise MediaRejected("The file has no audio or video stream.",
                                            code="no_media_streams")
                    if asset.kind == MediaKind.AUDIO and not info.has_audio:
                        raise MediaRejected("The file has no audio stream.", code="no_audio")
                    has_audio, has_video = info.has_audio, info.has_video
                    if not has_audio:
                        image_description = "A video without sound"
                MediaAsset.objects.filter(pk=asset.pk).update(duration_seconds=duration or None)
            if has_audio:
                caption_job_set_stage(job=job, stage=JobStage.TRANSCRIBING, progress=20)
                with _timed(job, JobStage.TRANSCRIBING):
                    audio = media.decode_audio(
                        path, ffmpeg=settings.FFMPEG_BINARY,
                        timeout=settings.FFMPEG_TIMEOUT_SECONDS,
                        max_seconds=max_seconds,
                    )
                    if audio.size == 0:
                        raise MediaRejected("The audio track is empty.", code="empty_audio")
                    duration = len(audio) / media.SAMPLE_RATE
                    # One key per job: a redelivered or resumed job is not charged twice
                    # for transcribing the same recording.
                    with _paid_call(job=job, key=f"stt:{job.pk}", kind="stt",
                                    amount_micros=stt_cost_micros(duration)):
                        transcript, versions["stt"] = stt.transcribe(
                            audio, stt_config(), word_timestamps=job.word_timestamps
                        )
            caption_job_set_stage(job=job, stage=JobStage.WRITING, progress=80)
            with _timed(job, JobStage.WRITING):
                writer = llm.get_writer(settings.CAPTION_WRITER, llm_config())
                pictures = ()
                if writer.uses_images:
                    pictures = _pictures_for_writer(
                        path=path, kind=asset.kind, has_video=has_video, duration=duration,
                        workdir=os.path.dirname(path),
                    )
                spoken = transcript.language if transcript else ""
                language = job.language or (spoken if spoken in LANGUAGES else "") or "en"
                # Numbered per job across retries too (a retry resets job.attempts to 0).
                attempt = (ModelCall.objects.filter(job=job).aggregate(n=Max("attempt"))["n"]
                           or 0) + 1
                captions = writer.write(
                    llm.CaptionRequest(
                        media_kind=asset.kind,
                        transcript=transcript.text if transcript else "",
                        tone=job.tone,
                        length=job.length,
                        platform=job.platform,
                        language=language,
                        language_name=LANGUAGES.get(language, language),
                        variants=job.variant_count,
                        image_description=image_description,
                        hashtags=job.hashtags,
                        emoji=job.emoji,
                        custom_instruction=job.custom_instruction,
                        segments=tuple(
                            llm.TimedText(s.start, s.end, s.text) for s in transcript.segments
                        ) if transcript else (),
                        duration_seconds=duration,
                        images=pictures,
                    ),
                    on_call=lambda record: model_call_record(
                        job=job, attempt=attempt, record=record
                    ),
                    before_call=lambda index, purpose, ceiling: (
                        billing_services.cost_reservation_create(
                            user=job.owner, key=f"llm:{job.pk}:{attempt}:{index}",
                            amount_micros=ceiling, kind="llm", job_id=job.pk,
                        )
                    ),
                )
                versions["captions"] = captions.versions
        return caption_job_complete(
            job=job, transcript=transcript, duration_seconds=duration,
            captions=captions, engine_versions=versions,
        )
    except JobCancelled:
        logger.info("job %s was cancelled while it ran", job_id)
        return None
    except billing_services.CostCapExceeded as refusal:
        return caption_job_defer(job=job, refusal=refusal)
    except PipelineError as exc:
        return caption_job_fail(job_id=job.pk, code=exc.code, message=exc.user_message)
    except ApplicationError as exc:
        if exc.code == "invalid_transition":
            # Cancelled between the last stage check and completion: results were rolled back.
            return None
        raise


def caption_job_attempt_crashed(*, job_id) -> bool:
    """Called when an attempt raised an unexpected error. Returns True to retry it.

    Once the attempts are used up the job fails with a reason the customer can read.
    """
    job = CaptionJob.objects.filter(pk=job_id).first()
    if job is None or job.status in FINAL_STATUSES:
        return False
    if job.attempts < settings.CAPTION_JOB_MAX_ATTEMPTS:
        return True
    caption_job_fail(
        job_id=job_id,
        code="internal_error",
        message=(
            "Something went wrong on our side while processing this file. We have been "
            "notified; you can retry the job."
        ),
    )
    return False


# --- Retention ---------------------------------------------------------------------------


def caption_retention_purge(*, now: datetime | None = None, batch: int = 500) -> dict:
    """Delete what the owners' plans no longer keep. Run by celery beat; idempotent.

    Uploads older than the plan's ``upload_retention_days`` lose their stored file (the
    row stays, marked purged, so the job page can say what happened); transcripts and
    captions of jobs finished more than ``result_retention_days`` ago are deleted.
    Jobs still queued or running are never touched.
    """
    now = now or timezone.now()
    shortest = min((p.upload_retention_days for p in PLANS.values()), default=1)
    limits_by_owner: dict = {}

    def limits_for(owner):
        if owner.pk not in limits_by_owner:
            limits_by_owner[owner.pk] = billing_selectors.plan_limits_for_user(user=owner, now=now)
        return limits_by_owner[owner.pk]

    media = 0
    assets = (MediaAsset.objects.filter(purged_at__isnull=True,
                                        created_at__lt=now - timedelta(days=shortest))
              .exclude(jobs__status__in=[JobStatus.QUEUED, JobStatus.PROCESSING])
              .select_related("owner")[:batch])
    for asset in assets:
        if asset.created_at >= now - timedelta(days=limits_for(asset.owner).upload_retention_days):
            continue
        key = asset.file.name
        MediaAsset.objects.filter(pk=asset.pk).update(purged_at=now)
        if key:
            default_storage.delete(key)
        media += 1
    shortest = min((p.result_retention_days for p in PLANS.values()), default=1)
    results = 0
    jobs = (CaptionJob.objects.filter(status__in=FINAL_STATUSES, results_purged_at__isnull=True,
                                      finished_at__lt=now - timedelta(days=shortest))
            .select_related("owner")[:batch])
    for job in jobs:
        kept = timedelta(days=limits_for(job.owner).result_retention_days)
        if job.finished_at >= now - kept:
            continue
        with transaction.atomic():
            Transcript.objects.filter(job=job).delete()
            CaptionVariant.objects.filter(job=job).delete()
            CaptionJob.objects.filter(pk=job.pk).update(results_purged_at=now)
        results += 1
    return {"media": media, "results": results}
