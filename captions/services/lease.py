"""A running job's lease: which task execution holds the job, and keeping it alive.

A job is started by one task execution at a time (``caption_job_start``); the worker
renews the lease while it works (``caption_job_lease_heartbeat``). A second delivery of
the same message finds the lease alive and stops; the retry of an attempt that crashed
(a later execution of the same chain) takes it over at once.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from billing import cost_ledger

from ..models import FINAL_STATUSES, CaptionJob, JobStage, JobStatus
from .jobs import _transition, caption_job_fail
from .results import SttHold, stt_hold_open

logger = logging.getLogger(__name__)


def caption_job_attempt_token(*, chain: str, execution: int) -> str:
    """The token of one execution of a job's task: the ``execution``-th run of one message
    and its retries (``chain``, made up by the message's first execution)."""
    return f"{chain}:{execution}"


def _retry_of_crashed_attempt(*, held: str, claim: str) -> bool:
    """True when ``claim`` is a later execution of the chain that holds the lease.

    A task is retried only after its attempt raised, so a later execution of the same
    chain means the holder's code has exited: the lease it left is stale. A second
    delivery of the same message (the same execution) or another message's execution
    (another chain) is not: the holder may be running.
    """
    held_chain, _, held_n = held.rpartition(":")
    claim_chain, _, claim_n = claim.rpartition(":")
    return (bool(held_chain) and held_chain == claim_chain and held_n.isdigit()
            and claim_n.isdigit() and int(claim_n) > int(held_n))


def caption_job_start(*, job_id, attempt_token: str = "") -> CaptionJob | None:
    """Claim a job for a worker attempt (``caption_job_start_reserving``, without the hold)."""
    job, _ = caption_job_start_reserving(job_id=job_id, attempt_token=attempt_token,
                                         reserve=False)
    return job


def caption_job_start_reserving(
    *, job_id, attempt_token: str = "", reserve: bool = True
) -> tuple[CaptionJob | None, SttHold]:
    """Claim a job for a worker attempt and reserve its transcription, in one transaction.

    Returns (None, None) when there is nothing to do; else the started job and what
    ``stt_hold_open`` gave (``reserve``): the hold, or the hourly cap's refusal.

    A redelivered job whose worker died (its lease ran out) starts a new attempt; after
    CAPTION_JOB_MAX_ATTEMPTS attempts it fails with a reason instead. A delivery that
    finds a live lease is a duplicate (the broker's visibility timeout passed while the
    job ran): it does nothing, so a job never runs on two workers at once. The one
    exception is the task's own retry after its attempt crashed (``attempt_token`` a
    later execution of the lease holder's chain): that attempt has stopped, so its retry
    takes over at once instead of waiting minutes for the lease to run out.
    """
    now = timezone.now()
    with transaction.atomic():
        # The asset and owner come with it: the attempt reads both (the lock is the job's).
        job = (CaptionJob.objects.select_for_update(of=("self",))
               .select_related("asset", "owner").filter(pk=job_id).first())
        if job is None or job.status in FINAL_STATUSES:
            return None, None
        takeover = False
        if (job.status == JobStatus.PROCESSING and job.lease_expires_at
                and job.lease_expires_at > now):
            takeover = _retry_of_crashed_attempt(held=job.attempt_token, claim=attempt_token)
            if not takeover:
                logger.warning("job %s is running elsewhere until %s; duplicate delivery "
                               "ignored", job.pk, job.lease_expires_at)
                return None, None
            logger.warning("job %s: attempt %s crashed; its retry takes over", job.pk,
                           job.attempts)
        if job.attempts >= settings.CAPTION_JOB_MAX_ATTEMPTS:
            caption_job_fail(
                job_id=job.pk,
                code="too_many_attempts",
                detail=f"{job.attempts} attempts ended without finishing (crash or lost lease)",
                facts={"attempts": job.attempts},
            )
            return None, None
        started = _transition(
            job.pk,
            JobStatus.PROCESSING,
            locked=job,
            attempts=job.attempts + 1,
            stage=JobStage.PROBING,
            progress=5,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=settings.CAPTION_JOB_LEASE_SECONDS),
            attempt_token=attempt_token,
            error_code="",
            error_message="",
            error_detail="",
            stage_seconds={},
            message=(f"Attempt {job.attempts + 1} started"
                     + (f" (attempt {job.attempts} stopped unexpectedly)" if takeover else "")),
        )
        # After the job's lock, as everywhere: the job, then the owner's cost window.
        return started, (stt_hold_open(job=started) if reserve else None)


def caption_job_lease_renew(*, job_id, attempt_token: str | None = None) -> bool:
    """Extend the running job's lease, and its cost reservations' expiry with it.

    False when the job is no longer processing, or (given ``attempt_token``) no longer
    held by that attempt: a crashed attempt's heartbeat never renews its successor's lease.
    """
    jobs = CaptionJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING)
    if attempt_token is not None:
        jobs = jobs.filter(attempt_token=attempt_token)
    renewed = bool(jobs.update(
        lease_expires_at=timezone.now() + timedelta(seconds=settings.CAPTION_JOB_LEASE_SECONDS)
    ))
    if renewed:
        cost_ledger.cost_reservations_extend(job_id=job_id)
    return renewed


@contextmanager
def caption_job_lease_heartbeat(job: CaptionJob):
    """Renew the job's lease from a background thread while the attempt runs."""
    stop = threading.Event()
    interval = max(settings.CAPTION_JOB_LEASE_SECONDS / 3, 0.05)

    def beat():
        try:
            while not stop.wait(interval):
                try:
                    if not caption_job_lease_renew(job_id=job.pk,
                                                   attempt_token=job.attempt_token):
                        return
                except (OperationalError, InterfaceError) as exc:
                    # The database is not answering: keep beating on a fresh connection.
                    # A heartbeat that died here would let the lease run out under a
                    # live attempt, and the sweep would start a second one beside it.
                    logger.warning("job %s: lease not renewed, the database is not "
                                   "answering (%s)", job.pk, exc)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
