"""The hourly API cost ledger: reserve before a paid call, settle after it, release on failure.

The ledger lives in PostgreSQL and is the only source of truth. A cap holds under
any concurrency because reserving takes a row lock on the user's ``CostWindow`` row
for the hour and checks ``settled + reserved + amount <= cap`` while holding it;
settling and releasing take the same lock. No counter lives in Redis, so a Redis
restart can never cause overspend.

The window is the clock hour in UTC. A reservation and its settlement stay in the
window where the reservation was made; the cap resets at the top of each hour.

A reservation is for the most the call can cost (for the LLM: the prompt's tokens
plus ``max_tokens`` of output at the model's prices), so settling never raises
spend above what was admitted; a settlement above its reservation is clamped to it
and logged, because the cap is the promise we make to the customer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config import metrics
from config.errors import ApplicationError
from config.transactions import atomic_joined

from .models import CostCapOverride, CostReservation, CostWindow, ReservationStatus
from .selectors import cost_window_seconds_left, cost_window_start, hourly_cap_micros_for_user

logger = logging.getLogger(__name__)


def format_dollars(micros: int) -> str:
    return f"${micros / 1_000_000:,.2f}"


class CostCapExceeded(ApplicationError):
    """429 with Retry-After: the user's hourly budget cannot cover this call."""

    def __init__(self, *, cap: int, spent: int, amount: int, retry_after: int, resets_at):
        super().__init__(
            f"Hourly API cost cap reached: {format_dollars(spent)} of your "
            f"{format_dollars(cap)} per hour is used or reserved, and this step needs up to "
            f"{format_dollars(amount)}. The cap resets at {resets_at:%H:%M} UTC "
            f"(in {retry_after} seconds).",
            code="cost_cap_exceeded",
            status=429,
            details={"limit": "hourly_cost_cap", "cap_micros": cap, "used_micros": spent,
                     "requested_micros": amount, "resets_at": resets_at.isoformat()},
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def _locked_window(*, user, start: datetime) -> CostWindow:
    """The user's window row for ``start``, created if needed, locked FOR UPDATE."""
    window = CostWindow.objects.select_for_update().filter(user=user, window_start=start).first()
    if window is not None:
        return window
    try:
        with transaction.atomic():
            CostWindow.objects.create(user=user, window_start=start)
    except IntegrityError:
        pass  # another transaction created it first; lock theirs
    return CostWindow.objects.select_for_update().get(user=user, window_start=start)


def cost_reservation_create(
    *, user, key: str, amount_micros: int, kind: str, job_id=None, now: datetime | None = None
) -> CostReservation:
    """Reserve ``amount_micros`` of the user's hourly budget for one paid call.

    Idempotent per ``key``: a redelivered call gets its existing reservation back,
    unless that one was released (the call failed, or its worker died and the sweeper
    freed it): a call made again must fit under the cap again, like a new one.
    Raises CostCapExceeded (HTTP 429 with Retry-After) when the budget cannot cover it.
    """
    if amount_micros < 0:
        raise ValueError("a reservation cannot be negative")
    now = now or timezone.now()
    start = cost_window_start(now)
    cap = hourly_cap_micros_for_user(user=user)
    expires_at = now + timedelta(seconds=settings.BILLING_RESERVATION_TIMEOUT_SECONDS)
    with atomic_joined():
        reservation = _reserve_at_once(user_id=user.pk, start=start, key=key, kind=kind,
                                       job_id=job_id, amount=amount_micros, cap=cap, now=now,
                                       expires_at=expires_at)
        if reservation is not None:
            return reservation
        # Refused, or the key has a live reservation: decided under the window's lock.
        window = _locked_window(user=user, start=start)
        existing = CostReservation.objects.select_for_update().filter(key=key).first()
        if existing is not None and existing.status != ReservationStatus.RELEASED:
            return existing
        if window.spent_micros + amount_micros > cap:
            retry_after = cost_window_seconds_left(now)
            metrics.REFUSALS.labels(code="cost_cap_exceeded", where="worker").inc()
            raise CostCapExceeded(cap=cap, spent=window.spent_micros, amount=amount_micros,
                                  retry_after=retry_after,
                                  resets_at=start + timedelta(hours=1))
        window.reserved_micros += amount_micros
        window.save(update_fields=["reserved_micros"])
        if existing is not None:
            # Released before: it held nothing, so it moves to this hour as a new hold.
            existing.window, existing.status = window, ReservationStatus.RESERVED
            existing.reserved_micros, existing.settled_micros = amount_micros, None
            existing.created_at, existing.expires_at, existing.finished_at = now, expires_at, None
            existing.save()
            return existing
        try:
            with transaction.atomic():
                return CostReservation.objects.create(
                    user=user, window=window, key=key, kind=kind, job_id=job_id,
                    reserved_micros=amount_micros, created_at=now, expires_at=expires_at,
                )
        except IntegrityError:
            # The same call reserved concurrently in another hour's window: keep that one.
            window.reserved_micros -= amount_micros
            window.save(update_fields=["reserved_micros"])
            return CostReservation.objects.get(key=key)


# The common reservation in one statement, with no read before it: the hour's window is
# created or locked and charged in an upsert whose condition is the cap, evaluated on the
# locked row (so parallel reservations are admitted one at a time, as under
# ``_locked_window``); the reservation row is inserted from that window's id. The row
# comes back as (window, reservation): no row when the cap refused or the key already
# holds a live reservation (the locked path then decides and says), a NULL reservation
# when the same key was reserved in parallel (the window's charge is given back).
# A released reservation of the same key moves to this window as a new hold.
_RESERVE_SQL = """\
WITH w AS (
    INSERT INTO billing_costwindow AS w (user_id, window_start, reserved_micros,
        settled_micros)
    SELECT %(user)s, %(start)s, %(amount)s, 0
    WHERE %(amount)s <= %(cap)s AND NOT EXISTS (
        SELECT 1 FROM billing_costreservation WHERE key = %(key)s AND status <> 'released')
    ON CONFLICT (user_id, window_start) DO UPDATE
        SET reserved_micros = w.reserved_micros + EXCLUDED.reserved_micros
        WHERE w.reserved_micros + w.settled_micros + EXCLUDED.reserved_micros <= %(cap)s
    RETURNING w.id
), r AS (
    INSERT INTO billing_costreservation AS r (user_id, window_id, key, kind, job_id,
        reserved_micros, status, created_at, expires_at)
    SELECT %(user)s, w.id, %(key)s, %(kind)s, %(job)s, %(amount)s, 'reserved', %(now)s,
        %(expires)s FROM w
    ON CONFLICT (key) DO UPDATE SET window_id = EXCLUDED.window_id, status = 'reserved',
        reserved_micros = EXCLUDED.reserved_micros, settled_micros = NULL,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
        finished_at = NULL
        WHERE r.status = 'released'
    RETURNING r.id
)
SELECT w.id, r.id FROM w LEFT JOIN r ON TRUE
"""


def _reserve_at_once(*, user_id, start, key, kind, job_id, amount, cap, now,
                     expires_at) -> CostReservation | None:
    if connection.vendor != "postgresql":
        return None  # the statement is PostgreSQL's; the locked path decides elsewhere
    params = {"user": user_id, "start": start, "amount": amount, "cap": cap, "key": key,
              "kind": kind, "job": job_id, "now": now, "expires": expires_at}
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL, params)
        row = cursor.fetchone()
        if row is None:
            return None
        window_id, reservation_id = row
        if reservation_id is None:
            # The same call was reserved in parallel: give this hold back, keep theirs.
            cursor.execute("UPDATE billing_costwindow SET reserved_micros = reserved_micros - "
                           "%s WHERE id = %s", [amount, window_id])
            return CostReservation.objects.get(key=key)
    return CostReservation(id=reservation_id, user_id=user_id, window_id=window_id, key=key,
                           kind=kind, job_id=job_id, reserved_micros=amount,
                           status=ReservationStatus.RESERVED, created_at=now,
                           expires_at=expires_at)


