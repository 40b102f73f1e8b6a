from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers too: the trail is written by the services alone."""

    list_display = ["created_at", "actor_label", "action", "target_type", "target_id",
                    "subject_user", "request_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_id", "subject_user__email", "request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["subject_user"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
