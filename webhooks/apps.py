from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import webhook_deliveries_pending

        outbox_source_register(PendingSource("webhook_delivery", webhook_deliveries_pending))

        from config.cache import cache_forget_on_change

        from .models import WebhookEndpoint
        from .selectors import webhook_subscriptions_forget

        cache_forget_on_change(
            WebhookEndpoint, what=lambda endpoint: endpoint.owner_id,
            forget=lambda owner_id: webhook_subscriptions_forget(owner_id=owner_id),
            uid="webhooks_endpoint_cache")
