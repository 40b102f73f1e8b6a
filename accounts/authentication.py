"""``Authorization: Bearer <key>`` for the public API, and the scope check that goes with it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.errors import ApplicationError

from . import services


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
