"""The pipeline: one attempt of a job, from the stored upload to captions.

probe (ffprobe, or Pillow for an image) -> decode (ffmpeg) -> transcribe (Whisper) ->
write (the caption writer) -> results. The engines know nothing of Django; this module
gives them their settings and turns their failures into the job's final state.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Max
from django.utils import timezone

from billing import cost_ledger
from billing import selectors as billing_selectors
from config.cache import cache_read_once
from config.humanize import format_duration
from config.outages import outage_of
from engines import caption_writer, images, media, stt
from engines.errors import MediaRejected, PipelineError, SttModelUnavailable

from .. import storage
from ..languages import LANGUAGES
from ..models import (
    FINAL_STATUSES,
    CaptionJob,
    JobStage,
    MediaAsset,
    MediaKind,
    ModelCall,
    SttEngine,
)
from .jobs import (
    InvalidTransition,
    JobCancelled,
    caption_job_complete,
    caption_job_defer,
    caption_job_fail,
    caption_job_set_stage,
    caption_job_storage_wait,
)
from .lease import (
    caption_job_lease_heartbeat,
    caption_job_start_reserving,
)
from .managed import ManagedHandoff, caption_job_managed_claim, managed_transcribe
from .previews import media_asset_preview_make
from .results import (
    SttHold,
    model_call_record,
    stt_charge_settle,
    stt_cost_micros,
    stt_hold_close,
    stt_paid,
)
from .routing import stt_engine_for_attempt

logger = logging.getLogger(__name__)

# At most this many channels are transcribed apart (a speaker each); the rest are not read.
MAX_SPLIT_CHANNELS = 4


def stt_config() -> stt.SttConfig:
    return stt.SttConfig(
        model=settings.WHISPER_MODEL,
        device=settings.WHISPER_DEVICE,
        engine=settings.WHISPER_ENGINE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        download_root=settings.WHISPER_DOWNLOAD_ROOT,
        allow_download=settings.WHISPER_ALLOW_DOWNLOAD,
        sample_len=settings.WHISPER_SAMPLE_LEN,
        temperatures=settings.WHISPER_TEMPERATURES,
        batch_size=settings.WHISPER_BATCH_SIZE,
    )


def caption_writer_config() -> caption_writer.LlmConfig:
    """The caption writer's settings, for the backend CAPTION_WRITER names."""
    backend = settings.CAPTION_WRITER
    anthropic_api = backend == "anthropic"
    return caption_writer.LlmConfig(
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


def file_transcribe(*, path: str, model: str = "", language: str = "",
                    word_timestamps: bool = False) -> tuple[stt.TranscriptionResult, float]:
    """Transcribe a local file with the configured (or the named) model: no job, no quota.

    For operators and developers (``manage.py transcribe``). Returns the result and the
    audio's duration. Raises the engines' PipelineError subclasses (unreadable media, no
    model) with a message a person can act on.
    """
    config = stt_config()
    if model:
        config = dataclasses.replace(config, model=model)
    audio = media.decode_audio(path, ffmpeg=settings.FFMPEG_BINARY,
                               timeout=settings.FFMPEG_TIMEOUT_SECONDS,
                               max_seconds=settings.CAPTIONS_MAX_MEDIA_SECONDS)
    if audio.size == 0:
        raise MediaRejected("The audio track is empty.", code="empty_audio")
    result, _ = stt.transcribe(audio, config, language=language or None,
                               word_timestamps=word_timestamps)
    return result, len(audio) / media.SAMPLE_RATE


def stt_preload() -> stt.LoadedModel | None:
    """Load the configured Whisper model now (a worker starting up), not on its first job.

    Returns None, after logging why, when no model can be loaded: jobs then fail with
    the same message a customer can act on, and the worker keeps serving other work.
    """
    try:
        return stt.load(stt_config())
    except SttModelUnavailable as exc:
        logger.error("speech-to-text not ready: %s", exc.detail)
        return None


@contextmanager
def _asset_local_copy(asset: MediaAsset):
    suffix = os.path.splitext(asset.file.name)[1]
    with tempfile.TemporaryDirectory(prefix="caption-job-") as tmp:
        path = os.path.join(tmp, "input" + suffix)
        storage.file_download(asset.file.name, path)
        yield path


def _transcription_progress(job: CaptionJob) -> Callable[[float], None]:
    """The engine's progress callback: moves the job from 20% to 80% as the audio is
    decoded, with when the transcript should be done at the pace so far.

    Writes at most once per CAPTION_JOB_PROGRESS_SECONDS. The write raises JobCancelled
    once the customer has cancelled, and the engine lets it through, so a cancelled job
    stops transcribing within about that interval and frees its worker.
    """
    began = time.monotonic()
    last_write = began

    def report(share: float) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write < settings.CAPTION_JOB_PROGRESS_SECONDS:
            return
        last_write = now
        eta_at = None
        if share >= 0.02:  # before that, the pace says little
            eta_at = timezone.now() + timedelta(seconds=(now - began) * (1 - share) / share)
        caption_job_set_stage(job=job, stage=JobStage.TRANSCRIBING,
                              progress=20 + int(59 * share), eta_at=eta_at)

    return report


def _model_call_attempt(job: CaptionJob) -> Callable[[], int]:
    """The attempt number model calls are recorded under, read on the first call only (a
    writer that makes no call costs no query). Numbered per job across retries too (a
    retry resets ``job.attempts`` to 0)."""
    number = 0

    def attempt() -> int:
        nonlocal number
        if not number:
            number = (ModelCall.objects.filter(job=job).aggregate(n=Max("attempt"))["n"]
                      or 0) + 1
        return number

    return attempt


@contextmanager
def _timed(job: CaptionJob, stage: str):
    began = time.monotonic()
    yield
    job.stage_seconds[stage] = round(time.monotonic() - began, 3)


def caption_job_run(*, job_id, attempt_token: str = "") -> CaptionJob | None:
    """Run one attempt of a job to a final state.

    Failures a customer can act on (unreadable media, no audio, a missing model)
    end the job as failed with that reason. Unexpected errors, and the database or the
    storage not answering, propagate, so the task layer can retry
    (``caption_job_attempt_crashed`` says whether); the attempt count bounds the retries.
    ``attempt_token`` names the task execution (``caption_job_start``).
    """
    with cache_read_once():  # the owner's plan read once per job
        # The transcription is reserved in the transaction that starts the attempt.
        job, hold = caption_job_start_reserving(job_id=job_id, attempt_token=attempt_token)
        if job is None:
            return None
        with caption_job_lease_heartbeat(job):
            return _caption_job_attempt(job, hold=hold)


def caption_job_resume_managed(*, job_id, attempt_token: str) -> CaptionJob | None:
    """Continue a job whose managed transcription finished: the rest of its attempt.

    Called by the managed engine's poll task; ``caption_job_managed_claim`` lets one
    execution through. Raises like ``caption_job_run``.
    """
    with cache_read_once():
        job = caption_job_managed_claim(job_id=job_id, attempt_token=attempt_token)
        if job is None:
            return None
        with caption_job_lease_heartbeat(job):
            return _caption_job_attempt(job)


def _caption_job_attempt(job: CaptionJob, *, hold: SttHold = None) -> CaptionJob | None:
    job_id = job.pk
    asset = job.asset
    max_seconds = billing_selectors.plan_limits_for_user(user=job.owner).max_media_seconds
    stt_charge = None  # a transcription made and reserved, settled once whatever follows
    try:
        with _asset_local_copy(asset) as path:
            transcript = None
            duration = 0.0
            versions: dict = {}
            image_description = ""
            picture_size, picture_colours = None, ()
            with _timed(job, JobStage.PROBING):
                has_video = False
                audio_channels = 0
                if asset.kind == MediaKind.IMAGE:
                    info = images.inspect_image(path)
                    image_description = f"A {info.width}x{info.height} {info.format} image"
                    picture_size = (info.width, info.height)
                    picture_colours = images.dominant_colours(path)
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
                            facts={"length": format_duration(duration),
                                   "limit": format_duration(max_seconds)},
                        )
                    if not info.has_audio and not info.has_video:
                        raise MediaRejected("The file has no audio or video stream.",
                                            code="no_media_streams")
                    if asset.kind == MediaKind.AUDIO and not info.has_audio:
                        raise MediaRejected("The file has no audio stream.", code="no_audio")
                    has_audio, has_video = info.has_audio, info.has_video
                    audio_channels = info.audio_channels
                    if not has_audio:
                        image_description = "A video without sound"
                if asset.duration_seconds != (duration or None):
                    MediaAsset.objects.filter(pk=asset.pk).update(
                        duration_seconds=duration or None)
                if asset.kind == MediaKind.IMAGE or has_video:
                    media_asset_preview_make(asset=asset, path=path, duration=duration)
            # The engine-choice hook: the job's engine is fixed as transcription begins,
            # with the transcribing stage (one statement).
            engine = stt_engine_for_attempt(job=job) if has_audio else None
            if engine:
                caption_job_set_stage(job=job, stage=JobStage.TRANSCRIBING, progress=20,
                                      stt_engine=engine)
            if engine == SttEngine.MANAGED:
                with _timed(job, JobStage.TRANSCRIBING):
                    transcript, versions["stt"] = managed_transcribe(
                        job=job, path=path, duration=duration)
            elif has_audio:
                with _timed(job, JobStage.TRANSCRIBING):
                    channels = (min(audio_channels, MAX_SPLIT_CHANNELS)
                                if job.split_channels and audio_channels > 1 else 1)
                    audio = media.decode_audio(
                        path, ffmpeg=settings.FFMPEG_BINARY,
                        timeout=settings.FFMPEG_TIMEOUT_SECONDS,
                        max_seconds=max_seconds, channels=channels,
                    )
                    if audio.size == 0:
                        raise MediaRejected("The audio track is empty.", code="empty_audio")
                    duration = audio.shape[-1] / media.SAMPLE_RATE
                    transcribe = stt.transcribe if channels == 1 else stt.transcribe_channels
                    # Each channel transcribed apart is transcription work of its own. The
                    # cost settles as the job completes (or, ending otherwise, below).
                    with stt_paid(job=job, amount_micros=stt_cost_micros(duration * channels),
                                  hold=hold) as charge:
                        transcript, versions["stt"] = transcribe(
                            audio, stt_config(), word_timestamps=job.word_timestamps,
                            on_progress=_transcription_progress(job),
                        )
                    stt_charge = charge
            caption_job_set_stage(job=job, stage=JobStage.WRITING, progress=80)
            with _timed(job, JobStage.WRITING):
                writer = caption_writer.get_writer(settings.CAPTION_WRITER, caption_writer_config())
                pictures = ()
                if writer.uses_images:
                    pictures = _pictures_for_writer(
                        path=path, kind=asset.kind, has_video=has_video, duration=duration,
                        workdir=os.path.dirname(path),
                    )
                spoken = transcript.language if transcript else ""
                language = job.language or (spoken if spoken in LANGUAGES else "") or "en"
                attempt = _model_call_attempt(job)
                captions = writer.write(
                    caption_writer.CaptionRequest(
                        media_kind=asset.kind,
                        transcript=transcript.text if transcript else "",
                        tone=job.tone,
                        length=job.length,
                        platform=job.platform,
                        language=language,
                        language_name=LANGUAGES.get(language, language),
                        variants=job.variant_count,
                        image_description=image_description,
                        source_name=asset.original_name,
                        picture_size=picture_size,
                        picture_colours=picture_colours,
                        hashtags=job.hashtags,
                        emoji=job.emoji,
                        custom_instruction=job.custom_instruction,
                        segments=tuple(
                            caption_writer.TimedText(s.start, s.end, s.text)
                            for s in transcript.segments
                        ) if transcript else (),
                        duration_seconds=duration,
                        images=pictures,
                    ),
                    on_call=lambda record: model_call_record(
                        job=job, attempt=attempt(), record=record
                    ),
                    before_call=lambda index, purpose, ceiling: (
                        cost_ledger.cost_reservation_create(
                            user=job.owner, key=f"llm:{job.pk}:{attempt()}:{index}",
                            amount_micros=ceiling, kind="llm", job_id=job.pk,
                        )
                    ),
                )
                versions["captions"] = captions.versions
        return caption_job_complete(
            job=job, transcript=transcript, duration_seconds=duration,
            captions=captions, engine_versions=versions, stt_charge=stt_charge,
        )
    except JobCancelled:
        logger.info("job %s was cancelled while it ran", job_id)
        return None
    except ManagedHandoff:
        logger.info("job %s: the managed engine transcribes it; a poll continues it", job_id)
        return None
    except cost_ledger.CostCapExceeded as refusal:
        return caption_job_defer(job=job, refusal=refusal)
    except PipelineError as exc:
        return caption_job_fail(job_id=job.pk, code=exc.code, detail=exc.detail, facts=exc.facts)
    except InvalidTransition:
        # Cancelled between the last stage check and completion: results were rolled back.
        return None
    finally:
        # The transcript was made but the job did not complete (cancelled, deferred, a
        # failure or a crash after it): what it cost is spent all the same.
        stt_charge_settle(job=job, charge=stt_charge)
        stt_hold_close(hold=hold)  # reserved as it started, never transcribed with


