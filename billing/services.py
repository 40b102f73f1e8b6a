"""Writes for billing: Stripe customers, Checkout and Portal sessions, webhook events,
subscription state and the usage ledger.

Webhooks follow one path. ``stripe_webhook_receive`` verifies the signature and stores
the event (one row per event id) before anything else; ``stripe_event_process`` then
handles it under a row lock, inside a savepoint, so a duplicate delivery finds the
event already processed and a failing handler leaves nothing half-applied, only the
error on the event row, for Stripe's next delivery to retry.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.errors import ApplicationError
from config.outbox import Message, outbox_send_on_commit
from config.transactions import atomic_joined

from . import selectors, stripe_gateway
from .models import (
    BillingAccount,
    OverageReport,
    OverageReportStatus,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
    UsageRecord,
)
from .plans import Plan, plan_for_price_id, plan_get

logger = logging.getLogger(__name__)


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _gateway_error(exc: Exception) -> ApplicationError:
    logger.warning("Stripe call failed: %s", exc)
    return ApplicationError(
        "Our payment provider did not answer as expected. Nothing was charged; please try "
        "again in a minute.",
        code="payment_provider_error",
        status=502,
    )


# --- Customers, Checkout and the Portal -------------------------------------------------


def billing_account_get_or_create(*, user) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(user=user)
    return account


def billing_customer_ensure(*, user) -> str:
    """The user's Stripe customer id, creating the customer at Stripe the first time.

    The account row stays locked while Stripe is asked, so two clicks at once create
    one customer; the idempotency key covers a crash between Stripe's answer and our
    commit. Raises ApplicationError 503 when Stripe is not configured, 502 when it fails.
    """
    billing_account_get_or_create(user=user)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(user=user)
        if account.stripe_customer_id:
            return account.stripe_customer_id
        try:
            customer = stripe_gateway.customer_create(
                email=user.email, user_id=user.pk,
                idempotency_key=f"cg-customer-{user.pk}",
            )
        except stripe_gateway.StripeError as exc:
            raise _gateway_error(exc) from exc
        account.stripe_customer_id = customer["id"]
        account.save(update_fields=["stripe_customer_id", "updated_at"])
        return account.stripe_customer_id


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def billing_checkout_start(*, user, plan_code: str) -> str:
    """Start Stripe Checkout for a paid plan and return the URL to send the customer to.

    Raises ApplicationError: 400 for an unknown or free plan, 409 when the customer
    already pays for a plan (switching goes through the Portal, so nobody ends up with
    two subscriptions), 503 when Stripe is not configured, 502 when Stripe fails.
    """
    plan = plan_get(plan_code)
    if plan is None or not plan.is_paid:
        raise ApplicationError("Choose one of the paid plans.", code="invalid_plan")
    if not plan.stripe_price_id:
        raise ApplicationError(
            f"The {plan.name} plan has no Stripe price configured.",
            code="plan_not_configured", status=503,
        )
    stripe_gateway.client()  # fail fast, before creating anything, when Stripe is not set up
    current = selectors.subscription_granting(user=user)
    if current is not None:
        raise ApplicationError(
            "You already have a subscription. Use “Manage billing” to switch plans or "
            "cancel; you will not be charged twice.",
            code="already_subscribed", status=409,
        )
    customer_id = billing_customer_ensure(user=user)
    line_items: list[dict] = [{"price": plan.stripe_price_id, "quantity": 1}]
    if plan.overage_allowed and plan.stripe_overage_price_id:
        # Metered prices take no quantity: Stripe bills what the meter summed.
        line_items.append({"price": plan.stripe_overage_price_id})
    page = reverse("billing:overview")
    # Two clicks within ten minutes get the same session instead of two payments.
    window = int(timezone.now().timestamp()) // 600
    try:
        session = stripe_gateway.checkout_session_create(
            customer_id=customer_id,
            user_id=user.pk,
            plan_code=plan.code,
            line_items=line_items,
            success_url=_absolute(f"{page}?checkout=success"),
            cancel_url=_absolute(f"{page}?checkout=cancelled"),
            idempotency_key=f"cg-checkout-{user.pk}-{plan.code}-{window}",
        )
    except stripe_gateway.StripeError as exc:
        raise _gateway_error(exc) from exc
    try:
        stripe_gateway.checkout_sessions_expire_others(customer_id=customer_id,
                                                       keep_id=session["id"])
    except stripe_gateway.StripeError:
        # The new checkout still works; an older tab stays payable until Stripe expires it.
        logger.warning("could not expire older checkout sessions of %s", customer_id)
    return session["url"]


def billing_portal_start(*, user) -> str:
    """Open the Stripe Customer Portal (card, plan switch, cancel, invoices); return its URL.

    Raises ApplicationError 409 when the user has never been a Stripe customer.
    """
    account = selectors.billing_account_for_user(user=user)
    if account is None or not account.stripe_customer_id:
        raise ApplicationError(
            "You have no billing details yet. Choose a plan to subscribe first.",
            code="no_customer", status=409,
        )
    try:
        session = stripe_gateway.portal_session_create(
            customer_id=account.stripe_customer_id,
            return_url=_absolute(reverse("billing:overview")),
            idempotency_key=f"cg-portal-{user.pk}-{uuid.uuid4().hex}",
        )
    except stripe_gateway.StripeError as exc:
        raise _gateway_error(exc) from exc
    return session["url"]


# --- Webhooks --------------------------------------------------------------------------


def stripe_webhook_receive(*, payload: bytes, signature: str) -> StripeEvent:
    """Verify, store, then handle one webhook delivery.

    Raises ApplicationError 400 for a bad or stale signature or a body that is not an
    event; nothing is stored then. Returns the stored event, whose status says whether
    handling failed (the caller answers non-2xx so Stripe delivers it again).
    """
    try:
        event = stripe_gateway.webhook_event_construct(payload=payload, signature=signature)
    except stripe_gateway.stripe.SignatureVerificationError as exc:
        raise ApplicationError(
            "The Stripe signature is missing, wrong or too old.", code="bad_signature",
        ) from exc
    except ValueError as exc:
        raise ApplicationError("The body is not a Stripe event.", code="bad_payload") from exc
    if not event.get("id") or not event.get("type"):
        raise ApplicationError("The body is not a Stripe event.", code="bad_payload")
    stored = stripe_event_store(event=event)
    return stripe_event_process(event_pk=stored.pk)


def stripe_event_store(*, event: dict) -> StripeEvent:
    """Record a verified event; a redelivery of a known id only counts the delivery."""
    defaults = {
        "type": event["type"][:100],
        "livemode": bool(event.get("livemode")),
        "api_version": (event.get("api_version") or "")[:50],
        "stripe_created": _ts(event.get("created")) or timezone.now(),
        "payload": event,
    }
    try:
        with transaction.atomic():
            stored, created = StripeEvent.objects.get_or_create(
                stripe_event_id=event["id"][:255], defaults=defaults
            )
    except IntegrityError:
        # Another delivery of the same event inserted it between our read and write.
        stored, created = StripeEvent.objects.get(stripe_event_id=event["id"][:255]), False
    if not created:
        StripeEvent.objects.filter(pk=stored.pk).update(deliveries=F("deliveries") + 1)
    return stored


FINISHED_EVENT_STATUSES = frozenset({StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED})


def stripe_event_process(*, event_pk: int) -> StripeEvent:
    """Handle a stored event once. Safe to call for any delivery, in parallel too.

    The event row is locked for the whole handling, so parallel deliveries wait and
    then find it processed. The handler runs in a savepoint: if it raises, every change
    it made is rolled back and only the failure is recorded.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in FINISHED_EVENT_STATUSES:
            return event
        handler = EVENT_HANDLERS.get(event.type)
        event.attempts += 1
        event.last_attempt_at = timezone.now()
        if handler is None:
            event.status = StripeEventStatus.IGNORED
            event.outcome = "Not a type we act on."
            event.processed_at = event.last_attempt_at
            event.save()
            return event
        try:
            with transaction.atomic():
                outcome = handler(event)
        except Exception as exc:
            logger.exception("Stripe event %s (%s) failed", event.stripe_event_id, event.type)
            event.status = StripeEventStatus.FAILED
            event.error = f"{exc.__class__.__name__}: {exc}"[:5000]
        else:
            event.status = StripeEventStatus.PROCESSED
            event.outcome = outcome[:5000]
            event.error = ""
            event.processed_at = timezone.now()
        event.save()
        return event


