"""Celery tasks for billing: thin shells around ``billing.services``."""

import logging

from celery import shared_task

from config.errors import ApplicationError

from . import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="billing.tasks.overage_report_send", max_retries=12)
def overage_report_send(self, report_id: int) -> None:
    try:
        services.overage_report_send(report_id=report_id)
    except ApplicationError as exc:
        # Stripe keeps a meter event's identifier, so a retry cannot count usage twice.
        logger.warning("overage report %s not sent: %s", report_id, exc.message)
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2 ** self.request.retries)) from exc


@shared_task(name="billing.tasks.overage_reports_resend")
def overage_reports_resend() -> int:
    return services.overage_reports_resend()
