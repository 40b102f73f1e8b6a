"""Celery tasks for outgoing webhooks: thin shells around ``webhooks.services``."""

from celery import shared_task

from config.outages import retried_on_outage

from . import services


@shared_task(bind=True, name=services.WEBHOOK_DELIVERY_TASK, acks_late=True, max_retries=None)
def webhook_delivery_send(self, delivery_id: str) -> None:
    """One attempt at a webhook delivery; schedules the next one when it failed.

    The database not answering sends the task again after a backoff rather than losing
    it until the outbox sweep; the delivery row's lock makes a second run harmless.
    """
    with retried_on_outage(self):
        services.webhook_delivery_run(delivery_id=delivery_id)
