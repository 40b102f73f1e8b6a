"""Liveness and readiness for load balancers and container probes; metrics for Prometheus."""

import hmac

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from captions.selectors import caption_jobs_waiting_by_queue
from config import metrics


@require_GET
def healthz(request):
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: the database answers. The cache is reported, not required.

    The web tier fails open without Redis (throttles and rate limits let requests
    through), so a cache outage must not take every web target out of the load balancer.
    """
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("readyz", "1", 5)
        checks["cache"] = "ok" if cache.get("readyz") == "1" else "error"
    except Exception as exc:  # noqa: BLE001
        checks["cache"] = f"error: {exc.__class__.__name__}"
    ready = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status=200 if ready else 503)


class QueueCollector:
    """Waiting jobs per queue and how long the oldest has waited, read at scrape time.

    The jobs table, not the broker, is the truth about waiting work: a message lost with
    the broker still counts here until the outbox sends it again.
    """

    def collect(self):
        depth = GaugeMetricFamily(metrics.QUEUE_DEPTH, "Caption jobs waiting in each queue.",
                                  labels=["queue"])
        age = GaugeMetricFamily(metrics.QUEUE_OLDEST_AGE,
                                "Seconds the oldest waiting job in each queue has waited.",
                                labels=["queue"])
        for queue, (count, oldest_seconds) in sorted(caption_jobs_waiting_by_queue().items()):
            depth.add_metric([queue], count)
            age.add_metric([queue], oldest_seconds)
        yield depth
        yield age


def metrics_text() -> bytes:
    """Every process's samples (multiprocess mode) or this process's, and the queues."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    queues = CollectorRegistry()
    queues.register(QueueCollector())
    return text + generate_latest(queues)


def _may_scrape(request) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return request.user.is_active and request.user.is_staff


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format, for staff sessions and scrapers sending the bearer token."""
    if not _may_scrape(request):
        response = HttpResponse("A staff session or the metrics bearer token is required.\n",
                                status=403 if request.user.is_authenticated else 401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


class HealthProbeMiddleware:
    """Answers /healthz and /readyz before anything validates the Host header.

    The load balancer's health checks (and ECS's container checks) address a target by
    its private IP, which changes with every task and so cannot be listed in
    ALLOWED_HOSTS. Only these two read-only paths are answered this way: their answer
    builds no URL from the Host header and sets no cookie, so accepting any Host opens
    nothing. Every other request still goes through Django's host validation.
    """

    _probes = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self._probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
