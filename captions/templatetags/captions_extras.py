from django import template

from config.humanize import format_time_left

register = template.Library()


@register.filter
def chapter_time(seconds) -> str:
    """75.0 -> '1:15', 3725 -> '1:02:05': how video chapters are written."""
    try:
        total = max(0, int(float(seconds)))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def time_left(seconds) -> str:
    """A running job's estimate: 'about 3 min left'; '' when there is none."""
    return format_time_left(seconds)
