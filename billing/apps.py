from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import overage_reports_pending

        outbox_source_register(PendingSource("overage_report", overage_reports_pending))