def _object(event: StripeEvent) -> dict:
    return event.payload.get("data", {}).get("object", {})


def _on_checkout_completed(event: StripeEvent) -> str:
    session = _object(event)
    if session.get("mode") != "subscription" or not session.get("subscription"):
        return "Not a subscription checkout."
    account = _account_for_customer(session.get("customer"), session)
    subscription_id = session["subscription"]
    if isinstance(subscription_id, dict):
        subscription_id = subscription_id["id"]
    # The session only names the subscription; its state comes from Stripe itself.
    snapshot = stripe_gateway.subscription_retrieve(subscription_id=subscription_id)
    return subscription_apply(snapshot=snapshot, as_of=event.stripe_created,
                              event=event, account=account)


def _on_subscription_event(event: StripeEvent) -> str:
    snapshot = _object(event)
    return subscription_apply(snapshot=snapshot, as_of=event.stripe_created, event=event)


def _invoice_subscription_id(invoice: dict) -> str:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub = details.get("subscription") or invoice.get("subscription") or ""
    return sub["id"] if isinstance(sub, dict) else sub


def _on_invoice_event(event: StripeEvent) -> str:
    invoice = _object(event)
    subscription_id = _invoice_subscription_id(invoice)
    if not subscription_id:
        return "Invoice is not for a subscription."
    # Paid or failed, the subscription's status is what changes our limits; ask Stripe
    # for it rather than guessing from the invoice.
    snapshot = stripe_gateway.subscription_retrieve(subscription_id=subscription_id)
    outcome = subscription_apply(snapshot=snapshot, as_of=event.stripe_created, event=event)
    return f"Invoice {invoice.get('id')} {event.type.split('.', 1)[1]}: {outcome}"


