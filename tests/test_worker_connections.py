"""A worker keeps its database connection from one task to the next, as a web process
keeps it from one request to the next (``CELERY_DB_REUSE_MAX``, ``config.celery_app``):
a new PostgreSQL connection per task (a backend started, the login checked) was a
fifth of a short job's database work. A connection the server dropped is replaced."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

from config.celery_app import app

BACKENDS: list[int] = []


@app.task(name="tests.worker_connections.backend_pid")
def backend_pid() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        BACKENDS.append(cursor.fetchone()[0])


def _run(count: int) -> list[int]:
    start = len(BACKENDS)
    for _ in range(count):
        backend_pid.apply_async(queue="default")
    deadline = time.monotonic() + 30
    while len(BACKENDS) < start + count:
        assert time.monotonic() < deadline, "the worker did not run the tasks"
        time.sleep(0.02)
    return BACKENDS[start:]


@pytest.fixture
def kept_connections(monkeypatch, transactional_db):
    """The production setting: a connection may be kept for a minute. The worker thread's
    kept connection is ended afterwards, so it cannot outlive the test's database."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    yield
    with connection.cursor() as cursor:
        for pid in set(BACKENDS):
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_tasks_in_a_row_use_one_connection(kept_connections, celery_worker_thread):
    pids = _run(5)
    assert len(set(pids)) == 1, pids


def test_a_connection_the_database_dropped_is_replaced_before_the_next_task(
        kept_connections, celery_worker_thread):
    [first] = _run(1)
    with connection.cursor() as cursor:  # what a database restart does to it
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    pids = _run(2)
    assert first not in pids and len(set(pids)) == 1, (first, pids)
