"""Django's PostgreSQL backend, with two additions.

**A rotated password.** RDS rotates the master password in its managed secret (every 7
days by default). ECS injects the password when a task starts, so a task that outlives a
rotation would have every new connection refused. This backend keeps using the password
it has and, only when PostgreSQL refuses it, reads the secret's ``password`` key again
and retries once. Settings: ``PASSWORD_SECRET_ARN`` beside ``PASSWORD`` in the
database's settings.

The one place that reads Secrets Manager.

**A health check without a round trip.** With ``CONN_HEALTH_CHECKS`` Django checks a
kept connection before a request (or a Celery task, ``config.celery_app``) first uses
it, by sending ``SELECT 1``: a round trip on every request and every task. A connection
that is idle (no transaction open) and whose socket has nothing to read has not been
told anything by the server since its last answer, so it is usable as far as a ``SELECT
1`` could tell: a server that restarts, a backend terminated by an administrator or a
proxy closing an idle connection all close the socket or send a last message first,
which makes it readable. Only then, or when the connection is not idle, is Django's
``SELECT 1`` sent. Errors inside a request keep Django's own check
(``close_if_unusable_or_obsolete``). A host that crashed and came back at the same
address sends nothing to the connections it lost; TCP keepalives, on by default here
(``_KEEPALIVES``: a probe after 15 s idle), get its reset, which makes the socket report
an error and so sends ``SELECT 1``. A request in the window before the first probe
fails on its first query (503, ``config.outages``), once per kept connection.
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.db.backends.postgresql import base
from psycopg.pq import ConnStatus, TransactionStatus

logger = logging.getLogger(__name__)

# One read per process at most this often, so a password that is really wrong (not
# rotated) costs a request per connection attempt at worst, never a storm.
_REFRESH_INTERVAL_SECONDS = 10.0
_lock = threading.Lock()
_last_read: dict[str, tuple[float, str]] = {}


def _password_refused(exc: psycopg.OperationalError) -> bool:
    # Connection-time errors carry no SQLSTATE in psycopg; the server's message does.
    return exc.sqlstate == "28P01" or "password authentication failed" in str(exc)


def rds_secret_password(secret_arn: str) -> str:
    """The secret's current ``password``; raises ``RuntimeError`` when it cannot be read."""
    with _lock:
        read_at, password = _last_read.get(secret_arn, (0.0, ""))
        if password and time.monotonic() - read_at < _REFRESH_INTERVAL_SECONDS:
            return password
        client = boto3.client("secretsmanager", config=Config(
            connect_timeout=3, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}))
        try:
            value = client.get_secret_value(SecretId=secret_arn)["SecretString"]
            password = json.loads(value)["password"]
        except (BotoCoreError, ClientError, KeyError, ValueError) as exc:
            raise RuntimeError(f"the database secret could not be read: {exc}") from exc
        _last_read[secret_arn] = (time.monotonic(), password)
        return password


# libpq's TCP keepalives for every connection (an OPTIONS entry of the same name wins).
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 15, "keepalives_interval": 5,
               "keepalives_count": 3}


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        for name, value in _KEEPALIVES.items():
            params.setdefault(name, value)
        return params

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as exc:
            secret_arn = self.settings_dict.get("PASSWORD_SECRET_ARN")
            if not secret_arn or not _password_refused(exc):
                raise
            try:
                password = rds_secret_password(secret_arn)
            except RuntimeError:
                logger.exception("database password refused and its secret unreadable")
                raise exc from None
            if password == conn_params.get("password"):
                raise
            logger.warning("database password refused; using the rotated one from its secret")
            self.settings_dict["PASSWORD"] = password
            return super().get_new_connection({**conn_params, "password": password})

    def close_if_health_check_failed(self):
        """Django's check before a request uses a kept connection, sent only when needed."""
        if (self.pool or self.connection is None or not self.health_check_enabled
                or self.health_check_done):
            return  # a pool hands out only connections it has checked itself
        if not self._idle_and_quiet() and not self.is_usable():
            self.close()
        self.health_check_done = True

    def _idle_and_quiet(self) -> bool:
        """True when the server cannot have told this connection anything since its last
        answer: open, outside a transaction, and nothing to read on its socket."""
        connection = self.connection
        try:
            if (connection.closed or connection.broken
                    or connection.pgconn.status != ConnStatus.OK
                    or connection.pgconn.transaction_status != TransactionStatus.IDLE):
                return False
            poll = select.poll()
            poll.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            return not poll.poll(0)  # readable, hung up or in error: ask the server
        except (OSError, ValueError, psycopg.Error):
            return False
