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
    from engines.whisper_checkpoint import build_random_checkpoint

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
def video_plan(user):
    """The user pays for a plan with video uploads (Creator)."""
    from tests.factories import SubscriptionFactory

    return SubscriptionFactory(user=user, plan_code="creator")


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


# --- Public API ------------------------------------------------------------------------------


@pytest.fixture
def make_key():
    """Create an API key for a user; returns (key, secret)."""
    from accounts import services as account_services

    def make(user, scopes=("read", "write"), **kwargs):
        return account_services.api_key_create(
            user=user, name="integration", scopes=list(scopes), **kwargs
        )

    return make


@pytest.fixture
def api_plan(user, other_user):
    """Both users pay for the plan with API access and webhooks (Studio)."""
    from tests.factories import SubscriptionFactory

    return [SubscriptionFactory(user=u, plan_code="studio") for u in (user, other_user)]


@pytest.fixture
def api(user, make_key, api_plan):
    """User A's API client, with a read and write key."""
    from tests.helpers import bearer_client

    return bearer_client(make_key(user)[1])


@pytest.fixture
def other_api(other_user, make_key, api_plan):
    """User B's API client."""
    from tests.helpers import bearer_client

    return bearer_client(make_key(other_user)[1])


os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def fake_bedrock(settings, monkeypatch):
    """A local Bedrock Runtime (tests/fakes/bedrock.py); CAPTION_WRITER=bedrock points at it.

    The SDK signs with the suite's AWS test credentials; the fake verifies the signature.
    Any request the fake refused fails the test at teardown.
    """
    from tests.fakes.bedrock import FakeBedrock

    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    fake = FakeBedrock(
        model_id=settings.BEDROCK_MODEL_ID, region=settings.BEDROCK_REGION,
        access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    ).start()
    settings.CAPTION_WRITER = "bedrock"
    settings.BEDROCK_ENDPOINT_URL = fake.url
    yield fake
    fake.stop()
    assert not fake.errors, fake.errors


@pytest.fixture
def fake_transcribe(settings):
    """A local Amazon Transcribe (tests/fakes/transcribe.py) writing results to the S3 server.

    The product's boto3 client signs with the suite's AWS test credentials; the fake
    verifies the signature. Any request the fake refused fails the test at teardown.
    """
    from tests.fakes.transcribe import FakeTranscribe

    fake = FakeTranscribe(
        s3_endpoint=settings.AWS_S3_ENDPOINT_URL, bucket=settings.AWS_STORAGE_BUCKET_NAME,
        region=settings.TRANSCRIBE_REGION, access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    ).start()
    settings.TRANSCRIBE_ENDPOINT_URL = fake.url
    yield fake
    fake.stop()
    assert not fake.errors, fake.errors
