"""Quantities written for the people who read our messages."""


def format_duration(seconds: float) -> str:
    """'9.5 seconds', '3 min 20 s', '2 h 5 min'."""
    if seconds < 60:
        return f"{seconds:.1f} seconds"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def format_time_left(seconds: float | None) -> str:
    """'about 40 seconds left', 'about 3 min left'; '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 60:
        return f"about {round(seconds / 10) * 10} seconds left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {format_duration(minutes * 60)} left"
