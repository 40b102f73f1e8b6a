"""Writes for media assets and caption jobs, and the pipeline that runs a job.

Every change of a job's status goes through ``_transition``, which locks the row,
checks ``ALLOWED_TRANSITIONS`` and writes a ``JobEvent`` in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from workers import images, llm, media, stt
from workers.errors import MediaRejected, PipelineError

from .exports import LIMIT_RANGES, ReadabilityLimits
from .languages import LANGUAGES
from .models import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    CaptionJob,
    CaptionVariant,
    JobEvent,
    JobStage,
    JobStatus,
    Length,
    MediaAsset,
    MediaKind,
    Platform,
    Tone,
    Transcript,
)
from .uploads import ACCEPTED_TYPES, SNIFF_BYTES, clean_original_name, detect_content_type

logger = logging.getLogger(__name__)

MAX_VARIANTS = 5


class JobCancelled(Exception):
    """Raised inside the pipeline when the job was cancelled while it ran."""


# --- Assets --------------------------------------------------------------------------


def media_asset_create(*, owner, upload) -> MediaAsset:
    """Store an upload under a server-generated key after checking its bytes.

    Raises ApplicationError: 400 for an empty file, 413 over the size limit, 415 when
    the bytes are not audio, video or an image we accept. Nothing is stored then.
    """
    max_bytes = settings.CAPTIONS_MAX_UPLOAD_BYTES
    if upload.size is None or upload.size == 0:
        raise ApplicationError("The file is empty.", code="empty_file", status=400)
    if upload.size > max_bytes:
        raise ApplicationError(
            f"The file is {upload.size:,} bytes; the limit is {max_bytes:,} bytes.",
            code="file_too_large",
            status=413,
            details={"limit_bytes": max_bytes, "size_bytes": upload.size},
        )
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
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
    kind, ext = ACCEPTED_TYPES[content_type]
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    key = f"media/{owner.pk}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{ext}"
    stored_key = default_storage.save(key, upload)
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
    _subtitle_options_validate(options, clean, errors)
    if errors:
        raise ApplicationError(
            "Some caption options are not valid.", code="invalid_options", details=errors
        )
    return clean


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


def caption_job_enqueue(*, job_id) -> None:
    from workers.tasks import caption_job_process

    job = CaptionJob.objects.select_related("asset").get(pk=job_id)
    caption_job_process.apply_async(args=[str(job_id)], queue=caption_job_queue(job=job))


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

    A redelivered job (its previous worker died) starts a new attempt; after
    CAPTION_JOB_MAX_ATTEMPTS attempts it fails with a reason instead.
    """
    with transaction.atomic():
        job = CaptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINAL_STATUSES:
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
            started_at=timezone.now(),
            error_code="",
            error_message="",
            stage_seconds={},
            message=f"Attempt {job.attempts + 1} started",
        )


def caption_job_set_stage(*, job: CaptionJob, stage: str, progress: int) -> None:
    """Record progress; raises JobCancelled if the customer cancelled meanwhile."""
    updated = CaptionJob.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
        stage=stage, progress=progress, updated_at=timezone.now()
    )
    if not updated:
        raise JobCancelled()
    job.stage, job.progress = stage, progress


def caption_job_fail(*, job_id, code: str, message: str, actor=None) -> CaptionJob:
    return _transition(
        job_id,
        JobStatus.FAILED,
        actor=actor,
        message=message,
        error_code=code[:50],
        error_message=message,
        finished_at=timezone.now(),
    )


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
    """Queue a failed job again with a fresh attempt count."""
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
            )
        CaptionVariant.objects.bulk_create(
            CaptionVariant(job=job, position=i, text=text, writer=captions.writer)
            for i, text in enumerate(captions.variants)
        )
        return _transition(
            job.pk,
            JobStatus.DONE,
            message="Done",
            stage=JobStage.FINISHED,
            progress=100,
            engine_versions=engine_versions,
            stage_seconds=job.stage_seconds,
            finished_at=timezone.now(),
        )


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
    asset = job.asset
    try:
        with _asset_local_copy(asset) as path:
            transcript = None
            duration = 0.0
            versions: dict = {}
            image_description = ""
            with _timed(job, JobStage.PROBING):
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
                    if duration > settings.CAPTIONS_MAX_MEDIA_SECONDS:
                        raise MediaRejected(
                            f"The media is {format_duration(duration)} long; the limit is "
                            f"{format_duration(settings.CAPTIONS_MAX_MEDIA_SECONDS)}.",
                            code="media_too_long",
                        )
                    if not info.has_audio and not info.has_video:
                        raise MediaRejected("The file has no audio or video stream.",
                                            code="no_media_streams")
                    if asset.kind == MediaKind.AUDIO and not info.has_audio:
                        raise MediaRejected("The file has no audio stream.", code="no_audio")
                    has_audio = info.has_audio
                    if not has_audio:
                        image_description = "A video without sound"
                MediaAsset.objects.filter(pk=asset.pk).update(duration_seconds=duration or None)
            if has_audio:
                caption_job_set_stage(job=job, stage=JobStage.TRANSCRIBING, progress=20)
                with _timed(job, JobStage.TRANSCRIBING):
                    audio = media.decode_audio(
                        path, ffmpeg=settings.FFMPEG_BINARY,
                        timeout=settings.FFMPEG_TIMEOUT_SECONDS,
                        max_seconds=settings.CAPTIONS_MAX_MEDIA_SECONDS,
                    )
                    if audio.size == 0:
                        raise MediaRejected("The audio track is empty.", code="empty_audio")
                    duration = len(audio) / media.SAMPLE_RATE
                    transcript, versions["stt"] = stt.transcribe(
                        audio, stt_config(), word_timestamps=job.word_timestamps
                    )
        caption_job_set_stage(job=job, stage=JobStage.WRITING, progress=80)
        with _timed(job, JobStage.WRITING):
            writer = llm.get_writer(settings.CAPTION_WRITER)
            captions = writer.write(
                llm.CaptionRequest(
                    media_kind=asset.kind,
                    transcript=transcript.text if transcript else "",
                    tone=job.tone,
                    length=job.length,
                    platform=job.platform,
                    language=job.language or (transcript.language if transcript else ""),
                    variants=job.variant_count,
                    image_description=image_description,
                )
            )
            versions["captions"] = captions.versions
        return caption_job_complete(
            job=job, transcript=transcript, duration_seconds=duration,
            captions=captions, engine_versions=versions,
        )
    except JobCancelled:
        logger.info("job %s was cancelled while it ran", job_id)
        return None
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
