"""Fixtures for the fault tests: servers of their own, which a test may stop and start.

The shared PostgreSQL and Redis that the rest of the suite uses are never touched.
"""

from __future__ import annotations

import uuid

import pytest

from tests.faults.servers import Postgres, RedisServer, app_env, run_python


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of this module's own, with the app's schema in a template
    database (migrated once) that each test copies."""
    server = Postgres()
    try:
        server.start()
        server.sql("CREATE DATABASE app_template")
        run_python("manage.py", "migrate", "--verbosity=0",
                   env=app_env(DATABASE_URL=server.url("app_template")), timeout=120)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def app_database(postgres) -> str:
    """A fresh copy of the migrated database; the server is running again afterwards."""
    name = f"app_{uuid.uuid4().hex[:12]}"
    postgres.sql(f'CREATE DATABASE "{name}" TEMPLATE app_template')
    yield name
    if not postgres.is_running():
        postgres.start()


@pytest.fixture
def own_redis():
    """A redis-server of the test's own, stopped at the end if the test has not."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
