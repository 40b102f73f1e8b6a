"""What a job's paid steps cost: model calls recorded, and reserve, settle or release.

Every paid step goes through the hourly cost ledger: reserved before, settled after
(or released when it failed), so a retried task is never charged twice.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F

from billing import cost_ledger
from engines import caption_writer

from ..models import (
    CaptionJob,
    MediaKind,
    ModelCall,
    ModelCallStatus,
    SttEngine,
)


def model_call_record(*, job: CaptionJob, attempt: int,
                      record: caption_writer.CallRecord) -> ModelCall:
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
        cost_ledger.cost_reservation_settle(key=key, actual_micros=fields["cost_micro_usd"])
    else:
        cost_ledger.cost_reservation_release(key=key)
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


@dataclass
class SttCharge:
    """A transcription reserved under the hourly cap, waiting to be settled at its cost.

    Settled in the transaction that completes the job (``caption_job_complete``), or on
    its own (``stt_charge_settle``) when the attempt ends any other way after the
    transcript was made: the work was done, so it is paid for either way.
    """

    key: str
    amount_micros: int
    window_id: int | None = None  # the ledger's window it was reserved in
    settled: bool = False  # settled or released: nothing more to do with it


# What an attempt reserved for transcription as it started: the hold, the cap's refusal,
# or nothing yet.
SttHold = SttCharge | cost_ledger.CostCapExceeded | None


def stt_hold_open(*, job: CaptionJob) -> SttHold:
    """Reserve the job's transcription as its attempt starts, in the start's transaction.

    For the recording's length as the upload check measured it, when the job will be
    transcribed on our own engine (the managed engine reserves at its own price). Returns
    the hold, the cap's refusal (raised where transcription would begin, so the attempt
    ends as it would have: the job waits for the cap), or None (an image, the managed
    engine, a length not known: ``stt_paid`` reserves after decoding then).
    """
    duration = job.asset.duration_seconds
    if job.asset.kind == MediaKind.IMAGE or job.stt_engine == SttEngine.MANAGED or not duration:
        return None
    key, amount = f"stt:{job.pk}", stt_cost_micros(duration)
    try:
        reservation = cost_ledger.cost_reservation_create(
            user=job.owner, key=key, amount_micros=amount, kind="stt", job_id=job.pk)
    except cost_ledger.CostCapExceeded as refusal:
        return refusal  # raised before the ledger wrote: the start's transaction goes on
    return SttCharge(key=key, amount_micros=amount, window_id=reservation.window_id)


def stt_hold_close(*, hold: SttHold) -> None:
    """Release a hold the attempt did not transcribe with (no audio, a failure before)."""
    if isinstance(hold, SttCharge) and not hold.settled:
        cost_ledger.cost_reservation_release(key=hold.key)
        hold.settled = True


@contextmanager
def stt_paid(*, job: CaptionJob, amount_micros: int,
             hold: SttHold = None):
    """Reserve before transcribing; release if it fails; yield the charge to settle after.

    ``hold``: what ``stt_hold_open`` reserved as the attempt started. It is used when it
    covers ``amount_micros`` (settled at that amount); one that does not (more channels,
    a longer decode) is released and the whole amount reserved again, under the cap.
    Raises ``cost_ledger.CostCapExceeded`` before the step when the owner's hourly cap
    cannot cover it; the pipeline then defers the job. One key per job (``stt:<job>``,
    shared with the managed engine): a redelivered or resumed job is not charged twice.
    """
    if isinstance(hold, cost_ledger.CostCapExceeded):
        raise hold
    key = f"stt:{job.pk}"
    if hold is None or hold.settled or hold.amount_micros < amount_micros:
        stt_hold_close(hold=hold)
        window_id = cost_ledger.cost_reservation_create(
            user=job.owner, key=key, amount_micros=amount_micros, kind="stt", job_id=job.pk
        ).window_id
    else:
        window_id = hold.window_id
    charge = SttCharge(key=key, amount_micros=amount_micros, window_id=window_id)
    if isinstance(hold, SttCharge):
        hold.settled = True  # the charge below carries it from here
    try:
        yield charge
    except BaseException:
        cost_ledger.cost_reservation_release(key=key)
        charge.settled = True
        raise


def stt_charge_settle(*, job: CaptionJob, charge: SttCharge | None, record: bool = True) -> None:
    """Settle a transcription's reservation at its cost, once; in the caller's transaction
    when one is open. ``record``: also show the cost on the job (one UPDATE), unless the
    caller writes ``stt_cost_micro_usd`` with the job's own update."""
    if charge is None or charge.settled:
        return
    cost_ledger.cost_reservation_settle(key=charge.key, actual_micros=charge.amount_micros,
                                        window_id=charge.window_id)
    if record:
        stt_cost_record(job=job, amount_micros=charge.amount_micros)
    charge.settled = True


def stt_cost_record(*, job: CaptionJob, amount_micros: int) -> None:
    """Show on the job what its transcription cost, whichever engine ran it."""
    CaptionJob.objects.filter(pk=job.pk).update(stt_cost_micro_usd=amount_micros)
    job.stt_cost_micro_usd = amount_micros
