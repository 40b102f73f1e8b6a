"""``Authorization: Bearer <key>`` for the public API, and the scope check that goes with it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from billing import selectors as billing_selectors
from billing.plans import Feature
from config.errors import ApplicationError

from . import services
from .models import ApiKey, ApiKeyScope


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>', with no spaces in the key."
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        try:
            key = services.api_key_authenticate(secret=secret)
        except ApplicationError as exc:
            failure = exceptions.AuthenticationFailed(exc.message, code=exc.code)
            raise failure from None
        return key.user, key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return 'Bearer realm="api"'


class HasApiKeyScope(permissions.BasePermission):
    """Reads need the ``read`` scope, anything else ``write``. Sessions have both."""

    message = "This API key is read-only; create a key with the 'write' scope to do this."
    code = "insufficient_scope"

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return True
        needed = (
            ApiKeyScope.READ if request.method in permissions.SAFE_METHODS else ApiKeyScope.WRITE
        )
        if needed == ApiKeyScope.READ and not request.auth.has_scope(ApiKeyScope.READ):
            self.message = "This API key has no 'read' scope."
        return request.auth.has_scope(needed)


class PlanIncludesApi(permissions.BasePermission):
    """API keys work on plans with API access; the web pages' own calls always work."""

    code = "plan_feature_missing"

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return True
        limits = billing_selectors.plan_limits_for_user(user=request.user)
        if limits.has(Feature.API):
            return True
        self.message = (
            f"API access is not part of the {limits.plan.name} plan. Upgrade on the billing "
            "page; your keys work again as soon as the new plan is active."
        )
        return False


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created under Settings → API keys, e.g. "
            "`Authorization: Bearer cg_live_…`.",
        }
