"""How much work waits, published to CloudWatch for scaling and alarms.

Per Celery queue, read from the Redis broker itself: ``waiting`` is messages no worker
has taken (kombu keeps one Redis list per queue, plus one per priority step), and
``in_flight`` is messages a worker holds but has not acknowledged (kombu's ``unacked``
hash; with ``acks_late`` that is a job running or a retry waiting for its countdown).
Worker scaling reads ``QueueWaiting`` (add workers) and ``QueueBacklog`` (waiting plus
in flight: zero means the GPUs can go). Two figures come from the database: the oldest
queued job's wait (captions.selectors.caption_jobs_waiting_by_queue, as /metrics shows
it) and what paid calls cost in this clock hour.

This module is the one place that talks to CloudWatch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import boto3
import redis
from botocore.config import Config
from django.conf import settings
from django.utils import timezone

from billing.selectors import cost_micros_for_hour

from .selectors import caption_jobs_waiting_by_queue

logger = logging.getLogger(__name__)

# kombu's Redis transport: a queue with priorities 3, 6 and 9 also has the lists
# "<queue>\x06\x163", ... next to "<queue>" (kombu.transport.redis.PRIORITY_STEPS).
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
_UNACKED = "unacked"


@dataclass(frozen=True)
class QueueDepth:
    waiting: int
    in_flight: int

    @property
    def backlog(self) -> int:
        return self.waiting + self.in_flight


def queue_depths(*, queues: list[str], broker_url: str | None = None) -> dict[str, QueueDepth]:
    """Waiting and in-flight messages per queue, read from the Redis broker.

    Raises ``redis.RedisError`` when the broker does not answer: a missing figure must
    not read as an empty queue (that would scale the workers to zero).
    """
    client = redis.Redis.from_url(broker_url or settings.CELERY_BROKER_URL,
                                  socket_timeout=5, socket_connect_timeout=5)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
        in_flight = dict.fromkeys(queues, 0)
        for _tag, raw in client.hscan_iter(_UNACKED):
            queue = _unacked_queue(raw)
            if queue in in_flight:
                in_flight[queue] += 1
    finally:
        client.close()
    per_queue = len(_PRIORITY_STEPS) + 1
    return {
        queue: QueueDepth(waiting=sum(lengths[i * per_queue:(i + 1) * per_queue]),
                          in_flight=in_flight[queue])
        for i, queue in enumerate(queues)
    }


def _unacked_queue(raw: bytes) -> str | None:
    # kombu stores [message, exchange, routing_key]; Celery routes by queue name.
    try:
        _message, _exchange, routing_key = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return routing_key


def queue_metrics_collect(*, queues: list[str], now: datetime | None = None) -> list[dict]:
    """The metric data points, in CloudWatch's PutMetricData shape (without dimensions
    common to all, which the publisher adds)."""
    now = now or timezone.now()
    data = []
    for queue, depth in queue_depths(queues=queues).items():
        for name, value in (("QueueWaiting", depth.waiting), ("QueueInFlight", depth.in_flight),
                            ("QueueBacklog", depth.backlog)):
            data.append({"MetricName": name, "Dimensions": [{"Name": "Queue", "Value": queue}],
                         "Value": float(value), "Unit": "Count", "Timestamp": now})
    # The jobs table's view (the same selector /metrics reads): since each job last
    # became queued, across queues.
    oldest = max((age for _count, age in caption_jobs_waiting_by_queue(now=now).values()),
                 default=0.0)
    data.append({"MetricName": "OldestQueuedJobAgeSeconds", "Dimensions": [],
                 "Value": float(oldest), "Unit": "Seconds", "Timestamp": now})
    data.append({"MetricName": "SpendMicrosThisHour", "Dimensions": [],
                 "Value": float(cost_micros_for_hour(moment=now)), "Unit": "None",
                 "Timestamp": now})
    return data


def queue_metrics_publish(*, namespace: str, environment: str, queues: list[str],
                          endpoint_url: str | None = None) -> list[dict]:
    """Collect and send one round of metrics; returns what was sent.

    Raises when Redis, the database or CloudWatch refuse: the caller logs and tries
    again next round, and the "queue metrics silent" alarm fires if it never succeeds.
    """
    data = queue_metrics_collect(queues=queues)
    for point in data:
        point["Dimensions"] = [{"Name": "Environment", "Value": environment},
                               *point["Dimensions"]]
    # The region comes from the task's environment (ECS sets AWS_REGION).
    client = boto3.client(
        "cloudwatch", endpoint_url=endpoint_url,
        config=Config(connect_timeout=5, read_timeout=10,
                      retries={"max_attempts": 3, "mode": "standard"}),
    )
    client.put_metric_data(Namespace=namespace, MetricData=data)
    return data
