"""Writing the audit trail: ``audit_record`` inside the transaction that makes the change."""

from __future__ import annotations

from django.db import connection, models

from config.log_context import current_request_id

from .models import AuditAction, AuditEntry

SYSTEM = "system"


class AuditOutsideTransaction(RuntimeError):
    """An audit row written outside a transaction could outlive a change that failed."""


def audit_record(
    *, action: AuditAction | str, target: models.Model, actor=None, subject_user=None,
    before: dict | None = None, after: dict | None = None, actor_label: str = "",
) -> AuditEntry:
    """Record one change to ``target``. Call it inside the change's ``transaction.atomic``.

    ``actor`` None means the system (label ``actor_label`` or "system"). Raises
    AuditOutsideTransaction when no transaction is open, so a change and its row are
    committed or rolled back together.
    """
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"{action} on {target!r} must be audited inside the "
                                      "transaction that makes it.")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.create(
        action=action,
        actor=actor,
        actor_label=(getattr(actor, "email", "") or str(actor)) if actor else
        (actor_label or SYSTEM),
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        subject_user=subject_user,
        before=before or {},
        after=after or {},
        request_id=current_request_id(),
    )
