"""Celery tasks for outgoing webhooks: thin shells around ``webhooks.services``."""

from celery import shared_task

from . import services


@shared_task(name=services.WEBHOOK_DELIVERY_TASK, acks_late=True)
def webhook_delivery_send(delivery_id: str) -> None:
    """One attempt at a webhook delivery; schedules the next one when it failed."""
    services.webhook_delivery_run(delivery_id=delivery_id)
