"""Billing records. See ``billing/services.py`` for how the cost ledger is kept."""

from django.conf import settings
from django.db import models


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
