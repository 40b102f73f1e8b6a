"""Logs that follow a request and its job: JSON lines carrying a request id, job and user.

A request id is taken from the load balancer (``X-Request-ID``, or the root of AWS's
``X-Amzn-Trace-Id``) or made up at the edge (``RequestIdMiddleware``), answered in the
``X-Request-ID`` response header, and held in a context variable for the request. A task
sent while it is set carries it as a Celery message header (``config.outbox``), and the
worker binds it again around the task (``log_context_bind``), so every line about a job,
web or worker, has the same ``request_id`` beside its ``job_id`` and ``user_id``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

FIELDS = ("request_id", "job_id", "user_id")
_context: ContextVar[dict] = ContextVar("log_context", default={})  # noqa: B039 - never mutated

# Ids a client or load balancer may send: printable, short, no spaces or quotes.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:=/+-]{1,100}$")
_AMZN_ROOT = re.compile(r"(?:^|;)Root=([^;]+)")


def log_context() -> dict:
    """The ids bound now (a copy): what a task sent from here carries as its headers."""
    return dict(_context.get())


def current_request_id() -> str:
    return _context.get().get("request_id", "")


def log_context_enter(**ids):
    """Bind ids until ``log_context_exit(token)``; prefer ``log_context_bind``."""
    clean = {k: str(v) for k, v in ids.items() if k in FIELDS and v not in (None, "")}
    return _context.set({**_context.get(), **clean})


def log_context_exit(token) -> None:
    try:
        _context.reset(token)
    except ValueError:
        # Entered in another context (a signal sent from another thread): nothing to undo.
        _context.set({})


@contextmanager
def log_context_bind(**ids):
    """Add ids (``request_id``, ``job_id``, ``user_id``) to every log line in this block."""
    token = log_context_enter(**ids)
    try:
        yield
    finally:
        log_context_exit(token)


def task_ids(request) -> dict:
    """The ids a Celery task's message carries as headers (worker or eager execution)."""
    headers = getattr(request, "headers", None) or {}
    return {name: headers.get(name) or getattr(request, name, None) for name in FIELDS}


def request_id_from_headers(meta: dict) -> str:
    """The load balancer's id when it is well formed, else a new one."""
    given = meta.get("HTTP_X_REQUEST_ID", "")
    if _SAFE_ID.match(given):
        return given
    root = _AMZN_ROOT.search(meta.get("HTTP_X_AMZN_TRACE_ID", ""))
    if root and _SAFE_ID.match(root.group(1)):
        return root.group(1)
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Outermost but one: every line logged while the request runs carries its id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_headers(request.META)
        request.request_id = request_id
        with log_context_bind(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (a handler's filter, so every logger has them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _context.get()
        for name in FIELDS:
            if not getattr(record, name, None):
                setattr(record, name, bound.get(name, ""))
        return True


# LogRecord's own attributes: everything else on a record came from ``extra=``.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and value not in ("", None):
                entry[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
