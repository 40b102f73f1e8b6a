"""Money and durations as people read them on the billing pages."""

from django import template

register = template.Library()


@register.filter
def cents_as_dollars(cents: int) -> str:
    dollars, rest = divmod(int(cents or 0), 100)
    return f"${dollars:,}" if not rest else f"${dollars:,}.{rest:02d}"


@register.filter
def micros_as_dollars(micros: int) -> str:
    return cents_as_dollars(int(micros or 0) // 10_000)


@register.filter
def seconds_as_minutes(seconds: int) -> str:
    minutes = -(-int(seconds or 0) // 60)
    if minutes < 60 or minutes % 60:
        return f"{minutes:,} min"
    return f"{minutes // 60:,} h"


@register.simple_tag
def plan_limits_for(user):
    """The limits that apply to ``user`` now, for pages outside billing (the upload form)."""
    from billing.selectors import plan_limits_for_user

    return plan_limits_for_user(user=user)
