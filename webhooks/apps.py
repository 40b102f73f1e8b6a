from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import webhook_deliveries_pending

        outbox_source_register(PendingSource("webhook_delivery", webhook_deliveries_pending))
