"""The audit trail: one row per change that matters, written in the change's transaction.

As in Zulip's ``RealmAuditLog``: who did it (a staff member, the customer, or the system
acting on a Stripe event), what (``action``, the object's type and id), when, and the
state before and after. Rows are never edited or deleted through the product.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    PLAN_CHANGED = "plan_changed", "Plan or subscription status changed"
    COST_CAP_SET = "cost_cap_set", "Cost cap override set"
    COST_CAP_REMOVED = "cost_cap_removed", "Cost cap override removed"
    API_KEY_CREATED = "api_key_created", "API key created"
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint_created", "Webhook endpoint created"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint_deleted", "Webhook endpoint deleted"
    JOB_RETRIED = "job_retried", "Job retried by staff"
    JOB_CANCELLED = "job_cancelled", "Job cancelled by staff"
    JOB_DELETED = "job_deleted", "Job deleted by staff"


class AuditEntry(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Who: null for the system (a Stripe event, a sweep); the label survives the user.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    # What: the object changed, and the customer it belongs to.
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64)
    subject_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    # The request (or the task it sent) that made the change, to find its log lines.
    request_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