EVENT_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription_event,
    "customer.subscription.updated": _on_subscription_event,
    "customer.subscription.deleted": _on_subscription_event,
    "invoice.paid": _on_invoice_event,
    "invoice.payment_failed": _on_invoice_event,
}


# --- Subscription state ------------------------------------------------------------------


def _account_for_customer(customer_id, obj: dict) -> BillingAccount:
    if isinstance(customer_id, dict):
        customer_id = customer_id.get("id")
    account = BillingAccount.objects.filter(stripe_customer_id=customer_id).first()
    if account is not None:
        return account
    raise LookupError(
        f"Stripe customer {customer_id!r} belongs to no account here "
        f"(metadata: {obj.get('metadata') or {}})."
    )


def _base_item(snapshot: dict) -> tuple[dict, Plan]:
    items = (snapshot.get("items") or {}).get("data") or []
    for item in items:
        price = item.get("price") or {}
        plan = plan_for_price_id(price.get("id", ""))
        if plan is not None:
            return item, plan
    prices = [(item.get("price") or {}).get("id") for item in items]
    raise LookupError(f"No price of {prices} is a plan in the catalogue (check STRIPE_PRICE_*).")


def subscription_apply(
    *, snapshot: dict, as_of: datetime, event: StripeEvent | None = None,
    account: BillingAccount | None = None,
) -> str:
    """Make our row for a Stripe subscription match ``snapshot``, unless it is stale.

    ``as_of`` is when Stripe produced the snapshot (its event's ``created``). A snapshot
    older than the row's ``state_as_of`` is skipped, and a cancelled subscription never
    comes back (Stripe cannot reactivate one), so reordered events converge on the
    newest state. Raises LookupError for an unknown customer or price.
    """
    account = account or _account_for_customer(snapshot.get("customer"), snapshot)
    item, plan = _base_item(snapshot)
    sub_id = snapshot["id"]
    status = snapshot.get("status") or SubscriptionStatus.INCOMPLETE
    if status not in SubscriptionStatus.values:
        raise ValueError(f"Unknown subscription status {status!r}.")
    # Since API version 2025-03-31 periods live on the items; older versions kept them on
    # the subscription.
    period_start = _ts(item.get("current_period_start") or snapshot.get("current_period_start"))
    period_end = _ts(item.get("current_period_end") or snapshot.get("current_period_end"))

    row = Subscription.objects.select_for_update().filter(stripe_subscription_id=sub_id).first()
    if row is not None:
        if as_of < row.state_as_of:
            return f"{sub_id}: skipped, older than the state we hold ({row.status})."
        if row.status == SubscriptionStatus.CANCELED and status != SubscriptionStatus.CANCELED:
            return f"{sub_id}: skipped, already cancelled (a cancellation is final)."
        before = (row.plan_code, row.status)
    else:
        row = Subscription(stripe_subscription_id=sub_id, user=account.user)
        before = ("", "")

    if status == SubscriptionStatus.PAST_DUE:
        row.past_due_since = row.past_due_since or as_of
    else:
        row.past_due_since = None
    row.stripe_customer_id = account.stripe_customer_id or ""
    row.plan_code = plan.code
    row.stripe_price_id = item["price"]["id"]
    row.status = status
    row.current_period_start = period_start
    row.current_period_end = period_end
    row.cancel_at_period_end = bool(snapshot.get("cancel_at_period_end"))
    row.canceled_at = _ts(snapshot.get("canceled_at"))
    row.ended_at = _ts(snapshot.get("ended_at"))
    row.stripe_created = _ts(snapshot.get("created")) or as_of
    row.state_as_of = as_of
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # A parallel event for the same new subscription created the row first: lock it and
        # decide again against what it wrote.
        return subscription_apply(snapshot=snapshot, as_of=as_of, event=event, account=account)
    after = (row.plan_code, row.status)
    if after != before:
        subscription_change_record(subscription=row, before=before, after=after, event=event)
    return f"{sub_id}: {'/'.join(before) or 'new'} → {'/'.join(after)}"


