"""Plans given by hand, without Stripe: a developer's local user, a partner, a refund.

A grant is a ``Subscription`` row like Stripe's, so every reader of plans (quotas, the
billing page, the API's plan check) sees it without knowing grants exist: it is active,
ends at ``current_period_end`` and does not renew (``cancel_at_period_end``). Its id
starts with ``grant_``, which no Stripe subscription id does, so no webhook touches it.
There is no Stripe customer behind it, so no overage is ever reported to Stripe.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.errors import ApplicationError

from . import selectors
from .models import GRANT_PREFIX, Subscription, SubscriptionChange, SubscriptionStatus
from .plans import PLANS, plan_get

MAX_GRANT_DAYS = 3660


def plan_grant(
    *, user, plan_code: str, days: int, actor=None, actor_label: str = "", reason: str = "",
) -> Subscription:
    """Give ``user`` the paid plan ``plan_code`` from now for ``days`` days, audited.

    The newest granting subscription wins, so a grant overrides a Stripe plan while it
    lasts, and the user falls back to it (or to Free) when it ends. Raises
    ApplicationError for an unknown or free plan, or a period outside 1..3660 days.
    """
    plan = plan_get(plan_code)
    if plan is None or not plan.is_paid:
        paid = ", ".join(code for code, p in PLANS.items() if p.is_paid)
        raise ApplicationError(f"Unknown paid plan {plan_code!r}; choose one of: {paid}.",
                               code="unknown_plan", details={"plan": plan_code})
    if not isinstance(days, int) or not 1 <= days <= MAX_GRANT_DAYS:
        raise ApplicationError(f"Days must be a whole number from 1 to {MAX_GRANT_DAYS}.",
                               code="invalid_days", details={"days": days})
    now = timezone.now()
    with transaction.atomic():
        before = selectors.plan_for_user(user=user, now=now)
        grant = Subscription.objects.create(
            user=user,
            stripe_subscription_id=f"{GRANT_PREFIX}{uuid.uuid4().hex}",
            stripe_customer_id="",
            plan_code=plan.code,
            stripe_price_id="",
            status=SubscriptionStatus.ACTIVE,
            current_period_start=now,
            current_period_end=now + timedelta(days=days),
            cancel_at_period_end=True,
            stripe_created=now,
            state_as_of=now,
        )
        SubscriptionChange.objects.create(
            subscription=grant, user_id=user.pk, from_plan=before.code, from_status="",
            to_plan=plan.code, to_status=grant.status,
        )
        audit_record(
            action=AuditAction.PLAN_CHANGED, target=grant, actor=actor,
            actor_label=actor_label, subject_user=user,
            before={"plan": before.code},
            after={"plan": plan.code, "status": grant.status, "granted_days": days,
                   "until": grant.current_period_end.isoformat(), "reason": reason},
        )
    return grant

