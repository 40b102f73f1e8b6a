"""The plan catalogue: the one place plan limits, prices and features are written down.

The pricing page, the billing page, quotas, the admin and the webhook handlers all
read from here. Stripe price ids differ between Stripe accounts, so each plan names
the setting that holds its price id instead of the id itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

MB = 1024 * 1024


class Feature:
    VIDEO = "video"
    API = "api"
    WEBHOOKS = "webhooks"
    TRANSLATION = "translation"

    LABELS = {
        VIDEO: "Video uploads",
        API: "REST API access",
        WEBHOOKS: "Job webhooks",
        TRANSLATION: "Captions in another language",
    }


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    tagline: str
    # What the customer pays per month, in cents; the Stripe price is the authority.
    monthly_price_cents: int
    included_audio_seconds: int
    max_upload_bytes: int
    max_media_seconds: int
    jobs_per_hour: int
    hourly_cost_cap_micros: int
    upload_retention_days: int
    result_retention_days: int
    overage_allowed: bool = False
    # Shown on the pricing page; Stripe's metered price is what is charged.
    overage_cents_per_minute: int = 0
    features: frozenset[str] = field(default_factory=frozenset)
    # Names of the settings holding this plan's Stripe price ids (empty for Free).
    price_setting: str = ""
    overage_price_setting: str = ""

    @property
    def is_paid(self) -> bool:
        return bool(self.price_setting)

    @property
    def stripe_price_id(self) -> str:
        return getattr(settings, self.price_setting, "") if self.price_setting else ""

    @property
    def stripe_overage_price_id(self) -> str:
        if not self.overage_price_setting:
            return ""
        return getattr(settings, self.overage_price_setting, "")

    @property
    def included_audio_minutes(self) -> int:
        return self.included_audio_seconds // 60

    def has(self, feature: str) -> bool:
        return feature in self.features

    def feature_list(self) -> list[tuple[str, bool]]:
        return [(label, code in self.features) for code, label in Feature.LABELS.items()]


FREE = Plan(
    code="free",
    name="Free",
    tagline="Try it on short recordings.",
    monthly_price_cents=0,
    included_audio_seconds=30 * 60,
    max_upload_bytes=25 * MB,
    max_media_seconds=10 * 60,
    jobs_per_hour=5,
    hourly_cost_cap_micros=500_000,
    upload_retention_days=1,
    result_retention_days=7,
)

CREATOR = Plan(
    code="creator",
    name="Creator",
    tagline="For people who publish every week.",
    monthly_price_cents=1_500,
    included_audio_seconds=600 * 60,
    max_upload_bytes=100 * MB,
    max_media_seconds=60 * 60,
    jobs_per_hour=30,
    hourly_cost_cap_micros=5_000_000,
    upload_retention_days=7,
    result_retention_days=90,
    features=frozenset({Feature.VIDEO, Feature.TRANSLATION}),
    price_setting="STRIPE_PRICE_CREATOR",
)

STUDIO = Plan(
    code="studio",
    name="Studio",
    tagline="For teams and integrations; pay as you go beyond the included hours.",
    monthly_price_cents=4_900,
    included_audio_seconds=3_000 * 60,
    max_upload_bytes=200 * MB,
    max_media_seconds=3 * 60 * 60,
    jobs_per_hour=120,
    hourly_cost_cap_micros=20_000_000,
    upload_retention_days=30,
    result_retention_days=365,
    overage_allowed=True,
    overage_cents_per_minute=2,
    features=frozenset({Feature.VIDEO, Feature.API, Feature.WEBHOOKS, Feature.TRANSLATION}),
    price_setting="STRIPE_PRICE_STUDIO",
    overage_price_setting="STRIPE_PRICE_STUDIO_OVERAGE",
)

PLANS: dict[str, Plan] = {plan.code: plan for plan in (FREE, CREATOR, STUDIO)}


def plan_get(code: str) -> Plan | None:
    return PLANS.get(code)


def plan_for_price_id(price_id: str) -> Plan | None:
    """The plan whose base (licensed) price this is; None for unknown or metered prices."""
    if not price_id:
        return None
    for plan in PLANS.values():
        if plan.is_paid and plan.stripe_price_id == price_id:
            return plan
    return None


def plan_choices() -> list[tuple[str, str]]:
    return [(plan.code, plan.name) for plan in PLANS.values()]
