from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("settings/webhooks/", views.endpoints, name="endpoints"),
    path("settings/webhooks/<uuid:endpoint_id>/", views.endpoint_detail, name="endpoint_detail"),
    path("settings/webhooks/<uuid:endpoint_id>/ping/", views.endpoint_ping, name="endpoint_ping"),
    path("settings/webhooks/<uuid:endpoint_id>/delete/", views.endpoint_delete,
         name="endpoint_delete"),
]
