from csp.decorators import csp_replace
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config import health, outages

# The API docs run Swagger UI and Redoc from our own static files (drf-spectacular-sidecar),
# so they work without internet and load nothing from another host. Still no inline
# script: Swagger's start-up script comes from the split view (?script=), and Redoc
# starts from its <redoc spec-url> tag (REDOC_UI_SETTINGS would add an inline script).
# Styles may be inline here only, because both libraries style their widgets with
# <style> elements they write at run time; Redoc's search runs in a blob: worker.
api_docs_policy = csp_replace({
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "worker-src": ["'self'", "blob:"],
})

urlpatterns = [
    path("", include("captions.urls")),
    path("", include("accounts.urls")),
    path("", include("webhooks.urls")),
    path("accounts/", include("allauth.urls")),
    path("billing/", include("billing.urls")),
    path("admin/operations/", include("operations.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/",
         api_docs_policy(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
         name="api_docs"),
    path("api/redoc/",
         api_docs_policy(SpectacularRedocView.as_view(
             url_name="api_schema", template_name="api/redoc.html")),
         name="api_redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
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
