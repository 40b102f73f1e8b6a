"""Shared fixtures: the real servers the suite runs against.

PostgreSQL and Redis are the machine's own servers (see ``config/settings/test.py``);
S3 is a moto server on loopback, started here once per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
import redis
from django.conf import settings

from tests.factories import UserFactory

SHARED_MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media"


@pytest.fixture(scope="session", autouse=True)
def s3_server():
    """A real S3 protocol server (moto) on 127.0.0.1 with an empty bucket."""
    server = None
    if settings.MOTO_SERVER_PORT:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=settings.MOTO_SERVER_PORT,
                                    verbose=False)
        server.start()
    client = s3_client()
    client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    yield client
    if server is not None:
        server.stop()


def s3_client():
    return boto3.client(
        "s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name=settings.AWS_S3_REGION_NAME
    )


def s3_keys() -> list[str]:
    response = s3_client().list_objects_v2(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    return [obj["Key"] for obj in response.get("Contents", [])]


@pytest.fixture(scope="session", autouse=True)
def clean_redis():
    """Start from an empty broker and cache database: no stale messages or rate limits."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session")
def whisper_checkpoint(tmp_path_factory) -> str:
    """A micro Whisper with random weights, saved in the real checkpoint format."""
    from workers.whisper_checkpoint import build_random_checkpoint

    return build_random_checkpoint(str(tmp_path_factory.mktemp("whisper") / "micro.pt"))


@pytest.fixture(autouse=True)
def _whisper_model(settings, whisper_checkpoint):
    settings.WHISPER_MODEL = whisper_checkpoint
    yield


@pytest.fixture
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"shared media folder {SHARED_MEDIA} is absent")
    return SHARED_MEDIA


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker (solo pool, in a thread) consuming from Redis.

    Like a CPU-only deployment, it serves both the default and the speech-to-text queue.
    """
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from config.celery_app import app

    queues = [settings.CAPTIONS_DEFAULT_QUEUE, settings.CAPTIONS_STT_QUEUE]
    with start_worker(app, pool="solo", perform_ping_check=False, queues=queues,
                      loglevel="WARNING", shutdown_timeout=30) as worker:
        yield worker
    connections.close_all()


os.environ.setdefault("PYTHONHASHSEED", "0")
