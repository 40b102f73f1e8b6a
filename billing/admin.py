"""Billing in the admin: everything is visible, nothing is edited by hand.

Subscriptions and events are Stripe's truth; staff change them in Stripe (or the
customer does, in the Portal) and the webhooks bring the change here. The one action
is reprocessing failed webhook events, behind its own permission.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from config.errors import ApplicationError

from . import cost_ledger, services
from .models import (
    BillingAccount,
    CostCapOverride,
    CostReservation,
    CostWindow,
    OverageReport,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    SubscriptionChange,
    UsageRecord,
)
from .plans import PLANS


class NoWrites:
    """Stripe's truth is changed in Stripe; nothing here is added, edited or deleted."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    pass


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "stripe_customer_id", "created_at"]
    search_fields = ["user__email", "stripe_customer_id"]
    list_select_related = ["user"]


class SubscriptionChangeInline(NoWrites, admin.TabularInline):
    model = SubscriptionChange
    extra = 0
    fields = ["created_at", "from_plan", "from_status", "to_plan", "to_status", "stripe_event_id"]
    readonly_fields = fields


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["stripe_subscription_id", "user", "plan_code", "status",
                    "current_period_end", "cancel_at_period_end", "state_as_of"]
    list_filter = ["plan_code", "status", "cancel_at_period_end"]
    search_fields = ["stripe_subscription_id", "stripe_customer_id", "user__email"]
    list_select_related = ["user"]
    inlines = [SubscriptionChangeInline]
    # The plan catalogue (code, not rows) is shown above the list.
    change_list_template = "admin/billing/subscription/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "plans": list(PLANS.values())}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(StripeEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "deliveries",
                    "stripe_created", "received_at"]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["stripe_event_id", "type", "error", "outcome"]
    date_hierarchy = "received_at"
    actions = ["reprocess_events"]

    def has_reprocess_permission(self, request):
        return request.user.has_perm("billing.reprocess_stripeevent")

    @admin.action(description="Handle selected failed events again", permissions=["reprocess"])
    def reprocess_events(self, request, queryset):
        done = 0
        for event in queryset.filter(status=StripeEventStatus.FAILED):
            event = services.stripe_event_process(event_pk=event.pk)
            self.log_change(request, event, f"Reprocessed: {event.status}")
            if event.status == StripeEventStatus.PROCESSED:
                done += 1
            else:
                self.message_user(request, f"{event.stripe_event_id}: {event.error}",
                                  messages.WARNING)
        self.message_user(request, f"Processed {done} event(s).")


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["job_id", "user", "audio_seconds", "overage_seconds", "plan_code",
                    "period_start", "recorded_at"]
    list_filter = ["plan_code"]
    search_fields = ["job_id", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "recorded_at"


@admin.register(OverageReport)
class OverageReportAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "stripe_customer_id", "seconds", "status", "attempts",
                    "sent_at"]
    list_filter = ["status"]
    search_fields = ["identifier", "stripe_customer_id"]


@admin.register(CostWindow)
class CostWindowAdmin(admin.ModelAdmin):
    list_display = ["user", "window_start", "reserved_micros", "settled_micros"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    date_hierarchy = "window_start"
    readonly_fields = ["user", "window_start", "reserved_micros", "settled_micros"]

    def has_add_permission(self, request):
        return False


@admin.register(CostReservation)
class CostReservationAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "kind", "status", "reserved_micros", "settled_micros",
                    "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["user"]
    search_fields = ["key", "user__email", "job_id"]
    readonly_fields = [f.name for f in CostReservation._meta.fields]

    def has_add_permission(self, request):
        return False


class CostCapOverrideForm(forms.ModelForm):
    class Meta:
        model = CostCapOverride
        fields = ["user", "hourly_cap_micros", "reason"]

    def clean(self):
        data = super().clean()
        try:
            cost_ledger.cost_cap_override_validate(
                hourly_cap_micros=data.get("hourly_cap_micros"), reason=data.get("reason", ""))
        except ApplicationError as exc:
            raise ValidationError(exc.details) from exc
        return data


@admin.register(CostCapOverride)
class CostCapOverrideAdmin(admin.ModelAdmin):
    """Edited by the Billing group; every save and delete goes through the audited service."""

    list_display = ["user", "hourly_cap_micros", "reason", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        # The customer an override belongs to is chosen once.
        return ["user"] if obj is not None else []

    form = CostCapOverrideForm

    def save_model(self, request, obj, form, change):
        saved = cost_ledger.cost_cap_override_set(
            user=obj.user, hourly_cap_micros=obj.hourly_cap_micros, reason=obj.reason,
            actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        cost_ledger.cost_cap_override_remove(override=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for override in queryset:
            cost_ledger.cost_cap_override_remove(override=override, actor=request.user)
