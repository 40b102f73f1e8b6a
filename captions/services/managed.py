"""The managed speech-to-text engine (Amazon Transcribe) inside a job, and its poll.

A job routed to the managed engine (``routing``) runs its attempt on a CPU worker:
probe, then ``managed_transcribe`` reserves the cost, starts a Transcribe job on the
upload already in the bucket (audio in a container Transcribe cannot read is converted
to WAV and stored under ``TRANSCRIBE_OUTPUT_PREFIX`` first) and hands the job off: the
attempt ends with the job *processing* at the *transcribing* stage, and no worker slot
is held while Transcribe works. ``caption_job_managed_poll`` (a task that schedules
itself again with a growing countdown) asks Transcribe for the job's state, renewing the
job's lease and its cost reservation each time; once Transcribe has finished, the poll's
task claims the job (``caption_job_managed_claim``) and runs the rest of the attempt,
where ``managed_transcribe`` reads the result from the bucket, maps it to our segments
and settles the cost, or releases it when Transcribe failed. If every poll is lost the
lease runs out and the outbox sweep starts a new attempt, which finds the Transcribe
job by its recorded name instead of starting another.
"""

from __future__ import annotations

import json
import logging
import os
import random
import uuid
import wave
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from billing import cost_ledger
from config.errors import ApplicationError
from config.outbox import Message, outbox_send, outbox_send_on_commit
from engines import media
from engines.errors import MediaRejected
from engines.stt import amazon_transcribe as transcribe

from .. import storage
from ..models import (
    STT_ENGINE_CHANGE_STATUSES,
    CaptionJob,
    JobEvent,
    JobStage,
    JobStatus,
    ManagedSttState,
    MediaKind,
    SttEngine,
)
from .jobs import (
    caption_job_fail,
    caption_job_message,
    caption_job_set_stage,
)
from .lease import (
    _retry_of_crashed_attempt,
    caption_job_lease_renew,
)
from .results import stt_cost_record

logger = logging.getLogger(__name__)

POLL_TASK = "captions.tasks.transcribe_managed_poll"
RESERVATION_KIND = "stt_managed"


class ManagedHandoff(Exception):  # noqa: N818 - not an error: the attempt ends on purpose
    """The attempt handed the job to Transcribe; the poll task continues it."""


def transcribe_config() -> transcribe.TranscribeConfig:
    return transcribe.TranscribeConfig(
        region=settings.TRANSCRIBE_REGION,
        bucket=settings.AWS_STORAGE_BUCKET_NAME,
        endpoint_url=settings.TRANSCRIBE_ENDPOINT_URL or None,
        language_code=settings.TRANSCRIBE_LANGUAGE_CODE,
        language_options=tuple(settings.TRANSCRIBE_LANGUAGE_OPTIONS),
        vocabulary_name=settings.TRANSCRIBE_VOCABULARY_NAME,
        max_tries=settings.TRANSCRIBE_MAX_TRIES,
        backoff_base_seconds=settings.TRANSCRIBE_BACKOFF_BASE_SECONDS,
        backoff_max_seconds=settings.TRANSCRIBE_BACKOFF_MAX_SECONDS,
        timeout_seconds=settings.TRANSCRIBE_TIMEOUT_SECONDS,
    )


def managed_cost_micros(duration_seconds: float) -> int:
    """What Transcribe charges for a recording: per second, 15 seconds at least."""
    price = settings.TRANSCRIBE_PRICE_MICROS_PER_SECOND
    return transcribe.billable_seconds(duration_seconds) * price


def _reservation_key(job: CaptionJob) -> str:
    # The same key as the self-hosted engine's: a job is charged for transcription once.
    return f"stt:{job.pk}"


def _output_key(job: CaptionJob, name: str) -> str:
    return f"{storage.transcribe_files_prefix(job_id=job.pk)}{name}.json"


