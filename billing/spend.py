"""Reads of what was spent, from the cost ledger (settled amounts), for operations."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum

from .models import CostWindow


def spend_by_hour(*, since: datetime, until: datetime) -> dict[datetime, int]:
    """{clock hour (UTC): micro-dollars settled in it} over [since, until), all customers."""
    rows = (CostWindow.objects.filter(window_start__gte=since, window_start__lt=until)
            .values("window_start").annotate(total=Sum("settled_micros")))
    return {row["window_start"]: row["total"] for row in rows}


def top_spenders(*, since: datetime, until: datetime, limit: int = 10) -> list[tuple[str, int]]:
    """[(customer email, micro-dollars settled)], the biggest first, over [since, until)."""
    rows = (CostWindow.objects.filter(window_start__gte=since, window_start__lt=until)
            .values("user__email").annotate(total=Sum("settled_micros"))
            .filter(total__gt=0).order_by("-total", "user__email")[:limit])
    return [(row["user__email"], row["total"]) for row in rows]
