from django.urls import path

from . import views

app_name = "captions"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/new/", views.job_new, name="job_new"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/status.json", views.job_status, name="job_status"),
    *[
        path(f"jobs/<uuid:job_id>/transcript.{fmt}", views.transcript_download, {"fmt": fmt},
             name=f"transcript_{fmt}")
        for fmt in ("txt", "srt", "vtt", "json", "tsv")
    ],
    path("jobs/<uuid:job_id>/transcript/edit/", views.transcript_edit, name="transcript_edit"),
    path("media/<str:token>/", views.media_playback, name="media_playback"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/burn-in/", views.burn_in_request, name="burn_in_request"),
    path("jobs/<uuid:job_id>/burn-in/<uuid:export_id>/status.json", views.burn_in_status,
         name="burn_in_status"),
    path("jobs/<uuid:job_id>/burn-in/<uuid:export_id>/download/", views.burn_in_download,
         name="burn_in_download"),
]
