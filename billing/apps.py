from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config.outbox import PendingSource, outbox_source_register

        from .services import overage_reports_pending

        outbox_source_register(PendingSource("overage_report", overage_reports_pending))

        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from .models import Subscription
        from .selectors import plan_cache_forget

        def forget_plan(sender, instance, **kwargs):
            # Now, and again once the change is visible to other connections, so a
            # request that read the old row meanwhile cannot keep it cached.
            plan_cache_forget(user_id=instance.user_id)
            transaction.on_commit(lambda: plan_cache_forget(user_id=instance.user_id))

        post_save.connect(forget_plan, sender=Subscription, weak=False,
                          dispatch_uid="billing_plan_cache")
        post_delete.connect(forget_plan, sender=Subscription, weak=False,
                            dispatch_uid="billing_plan_cache")

        from .models import CostCapOverride
        from .selectors import cap_override_cache_forget

        def forget_override(sender, instance, **kwargs):
            cap_override_cache_forget(user_id=instance.user_id)
            transaction.on_commit(lambda: cap_override_cache_forget(user_id=instance.user_id))

        post_save.connect(forget_override, sender=CostCapOverride, weak=False,
                          dispatch_uid="billing_cap_override_cache")
        post_delete.connect(forget_override, sender=CostCapOverride, weak=False,
                            dispatch_uid="billing_cap_override_cache")