# Settle or release a reservation known to be in window ``window``, in one statement: the
# window's row locked first (the ledger's one order of locks), then the reservation moved
# from reserved (never twice), then the window's totals. No row when the reservation is
# not reserved in that window: ``_finish`` then decides under its locks.
_FINISH_SQL = """\
WITH w AS (SELECT id FROM billing_costwindow WHERE id = %(window)s FOR UPDATE),
r AS (
    UPDATE billing_costreservation SET status = %(status)s, finished_at = %(now)s,
        settled_micros = CASE WHEN %(status)s = 'settled'
                              THEN LEAST(GREATEST(%(actual)s, 0), reserved_micros) END
    WHERE key = %(key)s AND status = 'reserved' AND window_id IN (SELECT id FROM w)
    RETURNING id, reserved_micros, settled_micros
)
UPDATE billing_costwindow AS cw
SET reserved_micros = cw.reserved_micros - r.reserved_micros,
    settled_micros = cw.settled_micros + COALESCE(r.settled_micros, 0)
FROM r WHERE cw.id = %(window)s
RETURNING r.id, r.reserved_micros
"""


def _finish_at_once(key: str, *, settled_micros: int | None, window_id: int) -> bool:
    if connection.vendor != "postgresql":
        return False  # the statement is PostgreSQL's; ``_finish`` decides under its locks
    status = ReservationStatus.RELEASED if settled_micros is None else ReservationStatus.SETTLED
    with connection.cursor() as cursor:
        cursor.execute(_FINISH_SQL, {"window": window_id, "status": str(status),
                                     "now": timezone.now(), "actual": settled_micros or 0,
                                     "key": key})
        row = cursor.fetchone()
    if row is not None and settled_micros is not None and settled_micros > row[1]:
        logger.error("cost %s above reservation %s for %s; clamped", settled_micros, row[1],
                     key)
    return row is not None


