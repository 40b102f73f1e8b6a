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
