"""Celery tasks for billing: thin shells around ``billing.services`` and the cost ledger."""

import logging

from celery import shared_task

from config.errors import ApplicationError
from config.outages import retried_on_outage
from config.outbox import outbox_sweep

from . import cost_ledger, services

logger = logging.getLogger(__name__)


@shared_task(bind=True, name=services.OVERAGE_REPORT_TASK, max_retries=12)
def overage_report_send(self, report_id: int) -> None:
    try:
        # The database not answering: sent again after a backoff, not dropped.
        with retried_on_outage(self):
            services.overage_report_send(report_id=report_id)
    except ApplicationError as exc:
        # Stripe keeps a meter event's identifier, so a retry cannot count usage twice.
        logger.warning("overage report %s not sent: %s", report_id, exc.message)
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2 ** self.request.retries)) from exc


@shared_task(name="billing.tasks.overage_reports_resend")
def overage_reports_resend() -> int:
    """Kept for messages queued by an earlier release: the outbox sweep does this now."""
    return outbox_sweep(sources=["overage_report"])["overage_report"]


@shared_task(name="workers.tasks.cost_reservations_sweep")
def cost_reservations_sweep() -> int:
    """Release reservations of workers that died before settling (run by celery beat)."""
    released = cost_ledger.cost_reservations_sweep()
    if released:
        logger.warning("released %d expired cost reservations", released)
    return released
