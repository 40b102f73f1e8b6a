"""What every API endpoint checks beyond authentication: the key's scope and the plan."""

from rest_framework import permissions

from accounts.models import ApiKey, ApiKeyScope
from billing import selectors as billing_selectors
from billing.plans import Feature


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