def _media_for_transcribe(*, job: CaptionJob, path: str) -> tuple[str, str]:
    """(key in the bucket, MediaFormat): the upload itself, or a WAV made from it."""
    key = job.asset.file.name
    ext = key.rsplit(".", 1)[-1].lower()
    if ext in transcribe.MEDIA_FORMATS:
        return key, ext
    audio = media.decode_audio(path, ffmpeg=settings.FFMPEG_BINARY,
                               timeout=settings.FFMPEG_TIMEOUT_SECONDS,
                               max_seconds=settings.CAPTIONS_MAX_MEDIA_SECONDS)
    wav_path = os.path.join(os.path.dirname(path), "for-transcribe.wav")
    with wave.open(wav_path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(media.SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    with open(wav_path, "rb") as fh:
        stored = storage.file_save(f"{storage.transcribe_files_prefix(job_id=job.pk)}audio.wav",
                                   File(fh, name="audio.wav"))
    return stored, "wav"


def _poll_send(*, job_id, polls: int) -> None:
    first, most = settings.TRANSCRIBE_POLL_FIRST_SECONDS, settings.TRANSCRIBE_POLL_MAX_SECONDS
    most = min(most, settings.CAPTION_JOB_LEASE_SECONDS / 2)
    countdown = min(most, first * 1.5 ** polls) * random.uniform(0.8, 1.2)  # noqa: S311
    outbox_send(Message(task=POLL_TASK, args=(str(job_id),),
                        queue=settings.CAPTIONS_DEFAULT_QUEUE, countdown=countdown,
                        subject=f"transcribe poll {job_id}"))


def _managed_update(job: CaptionJob, **fields) -> None:
    CaptionJob.objects.filter(pk=job.pk).update(updated_at=timezone.now(), **fields)
    for name, value in fields.items():
        setattr(job, name, value)


def managed_transcribe(*, job: CaptionJob, path: str, duration: float):
    """Transcribe the job's recording with Amazon Transcribe: (transcript, engine versions).

    Raises ManagedHandoff when Transcribe is working on it (the poll continues the
    job), CostCapExceeded before anything starts when the owner's hourly cap cannot
    cover it, and the engine's PipelineErrors (throttled or unreachable after the
    bounded retries, the recording refused, Transcribe's own failure) with the
    reservation released, so the job fails with a reason the customer can read.
    """
    caption_job_set_stage(job=job, stage=JobStage.TRANSCRIBING, progress=20)
    if duration <= 0:
        raise MediaRejected("The audio track is empty.", code="empty_audio")
    config = transcribe_config()
    stored = CaptionJob.objects.values("managed_stt_job", "managed_stt_state").get(pk=job.pk)
    key = _reservation_key(job)
    try:
        # Idempotent per job: a later attempt keeps the hold it has (or, when the sweeper
        # freed it meanwhile, must fit under the cap again before the cost settles).
        cost_ledger.cost_reservation_create(
            user=job.owner, key=key, amount_micros=managed_cost_micros(duration),
            kind=RESERVATION_KIND, job_id=job.pk)
        if stored["managed_stt_state"] == ManagedSttState.NONE:
            # The name is recorded before the call: a redelivered attempt starts the
            # same name again, and Transcribe answers with the job it already has.
            name = stored["managed_stt_job"] or f"cg-{job.pk.hex}-{uuid.uuid4().hex[:8]}"
            _managed_update(job, managed_stt_job=name)
            media_key, media_format = _media_for_transcribe(job=job, path=path)
            remote = transcribe.job_start(config, name=name, media_key=media_key,
                                          media_format=media_format,
                                          output_key=_output_key(job, name))
            _managed_update(job, managed_stt_state=ManagedSttState.RUNNING,
                            managed_stt_started_at=timezone.now(), managed_stt_polls=0)
        else:
            remote = transcribe.job_get(config, name=stored["managed_stt_job"])
        if remote.running:
            _managed_update(job, managed_stt_state=ManagedSttState.RUNNING)
            caption_job_lease_renew(job_id=job.pk)
            _poll_send(job_id=job.pk, polls=0)
            raise ManagedHandoff()
        if remote.status == "FAILED":
            # Finished for good: a retry of the caption job starts a new Transcribe job.
            _managed_update(job, managed_stt_job="", managed_stt_state=ManagedSttState.NONE)
            raise transcribe.ManagedSttFailed(
                "The managed speech-to-text service could not transcribe this recording: "
                f"{remote.failure_reason or 'no reason given'}"[:1000])
        result = _result_read(job=job, name=remote.name, workdir=os.path.dirname(path))
    except (ManagedHandoff, cost_ledger.CostCapExceeded):
        raise
    except BaseException:
        # The name stays (unless Transcribe failed it): whatever went wrong, a later
        # attempt finds the Transcribe job that may be running rather than paying twice.
        cost_ledger.cost_reservation_release(key=key)
        raise
    transcript = transcribe.result_to_transcript(result, language_code=remote.language_code)
    cost_ledger.cost_reservation_settle(key=key, actual_micros=managed_cost_micros(duration))
    stt_cost_record(job=job, amount_micros=managed_cost_micros(duration))
    _managed_update(job, managed_stt_state=ManagedSttState.FINISHED)
    return transcript, transcribe.engine_versions(config, remote)


def _result_read(*, job: CaptionJob, name: str, workdir: str) -> dict:
    local = os.path.join(workdir, "transcribe-result.json")
    try:
        storage.file_download(_output_key(job, name), local)
        with open(local, "rb") as fh:
            return json.load(fh)
    except (FileNotFoundError, ValueError) as exc:
        raise transcribe.ManagedSttFailed(
            "The managed speech-to-text service finished, but its result could not be "
            "read; retry the job.") from exc


# --- The poll -------------------------------------------------------------------------------


def caption_job_managed_poll(*, job_id) -> bool:
    """Ask Transcribe about a handed-off job. True: it finished, continue the job now.

    While it runs, the job's lease (and its cost reservation) is renewed and the next
    poll scheduled, later each time. A Transcribe job running longer than
    TRANSCRIBE_JOB_TIMEOUT_SECONDS fails the caption job, its reservation released.
    A cancelled or deleted job stops the polls.
    """
    job = CaptionJob.objects.select_related("owner").filter(pk=job_id).first()
    if (job is None or job.status != JobStatus.PROCESSING
            or job.managed_stt_state != ManagedSttState.RUNNING):
        return False
    try:
        remote = transcribe.job_get(transcribe_config(), name=job.managed_stt_job)
    except transcribe.ManagedSttUnavailable as exc:
        logger.warning("job %s: Transcribe not answering; polling again later: %s", job.pk, exc)
        remote = None
    except transcribe.ManagedSttFailed:
        return True  # the continuation asks again and fails the job with the reason
    if remote is not None and not remote.running:
        return True
    started = job.managed_stt_started_at or job.started_at or timezone.now()
    limit = settings.TRANSCRIBE_JOB_TIMEOUT_SECONDS
    if timezone.now() - started > timedelta(seconds=limit):
        cost_ledger.cost_reservation_release(key=_reservation_key(job))
        caption_job_fail(
            job_id=job.pk, code="managed_stt_timeout",
            detail=f"Transcribe job {job.managed_stt_job} still running after {limit} s",
            facts={"minutes": limit // 60})
        return False
    if not caption_job_lease_renew(job_id=job.pk):
        return False
    polls = job.managed_stt_polls + 1
    _managed_update(job, managed_stt_polls=polls)
    _poll_send(job_id=job.pk, polls=polls)
    return False


def caption_job_managed_claim(*, job_id, attempt_token: str) -> CaptionJob | None:
    """Let the poll's task continue a job whose Transcribe job finished.

    Only one execution wins: the job must be waiting on Transcribe, or its continuation
    must have crashed (an expired lease, or this task's own retry). Attempts are not
    counted again: the continuation is the rest of the attempt that handed off.
    """
    now = timezone.now()
    with transaction.atomic():
        job = CaptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.PROCESSING or job.stt_engine != SttEngine.MANAGED:
            return None
        if job.managed_stt_state == ManagedSttState.RUNNING:
            pass
        elif not (job.managed_stt_state == ManagedSttState.FINISHED and (
                job.lease_expires_at is None or job.lease_expires_at <= now
                or _retry_of_crashed_attempt(held=job.attempt_token, claim=attempt_token))):
            return None
        job.managed_stt_state = ManagedSttState.FINISHED
        job.attempt_token = attempt_token
        job.lease_expires_at = now + timedelta(seconds=settings.CAPTION_JOB_LEASE_SECONDS)
        job.save(update_fields=["managed_stt_state", "attempt_token", "lease_expires_at",
                                "updated_at"])
    return CaptionJob.objects.select_related("asset", "owner").get(pk=job_id)


# --- Staff's choice ------------------------------------------------------------------------


def caption_job_stt_engine_force(*, job: CaptionJob, engine: str, actor) -> CaptionJob:
    """Staff choose the engine of a job that no engine began transcribing.

    Raises ApplicationError (409) once an engine began (the job would otherwise be
    transcribed twice) or while the job runs, and (400) for an engine the deployment
    cannot use. A queued job's task is sent again to the engine's queue; the message
    already queued finds the job running or done and does nothing.
    """
    if engine not in SttEngine.values:
        raise ApplicationError(f"Unknown engine {engine!r}.", code="invalid_engine", status=400)
    if engine == SttEngine.MANAGED and not settings.AWS_STORAGE_BUCKET_NAME:
        raise ApplicationError("The managed engine needs media in S3, which this deployment "
                               "does not use.", code="invalid_engine", status=400)
    with transaction.atomic():
        locked = CaptionJob.objects.select_for_update().select_related("asset").get(pk=job.pk)
        if locked.asset.kind == MediaKind.IMAGE:
            raise ApplicationError("An image job has no speech to transcribe.",
                                   code="invalid_engine", status=409)
        if locked.status not in STT_ENGINE_CHANGE_STATUSES or locked.stt_started_at:
            raise ApplicationError(
                "This job's speech-to-text engine can no longer change: the job is running, "
                "or transcription began on the "
                + (locked.get_stt_engine_display() or "self-hosted engine") + ".",
                code="engine_fixed", status=409)
        if locked.stt_engine == engine:
            return locked
        label = SttEngine(engine).label
        _stt_engine_set(locked, engine=engine, actor=actor,
                        reason=f"Forced by staff ({actor}): {label}")
    return locked


def _stt_engine_set(locked: CaptionJob, *, engine: str, reason: str, actor=None) -> None:
    """Change a locked job's engine, audited; its task goes to the engine's queue on commit."""
    label = SttEngine(engine).label
    locked.stt_engine = engine
    locked.stt_route_reason = reason[:200]
    locked.save(update_fields=["stt_engine", "stt_route_reason", "updated_at"])
    JobEvent.objects.create(job=locked, from_status=locked.status, to_status=locked.status,
                            stage=locked.stage, actor=actor,
                            message=f"Speech-to-text engine set to {label}: {reason}"[:2000])
    if locked.status == JobStatus.QUEUED:
        outbox_send_on_commit(caption_job_message(job=locked))


def stt_overflow_sweep(*, now=None, batch: int = 100) -> int:
    """Under the overflow policy, move jobs stuck in the GPU queue to the managed engine.

    Routing decides when a job is made; a job queued before the GPU fleet stalled or
    scaled to zero would otherwise wait for it. A queued self-hosted job that no engine
    began and that has waited longer than STT_OVERFLOW_QUEUE_WAIT_SECONDS moves, under
    its row lock (a worker starting it meanwhile wins, and the job stays). Run by celery
    beat every minute. Returns how many moved.
    """
    if settings.STT_ROUTING_POLICY != "overflow":
        return 0
    now = now or timezone.now()
    limit = settings.STT_OVERFLOW_QUEUE_WAIT_SECONDS
    stale = list(CaptionJob.objects.filter(
        status=JobStatus.QUEUED, stt_engine=SttEngine.SELF_HOSTED, stt_started_at__isnull=True,
        error_code="", queued_at__lt=now - timedelta(seconds=limit),
    ).order_by("queued_at").values_list("pk", flat=True)[:batch])
    moved = 0
    for job_id in stale:
        with transaction.atomic():
            locked = CaptionJob.objects.select_for_update(skip_locked=True).filter(
                pk=job_id, status=JobStatus.QUEUED, stt_engine=SttEngine.SELF_HOSTED,
                stt_started_at__isnull=True).first()
            if locked is None:
                continue
            waited = (now - locked.queued_at).total_seconds()
            _stt_engine_set(locked, engine=SttEngine.MANAGED, reason=(
                f"Overflow: waited {waited:.0f} s in the GPU queue (limit {limit} s)"))
            moved += 1
    return moved
