from datetime import UTC, datetime, timedelta

from django.conf import settings

from .models import CostCapOverride, CostWindow


def cost_window_start(moment: datetime) -> datetime:
    """The clock hour (UTC) a moment falls in: caps reset at every HH:00:00 UTC."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def cost_window_seconds_left(moment: datetime) -> int:
    remaining = cost_window_start(moment) + timedelta(hours=1) - moment
    return max(1, int(remaining.total_seconds() + 0.999))


def hourly_cap_micros_for_user(*, user) -> int:
    """Staff override first, then the plan's cap, then the site default."""
    override = CostCapOverride.objects.filter(user=user).values_list(
        "hourly_cap_micros", flat=True
    ).first()
    if override is not None:
        return override
    return settings.BILLING_DEFAULT_HOURLY_CAP_MICROS


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
