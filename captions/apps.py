from django.apps import AppConfig


class CaptionsConfig(AppConfig):
    name = "captions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services.burn_in import burn_in_exports_pending
        from .services.jobs import caption_jobs_pending

        outbox_source_register(PendingSource("caption_job", caption_jobs_pending))
        outbox_source_register(PendingSource("burn_in_export", burn_in_exports_pending))