def _crash_detail(error: BaseException | None) -> str:
    """What an operator reads about a crashed attempt: the exception, never shown to customers."""
    if error is None:
        return "the attempt ended without a result"
    return f"{type(error).__name__}: {error}"[:2000]


def caption_job_attempt_crashed(*, job_id, error: BaseException | None = None) -> bool:
    """Called when an attempt raised ``error`` instead of ending. Returns True to retry it.

    - The database not answering: nothing can be recorded, and the retry takes over the
      crashed attempt once it answers again, so always True. The same holds when the
      database stops answering while the crash is being recorded here.
    - The storage not answering: the job waits in the queue saying so
      (``caption_job_storage_wait``); once the attempts are used up it fails with
      ``storage_unavailable`` and a message the customer can act on.
    - Anything else is retried until the attempts are used up, then fails with a reason
      the customer can read.
    """
    service = outage_of(error)
    if service == "database":
        return True
    try:
        job = CaptionJob.objects.filter(pk=job_id).first()
        if job is None or job.status in FINAL_STATUSES:
            return False
        if job.attempts < settings.CAPTION_JOB_MAX_ATTEMPTS:
            if service == "storage":
                return caption_job_storage_wait(job_id=job_id, detail=_crash_detail(error)) \
                    is not None
            return True
        if service == "storage":
            caption_job_fail(job_id=job_id, code="storage_unavailable",
                             detail=_crash_detail(error))
            return False
        caption_job_fail(job_id=job_id, code="internal_error", detail=_crash_detail(error))
        return False
    except (OperationalError, InterfaceError) as exc:
        logger.warning("job %s: the database stopped answering while its crash was being "
                       "recorded (%s); retrying", job_id, exc)
        return True
