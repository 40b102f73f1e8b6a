"""Per-key request rates for the API, kept in the Django cache."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _ApiKeyThrottle(SimpleRateThrottle):
    """A per-key request rate kept in the Django cache (Redis wherever REDIS_URL is set).

    Requests with a session are counted per user, on their own bucket.
    """

    setting = ""

    def get_rate(self):
        return getattr(settings, self.setting)

    def get_cache_key(self, request, view):
        if not self.applies(request):
            return None
        auth = request.auth
        ident = f"key-{auth.pk}" if getattr(auth, "pk", None) else f"user-{request.user.pk}"
        if not request.user.is_authenticated:
            ident = f"ip-{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

    def applies(self, request) -> bool:
        return True


class ApiReadThrottle(_ApiKeyThrottle):
    scope = "api_read"
    setting = "API_THROTTLE_READ_RATE"

    def applies(self, request) -> bool:
        return request.method in ("GET", "HEAD", "OPTIONS")


class ApiWriteThrottle(_ApiKeyThrottle):
    scope = "api_write"
    setting = "API_THROTTLE_WRITE_RATE"

    def applies(self, request) -> bool:
        return request.method not in ("GET", "HEAD", "OPTIONS")
