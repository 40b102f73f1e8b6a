"""The plan catalogue is complete, consistent, and the only source of limits."""

from __future__ import annotations

import dataclasses

import pytest

from billing import selectors
from billing.plans import FREE, PLANS, Feature, plan_for_price_id


def test_catalogue_has_free_and_at_least_two_paid_plans_with_every_limit():
    assert FREE.code == "free" and not FREE.is_paid
    paid = [plan for plan in PLANS.values() if plan.is_paid]
    assert len(paid) >= 2
    for plan in PLANS.values():
        for field in dataclasses.fields(plan):
            if field.type == "int" and field.name not in {"monthly_price_cents",
                                                          "overage_cents_per_minute"}:
                assert getattr(plan, field.name) > 0, (plan.code, field.name)
        assert plan.features <= set(Feature.LABELS)
        assert plan.overage_allowed == bool(plan.overage_cents_per_minute)


def test_paid_plans_are_ordered_by_what_they_give():
    plans = list(PLANS.values())
    for cheaper, dearer in zip(plans, plans[1:], strict=False):
        assert cheaper.monthly_price_cents < dearer.monthly_price_cents
        for limit in ("included_audio_seconds", "max_upload_bytes", "max_media_seconds",
                      "jobs_per_hour", "hourly_cost_cap_micros", "result_retention_days"):
            assert getattr(cheaper, limit) <= getattr(dearer, limit), limit
        assert cheaper.features <= dearer.features


def test_price_ids_come_from_settings(settings):
    settings.STRIPE_PRICE_CREATOR = "price_from_env"
    assert PLANS["creator"].stripe_price_id == "price_from_env"
    assert plan_for_price_id("price_from_env") is PLANS["creator"]
    assert plan_for_price_id(settings.STRIPE_PRICE_STUDIO) is PLANS["studio"]
    settings.STRIPE_PRICE_STUDIO_OVERAGE = "price_metered"
    assert plan_for_price_id("price_metered") is None, "a metered price is not a plan"
    assert plan_for_price_id("") is None


@pytest.mark.django_db
def test_a_user_without_a_subscription_gets_free_limits(user):
    limits = selectors.plan_limits_for_user(user=user)
    assert limits.plan is FREE
    assert limits.max_upload_bytes == FREE.max_upload_bytes
    assert not limits.has(Feature.API)
    assert selectors.plan_limits_for_user(user=None).plan is FREE


def test_the_plan_is_cached_and_forgotten_when_a_subscription_changes(user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.selectors import plan_for_user
    from tests.factories import SubscriptionFactory

    assert plan_for_user(user=user).code == "free"
    with CaptureQueriesContext(connection) as queries:
        assert plan_for_user(user=user).code == "free"
    assert len(queries) == 0  # read from the cache

    sub = SubscriptionFactory(user=user, plan_code="studio")
    assert plan_for_user(user=user).code == "studio"
    sub.status = "canceled"
    sub.save()
    assert plan_for_user(user=user).code == "free"
    sub.delete()
    SubscriptionFactory(user=user, plan_code="creator")
    assert plan_for_user(user=user).code == "creator"


def test_a_cached_plan_ends_when_its_subscription_stops_granting(user):
    from datetime import timedelta

    from django.utils import timezone

    from billing.selectors import plan_for_user
    from tests.factories import SubscriptionFactory

    end = timezone.now() + timedelta(days=2)
    SubscriptionFactory(user=user, plan_code="creator", cancel_at_period_end=True,
                        current_period_end=end)
    assert plan_for_user(user=user).code == "creator"  # cached until the period's end
    assert plan_for_user(user=user, now=end + timedelta(seconds=1)).code == "free"
