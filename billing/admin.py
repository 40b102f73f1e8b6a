from django.contrib import admin

from .models import CostCapOverride, CostReservation, CostWindow


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


@admin.register(CostCapOverride)
class CostCapOverrideAdmin(admin.ModelAdmin):
    list_display = ["user", "hourly_cap_micros", "reason", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user"]
