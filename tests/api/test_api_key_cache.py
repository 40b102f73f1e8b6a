"""An API key used before is answered from the cache, and any change to it or its user is
seen by the very next request: revoked, expired or deactivated, it gets 401."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def _key_reads(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and "accounts_apikey" in q["sql"]]


def test_a_key_used_before_is_not_read_from_the_database_again(user, make_key, api_plan):
    _, secret = make_key(user)
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/jobs/").status_code == 200

    assert _key_reads(captured) == []


def test_a_cached_key_revoked_gets_401_at_once(user, make_key, api_plan):
    key, secret = make_key(user)
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200

    api_key_revoke(key=key)

    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["code"] == "revoked_api_key"


def test_a_cached_key_whose_user_is_deactivated_gets_401_at_once(user, make_key, api_plan):
    _, secret = make_key(user)
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200

    user.is_active = False
    user.save(update_fields=["is_active"])

    assert client.get("/api/v1/jobs/").status_code == 401


def test_a_cached_key_past_its_expiry_gets_401(user, make_key, api_plan):
    key, secret = make_key(user, expires_at=timezone.now() + timedelta(days=1))
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200

    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save(update_fields=["expires_at"])

    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["code"] == "expired_api_key"


def test_a_cached_key_deleted_with_its_user_gets_401(user, make_key, api_plan):
    _, secret = make_key(user)
    client = bearer_client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200

    user.delete()

    assert client.get("/api/v1/jobs/").status_code == 401
    assert not ApiKey.objects.exists()
