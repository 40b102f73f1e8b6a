"""Reads: which plan a user is on right now, their limits, their usage this period.

The rule for when a subscription gives its plan's limits (evaluated on every read,
so a fallback to Free happens at its moment without a scheduled job):

* ``active`` and ``trialing``: the plan's limits. If the customer cancelled "at period
  end", until ``current_period_end`` even when Stripe's final event is late.
* ``past_due``: the plan's limits for ``BILLING_PAST_DUE_GRACE_DAYS`` from the moment we
  first saw it past due (Stripe is retrying the card); Free limits after that.
* ``canceled``, ``unpaid``, ``incomplete``, ``incomplete_expired``, ``paused``: Free limits
  at once.

Every plan limit is also capped by the server's hard ceilings
(``CAPTIONS_MAX_UPLOAD_BYTES``, ``CAPTIONS_MAX_MEDIA_SECONDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from config.cache import cache_forget_once, cache_get_once, cache_set_once

from .models import (
    BillingAccount,
    CostCapOverride,
    CostWindow,
    Subscription,
    SubscriptionStatus,
    UsageRecord,
)
from .plans import FREE, Plan, plan_get

GRANTING_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


@dataclass(frozen=True)
class PlanLimits:
    plan: Plan
    max_upload_bytes: int
    max_media_seconds: int
    included_audio_seconds: int
    jobs_per_hour: int
    hourly_cost_cap_micros: int
    upload_retention_days: int
    result_retention_days: int
    overage_allowed: bool
    features: frozenset[str]

    def has(self, feature: str) -> bool:
        return feature in self.features


@dataclass(frozen=True)
class BillingOverview:
    plan: Plan
    limits: PlanLimits
    subscription: Subscription | None
    period_start: datetime
    period_end: datetime
    used_seconds: int
    overage_seconds: int
    # When paid limits end if nothing changes (cancelled at period end, or grace ends).
    paid_until: datetime | None
    has_customer: bool

    @property
    def used_minutes(self) -> int:
        return -(-self.used_seconds // 60)

    @property
    def used_percent(self) -> int:
        included = self.limits.included_audio_seconds
        return 100 if not included else min(100, round(100 * self.used_seconds / included))

    @property
    def renews_at(self) -> datetime | None:
        sub = self.subscription
        if sub is None or sub.cancel_at_period_end or sub.status not in GRANTING_STATUSES:
            return None
        return sub.current_period_end


def subscription_paid_until(*, subscription: Subscription) -> datetime | None:
    """Until when this subscription gives its plan's limits; None means it does not now.

    ``datetime.max`` stands for "until Stripe says otherwise" (an active, renewing one).
    """
    status = subscription.status
    if status in GRANTING_STATUSES:
        if subscription.cancel_at_period_end and subscription.current_period_end:
            return subscription.current_period_end
        return datetime.max.replace(tzinfo=UTC)
    if status == SubscriptionStatus.PAST_DUE:
        since = subscription.past_due_since or subscription.state_as_of
        return since + timedelta(days=settings.BILLING_PAST_DUE_GRACE_DAYS)
    return None


def subscriptions_for_user(*, user) -> QuerySet[Subscription]:
    return Subscription.objects.filter(user=user).order_by("-stripe_created", "-id")


def subscription_granting(*, user, now: datetime | None = None) -> Subscription | None:
    """The newest subscription that gives the user a paid plan now, if any."""
    if user is None or not getattr(user, "pk", None):
        return None
    now = now or timezone.now()
    for sub in subscriptions_for_user(user=user):
        until = subscription_paid_until(subscription=sub)
        if until is not None and until > now and plan_get(sub.plan_code) is not None:
            return sub
    return None


def plan_cache_key(user_id) -> str:
    return f"billing:plan:{user_id}"


def plan_cache_forget(*, user_id) -> None:
    """Drop the cached plan of a user; called whenever one of their subscriptions changes."""
    cache_forget_once(plan_cache_key(user_id))


def plan_for_user(*, user, now: datetime | None = None) -> Plan:
    """The plan the user is on at ``now``: read on every API request and upload.

    Kept in the Django cache as (plan code, valid from, valid until, the granting
    subscription's period) for up to ``BILLING_PLAN_CACHE_SECONDS``, so the subscriptions
    are read once per user per period instead of on every request. "Valid until" is when
    the granting subscription stops granting (period end after a cancellation, end of the
    past-due grace), so a fallback to Free still happens at its moment; any change to a
    subscription row drops the entry (``billing.signals``).
    """
    if user is None or not getattr(user, "pk", None):
        return FREE
    return _plan_entry(user=user, now=now or timezone.now())[0]


def _plan_entry(*, user, now: datetime) -> tuple[Plan, tuple[datetime, datetime] | None]:
    """(the plan, the granting subscription's current period, if it has one)."""
    key = plan_cache_key(user.pk)
    cached = cache_get_once(key)
    if cached is not None and len(cached) == 4:
        code, valid_from, valid_until, period = cached
        plan = plan_get(code)
        if plan is not None and valid_from <= now.timestamp() < valid_until:
            return plan, period
    sub = subscription_granting(user=user, now=now)
    plan = plan_get(sub.plan_code) if sub else FREE
    period = None
    if sub and sub.current_period_start and sub.current_period_end:
        period = (sub.current_period_start, sub.current_period_end)
    ttl = settings.BILLING_PLAN_CACHE_SECONDS
    until = subscription_paid_until(subscription=sub) if sub else None
    valid_until = now.timestamp() + ttl
    if until is not None:
        valid_until = min(valid_until, until.timestamp())
    cache_set_once(key, (plan.code, now.timestamp(), valid_until, period), timeout=ttl)
    return plan, period


def plan_limits(*, plan: Plan) -> PlanLimits:
    return PlanLimits(
        plan=plan,
        max_upload_bytes=min(plan.max_upload_bytes, settings.CAPTIONS_MAX_UPLOAD_BYTES),
        max_media_seconds=min(plan.max_media_seconds, settings.CAPTIONS_MAX_MEDIA_SECONDS),
        included_audio_seconds=plan.included_audio_seconds,
        jobs_per_hour=plan.jobs_per_hour,
        hourly_cost_cap_micros=plan.hourly_cost_cap_micros,
        upload_retention_days=plan.upload_retention_days,
        result_retention_days=plan.result_retention_days,
        overage_allowed=plan.overage_allowed,
        features=plan.features,
    )


def plan_limits_for_user(*, user, now: datetime | None = None) -> PlanLimits:
    """The limits that apply to this user right now: the one read quotas and uploads use."""
    return plan_limits(plan=plan_for_user(user=user, now=now))


def _calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0,
                                                  microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def billing_period_for_user(*, user, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The subscription's current period; the calendar month (UTC) on Free."""
    now = now or timezone.now()
    if user is None or not getattr(user, "pk", None):
        return _calendar_month(now)
    # From the same cached entry as the plan: the subscriptions are read once for both.
    _, period = _plan_entry(user=user, now=now)
    if period is not None and period[0] <= now < period[1]:
        return period
    return _calendar_month(now)


def usage_seconds_between(*, user, start: datetime, end: datetime) -> tuple[int, int]:
    """(audio seconds, overage seconds) recorded for the user in [start, end)."""
    totals = UsageRecord.objects.filter(
        user=user, recorded_at__gte=start, recorded_at__lt=end
    ).aggregate(used=Sum("audio_seconds"), overage=Sum("overage_seconds"))
    return totals["used"] or 0, totals["overage"] or 0


def billing_account_for_user(*, user) -> BillingAccount | None:
    return BillingAccount.objects.filter(user=user).first()


def billing_overview(*, user, now: datetime | None = None) -> BillingOverview:
    now = now or timezone.now()
    granting = subscription_granting(user=user, now=now)
    plan = plan_get(granting.plan_code) if granting else FREE
    shown = granting or subscriptions_for_user(user=user).first()
    start, end = billing_period_for_user(user=user, now=now)
    used, overage = usage_seconds_between(user=user, start=start, end=end)
    paid_until = None
    if granting is not None:
        until = subscription_paid_until(subscription=granting)
        if until is not None and until.year < 9999:
            paid_until = until
    account = billing_account_for_user(user=user)
    return BillingOverview(
        plan=plan,
        limits=plan_limits(plan=plan),
        subscription=shown,
        period_start=start,
        period_end=end,
        used_seconds=used,
        overage_seconds=overage,
        paid_until=paid_until,
        has_customer=bool(account and account.stripe_customer_id),
    )


# --- Hourly API cost windows ----------------------------------------------------------


def cost_window_start(moment: datetime) -> datetime:
    """The clock hour (UTC) a moment falls in: caps reset at every HH:00:00 UTC."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def cost_window_seconds_left(moment: datetime) -> int:
    remaining = cost_window_start(moment) + timedelta(hours=1) - moment
    return max(1, int(remaining.total_seconds() + 0.999))


def _cap_override_cache_key(user_id) -> str:
    return f"billing:cap-override:{user_id}"


def cap_override_cache_forget(*, user_id) -> None:
    """Drop the cached override of a user; called whenever their override row changes."""
    cache_forget_once(_cap_override_cache_key(user_id))


def _cap_override(*, user) -> int | None:
    """The staff override of the user's hourly cap, or None: read on every paid step, so
    kept in the cache (as ``(cap or None,)``) for ``BILLING_PLAN_CACHE_SECONDS`` and
    dropped whenever the user's override row is saved or deleted (``billing.apps``)."""
    key = _cap_override_cache_key(user.pk)
    cached = cache_get_once(key)
    if isinstance(cached, tuple) and len(cached) == 1:
        return cached[0]
    override = CostCapOverride.objects.filter(user=user).values_list(
        "hourly_cap_micros", flat=True
    ).first()
    cache_set_once(key, (override,), timeout=settings.BILLING_PLAN_CACHE_SECONDS)
    return override


def hourly_cap_micros_for_user(*, user) -> int:
    """A staff override first, else the cap of the plan the user has now."""
    override = _cap_override(user=user)
    if override is not None:
        return override
    return plan_limits_for_user(user=user).hourly_cost_cap_micros


def cost_usage_for_window(*, user, moment: datetime) -> dict:
    start = cost_window_start(moment)
    window = CostWindow.objects.filter(user=user, window_start=start).first()
    reserved = window.reserved_micros if window else 0
    settled = window.settled_micros if window else 0
    return {
        "window_start": start,
        "window_end": start + timedelta(hours=1),
        "reserved_micros": reserved,
        "settled_micros": settled,
        "cap_micros": hourly_cap_micros_for_user(user=user),
    }


def cost_micros_for_hour(*, moment: datetime) -> int:
    """Everything reserved or settled by every user in the clock hour of ``moment``.

    The spend-per-hour alarm reads it (captions.queue_metrics publishes it each minute).
    """
    totals = CostWindow.objects.filter(window_start=cost_window_start(moment)).aggregate(
        reserved=Sum("reserved_micros"), settled=Sum("settled_micros")
    )
    return (totals["reserved"] or 0) + (totals["settled"] or 0)