def subscription_change_record(*, subscription: Subscription, before, after, event) -> None:
    """Audit rows for a plan or status change, written in the same transaction as it.

    The subscription's own history (``SubscriptionChange``) and the one audit trail,
    where the actor is Stripe: plans change in Stripe, by the customer or by staff.
    """
    audit_record(
        action=AuditAction.PLAN_CHANGED, target=subscription, actor_label="stripe",
        subject_user=subscription.user,
        before={"plan": before[0], "status": before[1]},
        after={"plan": after[0], "status": after[1],
               "stripe_event_id": event.stripe_event_id if event else ""},
    )
    SubscriptionChange.objects.create(
        subscription=subscription,
        user_id=subscription.user_id,
        from_plan=before[0],
        from_status=before[1],
        to_plan=after[0],
        to_status=after[1],
        stripe_event_id=event.stripe_event_id if event else "",
    )


# --- Usage ledger --------------------------------------------------------------------------


# The seconds beyond the plan's included minutes (when it allows overage) are what this
# job adds past them, counting what the period recorded before it.
_USAGE_RECORD_SQL = """\
INSERT INTO billing_usagerecord (user_id, job_id, audio_seconds, overage_seconds, plan_code,
    period_start, period_end, recorded_at)
SELECT %(user)s, %(job)s, %(seconds)s,
    CASE WHEN %(overage_allowed)s THEN LEAST(%(seconds)s, GREATEST(0,
        COALESCE(SUM(audio_seconds), 0) + %(seconds)s - %(included)s)) ELSE 0 END,
    %(plan)s, %(start)s, %(end)s, %(now)s
FROM billing_usagerecord
WHERE user_id = %(user)s AND recorded_at >= %(start)s AND recorded_at < %(end)s
ON CONFLICT (job_id) DO NOTHING
RETURNING id, overage_seconds
"""


def _usage_record_insert(*, user, job_id, seconds: int, limits, start, end,
                         now) -> UsageRecord | None:
    """The job's usage row, its overage counted from the period's use so far (the caller
    holds the account's lock, so that use is complete); None when it is recorded already.
    On PostgreSQL one statement; elsewhere (the embedded SQLite default) three."""
    if connection.vendor != "postgresql":
        if UsageRecord.objects.filter(job_id=job_id).exists():
            return None
        used_before, _ = selectors.usage_seconds_between(user=user, start=start, end=end)
        overage = 0
        if limits.overage_allowed:
            overage = min(seconds, max(0, used_before + seconds - limits.included_audio_seconds))
        return UsageRecord.objects.create(
            user=user, job_id=job_id, audio_seconds=seconds, overage_seconds=overage,
            plan_code=limits.plan.code, period_start=start, period_end=end, recorded_at=now)
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_RECORD_SQL, {
            "user": user.pk, "job": job_id, "seconds": seconds,
            "overage_allowed": limits.overage_allowed,
            "included": limits.included_audio_seconds, "plan": limits.plan.code,
            "start": start, "end": end, "now": now})
        row = cursor.fetchone()
    if row is None:
        return None
    return UsageRecord(id=row[0], user_id=user.pk, job_id=job_id, audio_seconds=seconds,
                       overage_seconds=row[1], plan_code=limits.plan.code,
                       period_start=start, period_end=end, recorded_at=now)


