"""RDS rotates the database password: tasks that started with the old one keep working.

Against a PostgreSQL cluster of this test's own that checks passwords (SCRAM) for the
application's role, and the Secrets Manager of the suite's moto server.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import boto3
import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from config.postgres import base as rds
from tests.faults.servers import Postgres


@pytest.fixture(scope="module")
def scram_postgres():
    server = Postgres()
    hba = server.data / "pg_hba.conf"
    # The app's role must give its password; the suite's superuser keeps trust.
    hba.write_text("host all captions 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    if os.geteuid() == 0:
        shutil.chown(hba, user="postgres")
    try:
        server.start()
        server.sql("CREATE ROLE captions LOGIN PASSWORD 'first-password'")
        yield server
    finally:
        server.destroy()


@pytest.fixture
def secrets(monkeypatch, django_db_blocker):
    # Connections here go to this test's own cluster, never the suite's database.
    django_db_blocker.unblock()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", settings.AWS_S3_ENDPOINT_URL)
    monkeypatch.setattr(rds, "_last_read", {})
    yield boto3.client("secretsmanager", endpoint_url=settings.AWS_S3_ENDPOINT_URL)
    django_db_blocker.restore()


def _connection(server: Postgres, password: str, secret_arn: str):
    # A handler of its own: the suite's database connections are not touched.
    handler = ConnectionHandler({"default": {
        "ENGINE": "config.postgres", "NAME": "postgres", "USER": "captions", "PASSWORD": password,
        "HOST": "127.0.0.1", "PORT": server.port, "PASSWORD_SECRET_ARN": secret_arn,
    }})
    return handler["default"]


def _select_one(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


def test_a_rotated_password_is_read_from_the_secret_when_the_old_one_is_refused(
        scram_postgres, secrets):
    arn = secrets.create_secret(
        Name=f"rds!db-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": "captions", "password": "first-password"}),
    )["ARN"]
    connection = _connection(scram_postgres, "first-password", arn)
    assert _select_one(connection) == 1
    connection.close()

    # What RDS's rotation does: a new password on the role and in the secret.
    scram_postgres.sql("ALTER ROLE captions PASSWORD 'rotated-password'")
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(
        {"username": "captions", "password": "rotated-password"}))

    assert _select_one(connection) == 1
    assert connection.settings_dict["PASSWORD"] == "rotated-password"
    connection.close()


def test_a_password_the_secret_does_not_fix_still_fails_clearly(scram_postgres, secrets):
    arn = secrets.create_secret(
        Name=f"rds!db-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": "captions", "password": "also-wrong"}),
    )["ARN"]
    connection = _connection(scram_postgres, "wrong-password", arn)
    with pytest.raises(OperationalError, match="password authentication failed"):
        connection.ensure_connection()


def test_an_unreadable_secret_leaves_the_original_refusal(scram_postgres, secrets):
    connection = _connection(scram_postgres, "wrong-password",
                             "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing")
    with pytest.raises(OperationalError, match="password authentication failed"):
        connection.ensure_connection()
