from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import webhook_deliveries_pending

        outbox_source_register(PendingSource("webhook_delivery", webhook_deliveries_pending))

        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from .models import WebhookEndpoint
        from .selectors import webhook_subscriptions_forget

        def forget(sender, instance, **kwargs):
            # Now, and again once committed: an entry cached from the old rows meanwhile
            # (by another connection) is replaced.
            owner_id = instance.owner_id
            webhook_subscriptions_forget(owner_id=owner_id)
            transaction.on_commit(lambda: webhook_subscriptions_forget(owner_id=owner_id))

        post_save.connect(forget, sender=WebhookEndpoint, weak=False,
                          dispatch_uid="webhooks_endpoint_cache")
        post_delete.connect(forget, sender=WebhookEndpoint, weak=False,
                            dispatch_uid="webhooks_endpoint_cache")
