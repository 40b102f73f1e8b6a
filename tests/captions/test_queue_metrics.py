"""Queue depth for worker scaling, read from the real Redis broker and sent to a real
CloudWatch protocol server (moto)."""

from datetime import timedelta

import boto3
import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import CostWindow
from billing.selectors import cost_window_start
from captions.models import CaptionJob
from captions.queue_metrics import queue_depths, queue_metrics_publish
from config.celery_app import app
from tests.factories import CaptionJobFactory

QUEUES = ["gpu", "default"]


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def empty():
        keys = [f"{q}{suffix}" for q in QUEUES for suffix in ("", "\x06\x163", "\x06\x166",
                                                                   "\x06\x169")]
        client.delete(*keys, "unacked", "unacked_index")

    empty()
    yield client
    empty()
    client.close()


def _send(queue: str, count: int, **options) -> None:
    for _ in range(count):
        app.send_task("captions.tasks.not_a_real_task", args=("x",), queue=queue, **options)


@pytest.fixture
def worker_channel():
    """A worker's channel, kept open: closing it would put its unacked messages back."""
    conn = app.connection_for_read()
    channel = conn.channel()

    def take_one(queue: str) -> None:
        # What a worker does: take a message without acknowledging it (acks_late).
        assert channel.basic_get(queue, no_ack=False) is not None

    yield take_one
    channel.close()
    conn.release()


def test_waiting_and_running_jobs_are_counted_per_queue(broker, worker_channel):
    _send("gpu", 3)
    _send("gpu", 1, priority=9)  # kombu keeps priorities in separate lists
    _send("default", 2)
    worker_channel("gpu")

    depths = queue_depths(queues=QUEUES)

    assert (depths["gpu"].waiting, depths["gpu"].in_flight) == (3, 1)
    assert depths["gpu"].backlog == 4
    assert (depths["default"].waiting, depths["default"].in_flight) == (2, 0)


def test_an_empty_broker_reads_zero_everywhere(broker):
    depths = queue_depths(queues=QUEUES)
    assert all(d.backlog == 0 for d in depths.values())


def test_an_unreachable_broker_raises_rather_than_reading_empty(broker):
    with pytest.raises(redis.RedisError):
        queue_depths(queues=QUEUES, broker_url="redis://127.0.0.1:1/0")


def _latest(cloudwatch, name: str, dimensions: dict) -> float:
    now = timezone.now()
    points = cloudwatch.get_metric_statistics(
        Namespace="CaptionGenerator", MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1),
        Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    assert points, f"{name} {dimensions} was not published"
    return max(p["Maximum"] for p in points)


@pytest.mark.django_db
def test_publisher_sends_depths_job_age_and_spend_to_cloudwatch(broker, worker_channel, user):
    _send("gpu", 2)
    worker_channel("gpu")
    job = CaptionJobFactory(owner=user, status="queued")
    CaptionJob.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - timedelta(minutes=10))
    CostWindow.objects.create(user=user, window_start=cost_window_start(timezone.now()),
                              reserved_micros=250_000, settled_micros=1_000_000)
    endpoint = settings.AWS_S3_ENDPOINT_URL
    env = "test-publish"

    queue_metrics_publish(namespace="CaptionGenerator", environment=env, queues=QUEUES,
                          endpoint_url=endpoint)

    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint)
    assert _latest(cloudwatch, "QueueWaiting", {"Environment": env, "Queue": "gpu"}) == 1
    assert _latest(cloudwatch, "QueueInFlight", {"Environment": env, "Queue": "gpu"}) == 1
    assert _latest(cloudwatch, "QueueBacklog", {"Environment": env, "Queue": "gpu"}) == 2
    assert _latest(cloudwatch, "QueueBacklog", {"Environment": env, "Queue": "default"}) == 0
    age = _latest(cloudwatch, "OldestQueuedJobAgeSeconds", {"Environment": env})
    assert 590 <= age <= 900
    assert _latest(cloudwatch, "SpendMicrosThisHour", {"Environment": env}) == 1_250_000


@pytest.mark.django_db
def test_command_fails_loudly_once_when_the_broker_is_down(broker, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(CommandError, match="queue metrics not published"):
        call_command("publish_queue_metrics", "--environment=test",
                     f"--endpoint-url={settings.AWS_S3_ENDPOINT_URL}")
