"""Redis stopped under the web: the cache on every request's path fails open (quality bar 23).

The cache (API throttles, allauth's login rate limits) points at a redis-server of the
test's own, which the test stops. Sessions and everything that must not be lost live in
PostgreSQL, so pages, API reads and logins go on, unthrottled, and the failure is logged.
"""

from __future__ import annotations

import logging

import pytest
import redis
from allauth.account.models import EmailAddress

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_on_own_redis(own_redis, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": own_redis.url}}
    return own_redis


def test_api_reads_pages_and_logins_go_on_while_redis_is_down(
    cache_on_own_redis, api, user, client, caplog
):
    """Quality bar 23: Redis down: requests are not failed for it; the API's throttle
    and allauth's login rate limit fail open, and each failure is logged."""
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    assert api.get("/api/v1/jobs/").status_code == 200
    counters = redis.Redis.from_url(cache_on_own_redis.url).keys("*throttle:api_read*")
    assert counters, "the throttle counts requests in this Redis while it is up"

    cache_on_own_redis.stop()
    with caplog.at_level(logging.ERROR, logger="django_redis.cache"):
        response = api.get("/api/v1/jobs/")
        assert response.status_code == 200, response.content[:300]
        assert response.json()["results"] == []
        login = client.post("/accounts/login/", {"login": user.email,
                                                 "password": "correct horse battery staple"})
        assert login.status_code == 302, login.content.decode()[:500]
        assert client.get("/").status_code == 200
    assert "Exception ignored" in caplog.text, "each failed cache call is logged"
