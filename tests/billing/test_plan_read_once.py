"""A request reads its user's plan from the cache once, and a subscription changed within
it is still seen at once."""

from __future__ import annotations

import pytest
import redis.client
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import selectors as billing_selectors
from billing.models import SubscriptionStatus
from config.cache import cache_read_once
from tests.factories import SubscriptionFactory
from tests.helpers import wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_round_trips(monkeypatch):
    """The keys of each GET or MGET sent to Redis: one list per round trip."""
    trips: list[list[str]] = []
    send = redis.client.Redis.execute_command

    def recording(self, *args, **options):
        if args and args[0] in ("GET", "MGET"):
            trips.append([str(k) for k in args[1:]])
        return send(self, *args, **options)

    monkeypatch.setattr(redis.client.Redis, "execute_command", recording)
    return trips


class _Keys:
    """Every key read, in order, across the round trips recorded so far."""

    def __init__(self, trips: list[list[str]]):
        self.trips = trips

    def __iter__(self):
        return (key for trip in self.trips for key in trip)


@pytest.fixture
def cache_reads(cache_round_trips):
    """The keys of every GET sent to Redis, in order."""
    return _Keys(cache_round_trips)


def test_an_api_upload_reads_its_owners_plan_and_override_once(api, user, cache_reads):
    upload = SimpleUploadedFile("clip.wav", wav_bytes())
    response = api.post("/api/v1/jobs/", {"file": upload}, format="multipart")

    assert response.status_code == 201, response.content
    assert sum(f"billing:plan:{user.pk}" in key for key in cache_reads) == 1
    assert sum(f"billing:cap-override:{user.pk}" in key for key in cache_reads) <= 1


def test_each_request_reads_the_plan_again(api, user, cache_reads):
    api.get("/api/v1/jobs/")
    api.get("/api/v1/jobs/")

    assert sum(f"billing:plan:{user.pk}" in key for key in cache_reads) == 2


def test_a_subscription_changed_within_the_block_is_seen_by_the_next_read(user):
    with cache_read_once():
        assert billing_selectors.plan_for_user(user=user).code == "free"
        SubscriptionFactory(user=user, plan_code="creator")

        assert billing_selectors.plan_for_user(user=user).code == "creator"


def test_an_api_request_reads_its_users_plan_with_its_key_in_one_round_trip(
        api, user, cache_round_trips):
    assert api.get("/api/v1/jobs/").status_code == 200  # the process learns whose key it is
    cache_round_trips.clear()

    assert api.get("/api/v1/jobs/").status_code == 200
    [trip] = cache_round_trips
    assert any("accounts:api-key:" in key for key in trip)
    assert any(f"billing:plan:{user.pk}" in key for key in trip)


def test_a_plan_ended_between_two_api_requests_is_seen_by_the_second(api, api_plan):
    """The plan read ahead with the key is the cache's current entry, which a changed
    subscription drops: the second request reads the plan (Free now) from the database."""
    assert api.get("/api/v1/jobs/").status_code == 200
    subscription = api_plan[0]
    subscription.status = SubscriptionStatus.CANCELED
    subscription.save()

    response = api.get("/api/v1/jobs/")
    assert response.status_code == 403, response.content  # Free has no API access
    assert response.json()["code"] == "plan_feature_missing"


def test_outside_a_read_once_block_nothing_is_read_ahead(user):
    from config.cache import cache_user_companions

    assert cache_user_companions(user.pk) == []
    with cache_read_once():
        assert cache_user_companions(user.pk) == [f"billing:plan:{user.pk}"]