def _finish(key: str, *, settled_micros: int | None,
            window_id: int | None = None) -> CostReservation | None:
    """``window_id``: the window the caller's reservation was made in, if known; then one
    statement settles it (``_finish_at_once``) unless it moved or was finished already."""
    with atomic_joined():
        if window_id is not None and _finish_at_once(key, settled_micros=settled_micros,
                                                     window_id=window_id):
            return None
        if window_id is None:
            reservation = CostReservation.objects.filter(key=key).only("window_id").first()
            if reservation is None:
                return None
            window_id = reservation.window_id
        window = CostWindow.objects.select_for_update().get(pk=window_id)
        reservation = CostReservation.objects.select_for_update().filter(key=key).first()
        if reservation is None:
            return None
        if reservation.window_id != window.pk:
            # Moved to another hour's window (released, then reserved again) meanwhile.
            return _finish(key, settled_micros=settled_micros,
                           window_id=reservation.window_id)
        if reservation.status != ReservationStatus.RESERVED:
            return reservation  # settled or released already: a redelivery changes nothing
        window.reserved_micros -= reservation.reserved_micros
        if settled_micros is None:
            reservation.status = ReservationStatus.RELEASED
        else:
            if settled_micros > reservation.reserved_micros:
                logger.error("cost %s above reservation %s for %s; clamped", settled_micros,
                             reservation.reserved_micros, key)
                settled_micros = reservation.reserved_micros
            window.settled_micros += max(settled_micros, 0)
            reservation.settled_micros = max(settled_micros, 0)
            reservation.status = ReservationStatus.SETTLED
        reservation.finished_at = timezone.now()
        window.save(update_fields=["reserved_micros", "settled_micros"])
        reservation.save(update_fields=["status", "settled_micros", "finished_at"])
        return reservation


def cost_reservation_settle(*, key: str, actual_micros: int,
                            window_id: int | None = None) -> None:
    """Record the call's actual cost. Settling the same key twice charges once.

    ``window_id``: the reservation's window as ``cost_reservation_create`` returned it:
    then it is one statement, with no read before it."""
    _finish(key, settled_micros=actual_micros, window_id=window_id)


