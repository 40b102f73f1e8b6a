from functools import partial

from django.contrib import admin, messages

from config.errors import ApplicationError

from . import services
from .models import (
    BurnInExport,
    CaptionJob,
    CaptionVariant,
    JobEvent,
    MediaAsset,
    ModelCall,
    SttEngine,
    Transcript,
)


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "from_status", "to_status", "stage", "message", "actor"]

    def has_add_permission(self, request, obj=None):
        return False


class CaptionVariantInline(admin.TabularInline):
    model = CaptionVariant
    extra = 0
    can_delete = False
    readonly_fields = ["position", "text", "writer", "language"]

    def has_add_permission(self, request, obj=None):
        return False


class ModelCallInline(admin.TabularInline):
    model = ModelCall
    extra = 0
    can_delete = False
    fields = ["attempt", "call_index", "purpose", "model", "status", "tries", "input_tokens",
              "output_tokens", "cost_micro_usd", "error_code", "duration_ms", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class BurnInExportInline(admin.TabularInline):
    """The job's burned-in MP4 exports: style, state, and why one failed."""

    model = BurnInExport
    extra = 0
    can_delete = False
    fields = ["id", "status", "progress", "font_size", "position", "box", "aspect",
              "transcript_version", "attempts", "media_seconds", "width", "height",
              "size_bytes", "output_key", "error_code", "error_message", "requested_by",
              "created_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BurnInExport)
class BurnInExportAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "status", "progress", "aspect", "font_size", "position",
                    "box", "attempts", "error_code", "created_at", "finished_at"]
    list_filter = ["status", "aspect", "error_code"]
    search_fields = ["id", "job__id", "job__owner__email"]
    readonly_fields = [f.name for f in BurnInExport._meta.fields]
    list_select_related = ["job"]

    def has_add_permission(self, request):
        return False


@admin.register(CaptionJob)
class CaptionJobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "status", "stage", "stt_engine", "attempts", "error_code",
                    "cost_micro_usd", "created_at"]
    list_filter = ["status", "stage", "stt_engine", "platform", "tone"]
    search_fields = ["id", "owner__email", "error_message", "error_detail"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [CaptionVariantInline, ModelCallInline, BurnInExportInline, JobEventInline]
    actions = ["retry_jobs", "cancel_jobs", "use_managed_engine", "use_self_hosted_engine"]
    readonly_fields = [f.name for f in CaptionJob._meta.fields]

    def has_add_permission(self, request):
        return False

    def _apply(self, request, queryset, action, verb):
        done = 0
        for job in queryset:
            try:
                action(job=job, actor=request.user)
                # The admin's own history (LogEntry) records who did what, beside the
                # JobEvent the service wrote with the same actor.
                self.log_change(request, job, f"{verb} from the admin")
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verb} {done} job(s).")

    def delete_model(self, request, obj):
        # Through the service: media and results go with the job, and staff leave an audit row.
        services.caption_job_delete(job=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.caption_job_delete(job=job, actor=request.user)

    @admin.action(description="Retry selected failed jobs", permissions=["change"])
    def retry_jobs(self, request, queryset):
        self._apply(request, queryset, services.caption_job_retry, "Retried")

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        self._apply(request, queryset, services.caption_job_cancel, "Cancelled")

    # Only before an engine began transcribing a job (the service refuses after, 409).
    @admin.action(description="Transcribe with the managed engine (Amazon Transcribe)",
                  permissions=["change"])
    def use_managed_engine(self, request, queryset):
        self._apply(request, queryset, partial(services.caption_job_stt_engine_force,
                                               engine=SttEngine.MANAGED),
                    "Set the managed engine on")

    @admin.action(description="Transcribe with self-hosted Whisper (GPU queue)",
                  permissions=["change"])
    def use_self_hosted_engine(self, request, queryset):
        self._apply(request, queryset, partial(services.caption_job_stt_engine_force,
                                               engine=SttEngine.SELF_HOSTED),
                    "Set the self-hosted engine on")


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "kind", "content_type", "size_bytes", "duration_seconds",
                    "created_at"]
    list_filter = ["kind"]
    search_fields = ["id", "owner__email", "sha256"]
    list_select_related = ["owner"]
    readonly_fields = [f.name for f in MediaAsset._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Transcript)
class TranscriptAdmin(admin.ModelAdmin):
    list_display = ["job", "language", "duration_seconds", "created_at"]
    readonly_fields = ["job", "language", "text", "segments", "duration_seconds", "summary",
                       "chapters", "created_at"]

    def has_add_permission(self, request):
        return False
