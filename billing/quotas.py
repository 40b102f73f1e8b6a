"""The plan's quotas, kept as a ledger of admitted jobs (``JobAdmission``).

A job is admitted under a lock on its owner's ``BillingAccount`` row, in the transaction
that creates it, so parallel submissions (from any number of processes) cannot pass a
limit together: jobs per hour count the admissions of the last 60 minutes; audio minutes
count the usage ledger of the billing period plus the seconds still held by queued and
running jobs, plus the new file's duration. A hold is settled when its job finishes
(its seconds are in the usage ledger by then) and released when it fails or is
cancelled. ``quota_admission_check`` gives the same answer without the lock, so a
request is refused before its upload is stored; ``quota_admit`` is the authority.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from config import metrics
from config.errors import ApplicationError
from config.humanize import format_duration

from . import selectors
from .cost_ledger import cost_cap_check
from .models import AdmissionStatus, BillingAccount, JobAdmission, UsageRecord
from .plans import Feature


def _held_seconds(*, user) -> int:
    """Seconds held by the user's queued and running jobs.

    A hold whose job is already in the usage ledger is not counted twice, even if it was
    never settled (a job finished by a worker of the previous release during a deploy).
    """
    finished = UsageRecord.objects.filter(user=user).values("job_id")
    return (JobAdmission.objects.filter(user=user, status=AdmissionStatus.HELD)
            .exclude(job_id__in=finished).aggregate(s=Sum("held_seconds"))["s"] or 0)


def _refusal(*, user, limits, media_seconds: float, language: str,
             now: datetime) -> ApplicationError | None:
    """Why one more job of ``media_seconds`` does not fit the user's plan now, or None."""
    plan = limits.plan.name
    allowed = limits.jobs_per_hour
    recent = JobAdmission.objects.filter(user=user, admitted_at__gt=now - timedelta(hours=1))
    # Counted up to the limit in the database (not fetched): the check costs the same
    # however high the plan's limit is.
    used = recent.order_by()[:allowed].count() if allowed > 0 else 0
    if used >= allowed:
        # The admission that leaves the window first to make room for one more.
        oldest = (recent.order_by("-admitted_at").values_list("admitted_at", flat=True)
                  [allowed - 1] if allowed > 0 else now)
        retry_after = max(1, math.ceil((oldest + timedelta(hours=1) - now).total_seconds()))
        return ApplicationError(
            f"You have submitted {used} jobs in the last hour; the {plan} plan allows "
            f"{limits.jobs_per_hour} an hour. You can submit again in "
            f"{format_duration(retry_after)}.",
            code="jobs_per_hour_exceeded", status=429,
            details={"limit": "jobs_per_hour", "allowed": limits.jobs_per_hour,
                     "used": used, "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    if not limits.overage_allowed:
        start, end = selectors.billing_period_for_user(user=user, now=now)
        used, _ = selectors.usage_seconds_between(user=user, start=start, end=end)
        held = _held_seconds(user=user)
        included = limits.included_audio_seconds
        needed = math.ceil(media_seconds or 0)
        if used + held >= included or used + held + needed > included:
            retry_after = max(1, math.ceil((end - now).total_seconds()))
            left = max(0, included - used - held)
            return ApplicationError(
                (f"This file is {format_duration(needed)} long, but only "
                 f"{format_duration(left)} of the {included // 60} audio minutes in the "
                 f"{plan} plan are left this period" if needed and left else
                 f"You have used all {included // 60} audio minutes included in the {plan} "
                 "plan for this period")
                + (f" ({format_duration(held)} are held by jobs still in progress)"
                   if held else "")
                + f". They renew on {end:%Y-%m-%d %H:%M} UTC; upgrade your plan for more now.",
                code="audio_minutes_exhausted", status=429,
                details={"limit": "included_audio_seconds", "allowed": included,
                         "used": used, "held": held, "requested": needed,
                         "resets_at": end.isoformat()},
                headers={"Retry-After": str(retry_after)},
            )
    try:
        cost_cap_check(user=user, now=now)
    except ApplicationError as exc:
        return exc
    if language and not limits.has(Feature.TRANSLATION):
        return ApplicationError(
            f"Choosing the caption language is not part of the {plan} plan; "
            "leave it as 'Same as spoken', or upgrade on the billing page.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.TRANSLATION, "plan": limits.plan.code,
                     "language": "Leave empty for the spoken language."},
        )
    return None


def quota_admission_check(*, user, media_seconds: float = 0, language: str = "",
                          now: datetime | None = None) -> None:
    """Refuse early, before an upload is stored, a job that would not be admitted now.

    Raises ApplicationError(429) with Retry-After, naming the limit, the use and when it
    resets: jobs per hour (a rolling 60 minutes), audio minutes included per billing
    period (on plans without paid overage: used, held by jobs in progress, and this
    file), and the hourly cost cap (whose authority is the worker's reservation before
    each paid call). Raises 403 when a caption ``language`` is chosen on a plan without
    translation. Takes no lock: ``quota_admit`` decides.
    """
    now = now or timezone.now()
    limits = selectors.plan_limits_for_user(user=user, now=now)
    refusal = _refusal(user=user, limits=limits, media_seconds=media_seconds,
                       language=language, now=now)
    if refusal is not None:
        metrics.REFUSALS.labels(code=refusal.code, where="submission").inc()
        raise refusal


def _locked_account(*, user) -> BillingAccount:
    account = BillingAccount.objects.select_for_update().filter(user=user).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            BillingAccount.objects.create(user=user)
    except IntegrityError:
        pass  # created by a parallel request first: lock theirs
    return BillingAccount.objects.select_for_update().get(user=user)


def quota_admit(*, user, job_id, media_seconds: float = 0, language: str = "",
                enforce: bool = True, now: datetime | None = None) -> JobAdmission:
    """Admit one job under the plan's quotas, atomically. Call inside the job's transaction.

    Raises what ``quota_admission_check`` raises (the rows then roll back with the
    job). With ``enforce=False`` (a retry by support staff) the job is admitted and its
    minutes held without a check.
    """
    now = now or timezone.now()
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota_admit must run in the transaction that creates the job")
    _locked_account(user=user)
    if enforce:
        limits = selectors.plan_limits_for_user(user=user, now=now)
        refusal = _refusal(user=user, limits=limits, media_seconds=media_seconds,
                           language=language, now=now)
        if refusal is not None:
            metrics.REFUSALS.labels(code=refusal.code, where="admission").inc()
            raise refusal
    return JobAdmission.objects.create(user=user, job_id=job_id, admitted_at=now,
                                       held_seconds=math.ceil(media_seconds or 0))


def _finish(*, job_id, status: str) -> int:
    return JobAdmission.objects.filter(job_id=job_id, status=AdmissionStatus.HELD).update(
        status=status, finished_at=timezone.now())


def quota_hold_settle(*, job_id) -> int:
    """The job finished: its seconds are in the usage ledger now, no longer held."""
    return _finish(job_id=job_id, status=AdmissionStatus.SETTLED)


def quota_hold_release(*, job_id) -> int:
    """The job failed or was cancelled: the minutes it held are free again."""
    return _finish(job_id=job_id, status=AdmissionStatus.RELEASED)


def quota_usage(*, user, now: datetime | None = None) -> dict:
    """The plan's quotas and what the user has used of each, right now.

    What the billing page, ``GET /api/v1/usage`` and the admin show; the same numbers
    ``quota_admit`` enforces.
    """
    now = now or timezone.now()
    limits = selectors.plan_limits_for_user(user=user, now=now)
    start, end = selectors.billing_period_for_user(user=user, now=now)
    used, overage = selectors.usage_seconds_between(user=user, start=start, end=end)
    cost = selectors.cost_usage_for_window(user=user, moment=now)
    jobs = JobAdmission.objects.filter(user=user, admitted_at__gt=now - timedelta(hours=1))
    return {
        "plan": {"code": limits.plan.code, "name": limits.plan.name},
        "billing_period": {"start": start, "end": end},
        "audio_seconds": {"included": limits.included_audio_seconds, "used": used,
                          "held": _held_seconds(user=user),
                          "overage": overage, "overage_allowed": limits.overage_allowed},
        "jobs_last_hour": {"allowed": limits.jobs_per_hour, "used": jobs.count()},
        "cost_this_hour": {
            "window_start": cost["window_start"], "window_end": cost["window_end"],
            "cap_micros": cost["cap_micros"], "settled_micros": cost["settled_micros"],
            "reserved_micros": cost["reserved_micros"],
        },
        "max_upload_bytes": limits.max_upload_bytes,
        "max_media_seconds": limits.max_media_seconds,
    }