def usage_record_job(*, user, job_id, audio_seconds: float) -> UsageRecord | None:
    """Record the audio a finished job processed, once per job.

    Called inside the transaction that marks the job done, so the ledger and the job
    agree. A second call for the same job returns the first record. When the plan
    allows overage, the seconds beyond the included minutes are queued for Stripe's
    meter after commit.
    """
    seconds = math.ceil(audio_seconds or 0)
    if seconds <= 0:
        return None
    with atomic_joined():
        # One writer per account: concurrent jobs see each other's usage when splitting
        # included minutes from overage. (Every customer with a job has an account: the
        # quota ledger creates it when the job is admitted.)
        account = BillingAccount.objects.select_for_update().filter(user=user).first()
        if account is None:
            billing_account_get_or_create(user=user)
            account = BillingAccount.objects.select_for_update().get(user=user)
        now = timezone.now()
        limits = selectors.plan_limits_for_user(user=user, now=now)
        start, end = selectors.billing_period_for_user(user=user, now=now)
        record = _usage_record_insert(user=user, job_id=job_id, seconds=seconds,
                                      limits=limits, start=start, end=end, now=now)
        if record is None:
            return UsageRecord.objects.get(job_id=job_id)
        overage = record.overage_seconds
        if overage and account.stripe_customer_id:
            report = OverageReport.objects.create(
                usage=record,
                stripe_customer_id=account.stripe_customer_id,
                identifier=f"cg-overage-{record.job_id}",
                seconds=overage,
            )
            outbox_send_on_commit(_overage_report_message(report.pk))
    return record


OVERAGE_REPORT_TASK = "billing.tasks.overage_report_send"


def _overage_report_message(report_id: int) -> Message:
    return Message(task=OVERAGE_REPORT_TASK, args=(report_id,),
                   subject=f"overage report {report_id}")


def overage_report_send(*, report_id: int) -> OverageReport:
    """Send one overage report to Stripe's meter, once.

    Raises ApplicationError 502 when Stripe fails (the report stays failed, for a retry).
    """
    with transaction.atomic():
        report = OverageReport.objects.select_for_update().select_related("usage").get(
            pk=report_id
        )
        if report.status == OverageReportStatus.SENT:
            return report
        report.attempts += 1
        try:
            stripe_gateway.meter_event_create(
                event_name=settings.STRIPE_METER_EVENT_NAME,
                customer_id=report.stripe_customer_id,
                value=report.seconds,
                timestamp=int(report.usage.recorded_at.timestamp()),
                identifier=report.identifier,
            )
        except (stripe_gateway.StripeError, ApplicationError) as exc:
            report.status = OverageReportStatus.FAILED
            report.error = str(exc)[:2000]
            report.save()
            failure = exc
        else:
            report.status = OverageReportStatus.SENT
            report.error = ""
            report.sent_at = timezone.now()
            report.save()
            return report
    if isinstance(failure, ApplicationError):
        raise failure
    raise _gateway_error(failure) from failure


def overage_reports_pending(*, cutoff: datetime, now: datetime) -> list[Message]:
    """The outbox's view of overage reports: not sent, and last queued before ``cutoff``.

    A report whose task was lost (a broker restart) or gave up (a long Stripe outage)
    is queued again; it is touched so the next sweep waits a full period.
    """
    stuck = list(OverageReport.objects.filter(
        status__in=[OverageReportStatus.PENDING, OverageReportStatus.FAILED],
        queued_at__lt=cutoff,
    ).values_list("pk", flat=True)[:500])
    OverageReport.objects.filter(pk__in=stuck).update(queued_at=now)
    return [_overage_report_message(report_id) for report_id in stuck]
