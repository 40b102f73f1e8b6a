"""Outages of the services we depend on: recognised in one place, answered the same way.

An outage is a backing service that does not answer: the database (PostgreSQL), the
cache or the broker (Redis), the file storage (S3). It is neither a bug nor the
customer's doing, and trying again soon is the right move, so:

- a web request answers 503 with ``Retry-After``, never 500: ``OutageMiddleware`` for
  what a view raised, ``server_error`` (the 500 handler) for what a middleware raised
  (loading or saving a session), and the API's exception handler for API views, all in
  the API's error shape under ``/api/`` and as ``templates/503.html`` elsewhere;
- a task that met one is sent again after a backoff (``task_retry_with_backoff``) instead of being
  acknowledged as done;
- the cache fails open (``config.cache``), so a Redis outage stops no page and no read.
"""

from __future__ import annotations

import logging
import random
import sys
from contextlib import contextmanager

from celery.exceptions import Retry
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# A database OperationalError is an outage whatever its cause (a refused connection, a
# server shutting down, a statement timeout, a deadlock): each one passes, and each is
# answered by trying again.
_OUTAGES: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((OperationalError, InterfaceError), "database"),
    ((ConnectionInterrupted, RedisConnectionError, RedisTimeoutError), "cache"),
    ((BrokerError,), "broker"),
)


def outage_of(exc: BaseException | None) -> str | None:
    """The service ``exc`` says is not answering: "database", "cache", "broker",
    "storage"…; None for any other error.

    Explicit causes (``raise ... from``) are followed, so an outage a library wrapped in
    its own error still counts; an error merely raised while handling one does not.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ServiceUnavailable):
            return exc.service or "service"
        for types, service in _OUTAGES:
            if isinstance(exc, types):
                return service
        exc = exc.__cause__
    return None


def outage_error(exc: BaseException | None) -> ServiceUnavailable | None:
    """The 503 to answer for ``exc`` when it is an outage; None for any other error."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    service = outage_of(exc)
    if service is None:
        return None
    return ServiceUnavailable(service=service, retry_after=settings.OUTAGE_RETRY_AFTER_SECONDS)


def outage_response(request, exc: BaseException | None) -> HttpResponse | None:
    """503 with Retry-After for an outage: JSON in the API's error shape under ``/api/``,
    the friendly page elsewhere. None when ``exc`` is not an outage."""
    error = outage_error(exc)
    if error is None:
        return None
    # The operator's detail (which service, what it said) goes to the log; the customer
    # gets a message and a time to come back.
    logger.warning("%s %s answered 503: the %s is not answering (%s: %s)", request.method,
                   request.path, error.service, type(exc).__name__, exc)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": error.code, "message": error.message, "details": error.details},
            status=503,
        )
    else:
        # Rendered without the request: context processors would read the session and
        # the user, which is what may be down.
        response = HttpResponse(
            render_to_string("503.html", {"message": error.message,
                                          "retry_after": error.retry_after}),
            status=503,
        )
    for name, value in error.headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


class OutageMiddleware:
    """Answers 503 with Retry-After, not 500, when a view meets an outage."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return outage_response(request, exception)


def server_error(request, *args, **kwargs):
    """The 500 handler. Django calls it for errors raised outside a view too (a middleware
    loading or saving the session), where no ``process_exception`` runs: an outage still
    answers 503 there. Other errors keep the 500 page, or the API's shape under /api/.
    """
    response = outage_response(request, sys.exc_info()[1])
    if response is not None:
        return response
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "internal_error",
                             "message": "Something went wrong on our side. Please retry.",
                             "details": {}}, status=500)
    return defaults.server_error(request, *args, **kwargs)


# --- Tasks ---------------------------------------------------------------------------------


def outage_retry_countdown(retries: int) -> float:
    """Seconds before a task's next try: doubling from TASK_RETRY_BACKOFF_BASE_SECONDS up to
    TASK_RETRY_BACKOFF_MAX_SECONDS, with jitter so that workers waiting for the same
    database do not all come back in the same second."""
    step = min(settings.TASK_RETRY_BACKOFF_MAX_SECONDS,
               settings.TASK_RETRY_BACKOFF_BASE_SECONDS * 2 ** min(retries, 20))
    return step * (0.5 + random.random() / 2)  # noqa: S311 - spreading, not secrecy


def task_retry_with_backoff(task, exc: BaseException, *, kwargs: dict | None = None):
    """Send the running (bound) task again after a backoff; raises Celery's ``Retry``.

    The message being run is acknowledged only once its retry is on the broker, so the
    work is never dropped. When the broker itself is down Celery cannot send the retry,
    and cannot acknowledge the message either: it stays unacknowledged and the broker
    delivers it again; the outbox sweep sends the task again for the row it is about.
    """
    countdown = outage_retry_countdown(task.request.retries)
    service = outage_of(exc)
    why = f"the {service} is not answering" if service else "it failed"
    logger.warning("%s[%s]: %s (%s: %s); trying again in %.1fs", task.name, task.request.id,
                   why, type(exc).__name__, exc, countdown)
    return task.retry(exc=exc, countdown=countdown, kwargs=kwargs)


@contextmanager
def retried_on_outage(task):
    """Inside a bound task: an outage sends the task again after a backoff instead of
    failing it (and having its message acknowledged as done)."""
    try:
        yield
    except Retry:
        raise  # the task asked for its own retry; its cause is not ours to retry again
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        raise task_retry_with_backoff(task, exc) from exc
