"""``/api/v1/``: the public API, every app's endpoints.

Its schema and docs live at ``/api/schema/`` and ``/api/docs/``.
"""

from django.urls import path, re_path

from billing.api import views as usage
from captions.api import burn_in
from captions.api import views as jobs
from webhooks.api import views as webhooks

app_name = "api"

UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

urlpatterns = [
    path("jobs/", jobs.JobListCreateApi.as_view(), name="jobs"),
    path("jobs/from-upload/", jobs.JobFromUploadApi.as_view(), name="jobs_from_upload"),
    path("jobs/<uuid:job_id>/", jobs.JobDetailApi.as_view(), name="job"),
    path("jobs/<uuid:job_id>/cancel/", jobs.JobCancelApi.as_view(), name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", jobs.JobRetryApi.as_view(), name="job_retry"),
    path("jobs/<uuid:job_id>/captions/", jobs.CaptionsApi.as_view(), name="job_captions"),
    re_path(
        rf"^jobs/(?P<job_id>{UUID_RE})/transcript\.(?P<export_format>txt|srt|vtt|json|tsv)$",
        jobs.TranscriptApi.as_view(),
        name="job_transcript",
    ),
    path("jobs/<uuid:job_id>/burn-in/", burn_in.BurnInListCreateApi.as_view(),
         name="job_burn_in"),
    path("jobs/<uuid:job_id>/burn-in/<uuid:export_id>/", burn_in.BurnInDetailApi.as_view(),
         name="job_burn_in_export"),
    path("jobs/<uuid:job_id>/burn-in/<uuid:export_id>/download/",
         burn_in.BurnInDownloadApi.as_view(), name="job_burn_in_download"),
    path("uploads/", jobs.UploadCreateApi.as_view(), name="uploads"),
    path("usage/", usage.UsageApi.as_view(), name="usage"),
    path("webhooks/", webhooks.WebhookEndpointListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>/", webhooks.WebhookEndpointDetailApi.as_view(),
         name="webhook"),
    path("webhooks/<uuid:endpoint_id>/ping/", webhooks.WebhookEndpointPingApi.as_view(),
         name="webhook_ping"),
    path("webhooks/<uuid:endpoint_id>/deliveries/", webhooks.WebhookDeliveryListApi.as_view(),
         name="webhook_deliveries"),
]