def cost_reservation_release(*, key: str, window_id: int | None = None) -> None:
    """The call failed or never happened: give the reserved budget back."""
    _finish(key, settled_micros=None, window_id=window_id)


def cost_reservations_extend(*, job_id, now: datetime | None = None) -> int:
    """Keep a running job's reservations from being swept while its worker is alive.

    Called from the job's lease heartbeat, so a long transcription is never released
    (and its budget handed to other calls) while it is still being paid for.
    """
    now = now or timezone.now()
    return CostReservation.objects.filter(
        job_id=job_id, status=ReservationStatus.RESERVED
    ).update(expires_at=now + timedelta(seconds=settings.BILLING_RESERVATION_TIMEOUT_SECONDS))


def cost_reservations_sweep(*, now: datetime | None = None) -> int:
    """Release reservations whose worker died before settling them. Returns how many."""
    now = now or timezone.now()
    keys = list(
        CostReservation.objects.filter(status=ReservationStatus.RESERVED, expires_at__lt=now)
        .values_list("key", flat=True)[:1000]
    )
    for key in keys:
        cost_reservation_release(key=key)
    return len(keys)


def cost_cap_check(*, user, amount_micros: int = 0, now: datetime | None = None) -> None:
    """The fast check at submission: refuse with 429 when the hour's budget is used up."""
    now = now or timezone.now()
    start = cost_window_start(now)
    cap = hourly_cap_micros_for_user(user=user)
    window = CostWindow.objects.filter(user=user, window_start=start).first()
    spent = window.spent_micros if window else 0
    if spent + amount_micros > cap or (amount_micros == 0 and spent >= cap):
        raise CostCapExceeded(cap=cap, spent=spent, amount=amount_micros,
                              retry_after=cost_window_seconds_left(now),
                              resets_at=start + timedelta(hours=1))


# --- Staff overrides of a user's hourly cap -------------------------------------------------


def _override_state(override: CostCapOverride | None) -> dict:
    if override is None:
        return {}
    return {"hourly_cap_micros": override.hourly_cap_micros, "reason": override.reason}


def cost_cap_override_validate(*, hourly_cap_micros, reason: str) -> None:
    """Raises ApplicationError(400) naming each field that cannot be saved."""
    errors = {}
    if hourly_cap_micros is None or hourly_cap_micros < 0:
        errors["hourly_cap_micros"] = "Give a cap of zero or more micro-dollars per hour."
    if not (reason or "").strip():
        errors["reason"] = "Say why this customer's cap differs from their plan's."
    if errors:
        raise ApplicationError("The cost cap override was not saved.", code="invalid",
                               details=errors)


def cost_cap_override_set(*, user, hourly_cap_micros: int, reason: str, actor) -> CostCapOverride:
    """Set (or change) the user's hourly cap in place of their plan's, audited.

    Raises ApplicationError(400) for a negative cap or an empty reason: an override is
    a decision someone must be able to explain later.
    """
    cost_cap_override_validate(hourly_cap_micros=hourly_cap_micros, reason=reason)
    with transaction.atomic():
        override = CostCapOverride.objects.select_for_update().filter(user=user).first()
        before = _override_state(override)
        override = override or CostCapOverride(user=user)
        override.hourly_cap_micros = hourly_cap_micros
        override.reason = reason.strip()[:200]
        override.save()
        audit_record(action=AuditAction.COST_CAP_SET, target=override, actor=actor,
                     subject_user=user, before=before, after=_override_state(override))
    return override


def cost_cap_override_remove(*, override: CostCapOverride, actor) -> None:
    """Remove the override: the user's plan sets their cap again. Audited."""
    with transaction.atomic():
        audit_record(action=AuditAction.COST_CAP_REMOVED, target=override, actor=actor,
                     subject_user=override.user, before=_override_state(override))
        override.delete()
