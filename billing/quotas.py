"""The plan's quotas: what a submission must fit, and what is used of each.

Billing owns the limits and their messages; the caller (captions) tells how many jobs
its owner submitted recently, so billing never reads captions' tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from config.errors import ApplicationError
from config.humanize import format_duration

from . import selectors
from .cost_ledger import cost_cap_check
from .plans import Feature


def quota_admission_check(*, user, recent_submissions: Sequence[datetime], language: str = "",
                          now: datetime | None = None) -> None:
    """The plan's quotas, checked when a job is submitted (web and API alike).

    ``recent_submissions``: the times of the user's jobs created in the last hour, newest
    first, as anything that can be sliced (a lazy query: only the first
    ``jobs_per_hour`` are read).

    Raises ApplicationError(429) with Retry-After, naming the limit, the use and when it
    resets: jobs per hour (a rolling 60 minutes), audio minutes included per billing
    period (on plans without paid overage) and the hourly cost cap. The cost cap's
    authoritative check is the reservation the worker makes before each paid call.
    Raises 403 when a caption ``language`` is chosen on a plan without translation (on
    such plans captions are written in the language that was spoken).
    """
    now = now or timezone.now()
    limits = selectors.plan_limits_for_user(user=user, now=now)
    plan = limits.plan.name
    recent = list(recent_submissions[: limits.jobs_per_hour])
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
        start, end = selectors.billing_period_for_user(user=user, now=now)
        used, _ = selectors.usage_seconds_between(user=user, start=start, end=end)
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
    cost_cap_check(user=user, now=now)
    if language and not limits.has(Feature.TRANSLATION):
        raise ApplicationError(
            f"Choosing the caption language is not part of the {limits.plan.name} plan; "
            "leave it as 'Same as spoken', or upgrade on the billing page.",
            code="plan_feature_missing", status=403,
            details={"feature": Feature.TRANSLATION, "plan": limits.plan.code,
                     "language": "Leave empty for the spoken language."},
        )


def quota_usage(*, user, jobs_last_hour: int, now: datetime | None = None) -> dict:
    """The plan's quotas and what the user has used of each, right now.

    What the billing page, ``GET /api/v1/usage`` and the admin show; the same numbers
    ``quota_admission_check`` enforces. ``jobs_last_hour`` comes from the caller.
    """
    now = now or timezone.now()
    limits = selectors.plan_limits_for_user(user=user, now=now)
    start, end = selectors.billing_period_for_user(user=user, now=now)
    used, overage = selectors.usage_seconds_between(user=user, start=start, end=end)
    cost = selectors.cost_usage_for_window(user=user, moment=now)
    return {
        "plan": {"code": limits.plan.code, "name": limits.plan.name},
        "billing_period": {"start": start, "end": end},
        "audio_seconds": {"included": limits.included_audio_seconds, "used": used,
                          "overage": overage, "overage_allowed": limits.overage_allowed},
        "jobs_last_hour": {"allowed": limits.jobs_per_hour, "used": jobs_last_hour},
        "cost_this_hour": {
            "window_start": cost["window_start"], "window_end": cost["window_end"],
            "cap_micros": cost["cap_micros"], "settled_micros": cost["settled_micros"],
            "reserved_micros": cost["reserved_micros"],
        },
        "max_upload_bytes": limits.max_upload_bytes,
        "max_media_seconds": limits.max_media_seconds,
    }
