"""Billing settings: plans and Stripe (billing/).

Part of the shared settings: config/settings/base.py imports it.
"""

from .env import env

# --- Billing: plans and Stripe (billing/) --------------------------------------------
# The plan catalogue lives in billing/plans.py; only what differs between Stripe
# accounts (keys, price ids, the meter) comes from the environment. With no key set,
# the pricing and billing pages still render and the upgrade buttons explain why
# they cannot start a payment.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
# Point the SDK at another server (the test suite's fake Stripe, stripe-mock).
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Seconds a signed webhook stays acceptable: replays older than this are refused.
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
STRIPE_PRICE_CREATOR = env("STRIPE_PRICE_CREATOR", default="price_creator_monthly")
STRIPE_PRICE_STUDIO = env("STRIPE_PRICE_STUDIO", default="price_studio_monthly")
# Metered price attached to Studio subscriptions for audio beyond the included minutes.
STRIPE_PRICE_STUDIO_OVERAGE = env("STRIPE_PRICE_STUDIO_OVERAGE", default="")
# Billing meter (event name) that sums overage audio seconds.
STRIPE_METER_EVENT_NAME = env("STRIPE_METER_EVENT_NAME", default="audio_overage_seconds")
# How long a past-due subscription keeps its paid limits while Stripe retries the card.
BILLING_PAST_DUE_GRACE_DAYS = env.int("BILLING_PAST_DUE_GRACE_DAYS", default=7)
# How long a user's plan stays in the cache; any subscription change drops it at once.
BILLING_PLAN_CACHE_SECONDS = env.int("BILLING_PLAN_CACHE_SECONDS", default=300)
# A cost reservation not settled within this time (its worker died) is released by the
# sweeper. It must exceed the longest paid call (LLM_TIMEOUT_SECONDS x LLM_MAX_TRIES).
BILLING_RESERVATION_TIMEOUT_SECONDS = env.int("BILLING_RESERVATION_TIMEOUT_SECONDS", default=900)
