from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import overage_reports_pending

        outbox_source_register(PendingSource("overage_report", overage_reports_pending))

        from config.cache import cache_forget_on_change, cache_user_companion

        from .models import CostCapOverride, Subscription
        from .selectors import cap_override_cache_forget, plan_cache_forget, plan_cache_key

        # Every API request reads its user's plan: read with the API key, in one round trip.
        cache_user_companion(plan_cache_key)

        cache_forget_on_change(
            Subscription, what=lambda subscription: subscription.user_id,
            forget=lambda user_id: plan_cache_forget(user_id=user_id),
            uid="billing_plan_cache")
        cache_forget_on_change(
            CostCapOverride, what=lambda override: override.user_id,
            forget=lambda user_id: cap_override_cache_forget(user_id=user_id),
            uid="billing_cap_override_cache")
