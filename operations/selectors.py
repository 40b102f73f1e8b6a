"""The operations dashboard's figures, read from the jobs table and the cost ledger.

Hours are clock hours in UTC. The window is the last ``hours`` hours up to the end of
the current one. Percentiles use the nearest-rank method (the smallest value with at
least p% of the values at or below it), so each figure is one real job's turnaround.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from billing.spend import spend_by_hour, top_spenders
from captions.models import JobStatus
from captions.selectors import caption_jobs_finished_between, caption_jobs_waiting_by_queue

OUTCOMES = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class OperationsReport:
    since: datetime
    until: datetime
    hours: list[datetime]
    jobs_per_hour: list[dict]            # {"hour", "done", "failed", "cancelled"}
    finished: int
    failed: int
    failure_by_code: list[dict]          # {"code", "count", "share"} share of finished jobs
    turnaround_p50: float | None         # seconds, done jobs, submission to finish
    turnaround_p95: float | None
    queues: dict[str, tuple[int, float]]  # {queue: (waiting, oldest wait in seconds)}
    spend_per_hour: list[dict]           # {"hour", "micros"}
    top_customers: list[dict] = field(default_factory=list)  # {"email", "micros"}

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None

    @property
    def spend_total_micros(self) -> int:
        return sum(row["micros"] for row in self.spend_per_hour)


def operations_report(*, now: datetime | None = None, hours: int = 24) -> OperationsReport:
    now = now or timezone.now()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    until = first + timedelta(hours=hours)
    hour_starts = [first + timedelta(hours=i) for i in range(hours)]

    per_hour = {h: Counter() for h in hour_starts}
    codes: Counter = Counter()
    turnaround: list[float] = []
    for status, code, created_at, finished_at in caption_jobs_finished_between(
            since=first, until=until):
        per_hour[finished_at.replace(minute=0, second=0, microsecond=0)][status] += 1
        if status == JobStatus.FAILED:
            codes[code or "unknown"] += 1
        elif status == JobStatus.DONE:
            turnaround.append((finished_at - created_at).total_seconds())
    finished = sum(sum(c.values()) for c in per_hour.values())
    spent = spend_by_hour(since=first, until=until)
    return OperationsReport(
        since=first, until=until, hours=hour_starts,
        jobs_per_hour=[{"hour": h, **{o: per_hour[h][o] for o in OUTCOMES}}
                       for h in hour_starts],
        finished=finished,
        failed=sum(codes.values()),
        failure_by_code=[{"code": code, "count": n, "share": n / finished}
                         for code, n in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))],
        turnaround_p50=percentile(turnaround, 50),
        turnaround_p95=percentile(turnaround, 95),
        queues=caption_jobs_waiting_by_queue(now=now),
        spend_per_hour=[{"hour": h, "micros": spent.get(h, 0)} for h in hour_starts],
        top_customers=[{"email": email, "micros": micros}
                       for email, micros in top_spenders(since=first, until=until)],
    )
