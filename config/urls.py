from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import health, outages

urlpatterns = [
    path("", include("captions.urls")),
    path("", include("accounts.urls")),
    path("", include("webhooks.urls")),
    path("accounts/", include("allauth.urls")),
    path("billing/", include("billing.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]


def handler404(request, exception):
    """Unknown API paths answer in the API's error shape; pages keep the HTML 404."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "Not found.", "details": {}}, status=404
        )
    return defaults.page_not_found(request, exception)


# An outage met outside a view (a middleware reading the session) answers 503, not 500.
handler500 = outages.server_error
