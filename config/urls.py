from django.contrib import admin
from django.urls import include, path

from captions import views as caption_views

urlpatterns = [
    path("", include("captions.urls")),
    path("accounts/", include("allauth.urls")),
    path("billing/", include("billing.urls")),
    path("admin/", admin.site.urls),
    path("healthz", caption_views.healthz, name="healthz"),
    path("readyz", caption_views.readyz, name="readyz"),
]
