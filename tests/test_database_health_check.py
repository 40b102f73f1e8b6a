"""A kept connection is checked before each request without a round trip while the
server has said nothing to it, and replaced when the server ended it
(``config.postgres``; the restart itself: ``tests/faults/test_database_outage.py``)."""

from __future__ import annotations

import os
import select
import socket
import time

import pytest
from django.db import connection, connections


@pytest.fixture
def kept(db):
    """A second connection to the test database, as a web process keeps one between
    requests, with Django's health check before its next use."""
    other = connections.create_connection("default")
    other.settings_dict["CONN_HEALTH_CHECKS"] = True
    other.ensure_connection()
    assert other.health_check_enabled
    yield other
    other.close()


def _pid(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _asked(conn, monkeypatch) -> list[bool]:
    """Records each ``SELECT 1`` check (Django's ``is_usable``) the connection makes."""
    calls: list[bool] = []
    real = conn.is_usable

    def is_usable():
        calls.append(True)
        return real()

    monkeypatch.setattr(conn, "is_usable", is_usable)
    return calls


def test_an_idle_connection_is_checked_without_asking_the_server(kept, monkeypatch):
    pid = _pid(kept)
    asked = _asked(kept, monkeypatch)
    kept.health_check_done = False  # what a new request does (close_old_connections)
    kept.close_if_health_check_failed()
    assert asked == [] and kept.health_check_done
    assert _pid(kept) == pid  # the same connection, still working


def test_a_connection_the_server_ended_is_replaced_before_its_next_use(kept, monkeypatch):
    pid = _pid(kept)
    with connection.cursor() as cursor:  # what a restart or an administrator does to it
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    poll = select.poll()
    poll.register(kept.connection.fileno(), select.POLLIN)
    deadline = time.monotonic() + 10
    while not poll.poll(50):
        assert time.monotonic() < deadline, "the server's goodbye never reached the socket"
    asked = _asked(kept, monkeypatch)
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert asked == [True], "a socket with something to read is checked with SELECT 1"
    assert kept.connection is None, "the ended connection was closed"
    assert _pid(kept) != pid  # the next use opens a new one


def test_a_connection_inside_a_transaction_is_asked(kept, monkeypatch):
    kept.connection.execute("BEGIN")
    asked = _asked(kept, monkeypatch)
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    assert asked == [True]
    kept.connection.rollback()


def test_kept_connections_probe_a_silent_peer_with_tcp_keepalives(kept):
    """A host that crashed and came back sends nothing to the connections it lost: a
    keepalive probe gets its reset, which the check above then sees on the socket."""
    probe = socket.socket(fileno=os.dup(kept.connection.fileno()))
    try:
        assert probe.family in (socket.AF_INET, socket.AF_INET6)  # the tests use TCP
        assert probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
    finally:
        probe.close()  # the duplicate descriptor only; the connection keeps its own
