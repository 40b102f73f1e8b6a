"""Stripe customers, subscriptions, webhook deliveries and the usage ledger.

Plans themselves are code (``billing/plans.py``); rows here only name a plan by code.
Stripe is the authority for subscriptions: rows are snapshots taken from Stripe's
objects and are changed only by ``billing.services``, never by hand in the admin.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from .plans import plan_choices


class BillingAccount(models.Model):
    """One per user: their Stripe customer (created once) and the row usage writes lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.stripe_customer_id or 'no Stripe customer'})"


class SubscriptionStatus(models.TextChoices):
    # Stripe's own statuses, spelled as Stripe spells them.
    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    UNPAID = "unpaid", "Unpaid"
    CANCELED = "canceled", "Cancelled"
    PAUSED = "paused", "Paused"


# Subscriptions given by hand (billing/grants.py) have ids no Stripe subscription has.
GRANT_PREFIX = "grant_"


class Subscription(models.Model):
    """The latest state of one Stripe subscription that we have seen.

    ``state_as_of`` is the ``created`` time of the Stripe event the state came from;
    an event older than it is never applied, so redelivered or reordered events
    cannot roll the subscription back.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    stripe_customer_id = models.CharField(max_length=255, db_index=True)
    plan_code = models.CharField(max_length=20, choices=plan_choices())
    stripe_price_id = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When we first saw this subscription past due; the grace period counts from here.
    past_due_since = models.DateTimeField(null=True, blank=True)
    # The subscription object's own creation time at Stripe.
    stripe_created = models.DateTimeField()
    state_as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} {self.plan_code} ({self.status})"

    @property
    def is_grant(self) -> bool:
        """Given by hand for a period (``manage.py grant_plan``), not bought through Stripe."""
        return self.stripe_subscription_id.startswith(GRANT_PREFIX)


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    FAILED = "failed", "Failed (will be retried)"


class StripeEvent(models.Model):
    """Every verified Stripe delivery, stored before it is handled; one row per event id."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=50, blank=True)
    stripe_created = models.DateTimeField()
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=1)
    # What the handler did ("sub_… creator active → canceled") or why it skipped.
    outcome = models.TextField(blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [("reprocess_stripeevent", "Can handle failed Stripe events again")]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type} ({self.status})"


class UsageRecord(models.Model):
    """Audio processed by one finished job: one row per job, never two."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    # The caption job's id; not a foreign key, so the ledger outlives deleted jobs.
    job_id = models.UUIDField(unique=True)
    audio_seconds = models.PositiveIntegerField()
    # Seconds of this job beyond the plan's included minutes (billed as overage).
    overage_seconds = models.PositiveIntegerField(default=0)
    plan_code = models.CharField(max_length=20, choices=plan_choices())
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    recorded_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["user", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.audio_seconds}s for job {self.job_id}"


class AdmissionStatus(models.TextChoices):
    HELD = "held", "Held by a queued or running job"
    SETTLED = "settled", "Settled: the job finished"
    RELEASED = "released", "Released: the job failed or was cancelled"


class JobAdmission(models.Model):
    """One job admitted under the plan's quotas: the ledger both quotas are counted from.

    Written under a lock on the user's ``BillingAccount`` row in the transaction that
    creates (or retries) the job, so parallel submissions cannot pass one limit
    together. Jobs per hour count admissions made in the last 60 minutes; audio minutes
    count the usage ledger plus the seconds still ``held`` by queued and running jobs.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_admissions"
    )
    # The caption job's id; not a foreign key (billing does not reach into captions). A
    # retried job is admitted again: one row per admission.
    job_id = models.UUIDField(db_index=True)
    admitted_at = models.DateTimeField()
    # The media's duration as probed before it was stored (0 when its container does not
    # say; the worker still enforces the plan's longest recording).
    held_seconds = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=AdmissionStatus.choices,
                              default=AdmissionStatus.HELD)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-admitted_at"]
        indexes = [
            models.Index(fields=["user", "admitted_at"]),
            models.Index(fields=["user", "status"]),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} admitted {self.admitted_at:%Y-%m-%d %H:%M} ({self.status})"


class OverageReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent to Stripe"
    FAILED = "failed", "Failed (will be retried)"


class OverageReport(models.Model):
    """Overage of one usage record, reported to Stripe's meter once.

    ``identifier`` is both the meter event's identifier (Stripe drops a second
    event with the same identifier) and the request's idempotency key.
    """

    usage = models.OneToOneField(
        UsageRecord, on_delete=models.PROTECT, related_name="overage_report"
    )
    stripe_customer_id = models.CharField(max_length=255)
    identifier = models.CharField(max_length=100, unique=True)
    seconds = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=OverageReportStatus.choices, default=OverageReportStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When its task was last sent (by the outbox, at commit or by the sweep).
    # db_default: rows inserted by the previous release (during a deploy) get one too.
    queued_at = models.DateTimeField(default=timezone.now, db_default=Now())
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.identifier} {self.seconds}s ({self.status})"


class SubscriptionChange(models.Model):
    """Audit: a subscription's plan or status changed, and which Stripe event did it."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="changes"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription_changes"
    )
    from_plan = models.CharField(max_length=20, blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_plan = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    stripe_event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return (f"{self.from_plan or '-'}/{self.from_status or '-'} → "
                f"{self.to_plan}/{self.to_status}")


# --- Hourly API cost ledger (see billing/services.py) ------------------------------


class CostWindow(models.Model):
    """One row per user per clock hour (UTC): the row every reservation locks."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_windows"
    )
    window_start = models.DateTimeField()
    reserved_micros = models.BigIntegerField(default=0)
    settled_micros = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "window_start"], name="one_cost_window_per_user_hour"
            ),
            models.CheckConstraint(
                condition=models.Q(reserved_micros__gte=0) & models.Q(settled_micros__gte=0),
                name="cost_window_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.window_start:%Y-%m-%d %H:00}"

    @property
    def spent_micros(self) -> int:
        return self.reserved_micros + self.settled_micros


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"


class CostReservation(models.Model):
    """A paid call's budget: reserved before the call, settled or released after it.

    ``key`` names the call (job, attempt, call index), so a redelivered task that
    reserves or settles the same call again finds this row instead of paying twice.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_reservations"
    )
    window = models.ForeignKey(CostWindow, on_delete=models.CASCADE, related_name="reservations")
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20)  # "llm", "stt", ...
    job_id = models.UUIDField(null=True, blank=True, db_index=True)
    reserved_micros = models.BigIntegerField()
    settled_micros = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved_micros__gte=0), name="reservation_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.status}"


class CostCapOverride(models.Model):
    """Staff may set a user's hourly cap above or below their plan's."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_cap_override"
    )
    hourly_cap_micros = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.hourly_cap_micros} micro-dollars/hour"
