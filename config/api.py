"""What every public API view shares: the error shape, throttles, pagination,
content negotiation, idempotent POSTs and the OpenAPI pieces that describe them.

Every error leaves the API as ``{"code", "message", "details"}`` with the right status;
``exception_handler`` is the one place that turns exceptions into those responses.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import (
    ValidationError as DjangoValidationError,
)
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import set_rollback

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# --- Errors -------------------------------------------------------------------------------

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def _error(status_code: int, code: str, message: str, details=None, headers=None) -> Response:
    set_rollback()
    return Response(
        {"code": code, "message": message, "details": details or {}},
        status=status_code,
        headers=headers,
    )


def _first_code(exc: exceptions.APIException) -> str | None:
    codes = exc.get_codes()
    while isinstance(codes, list | dict) and codes:
        codes = codes[0] if isinstance(codes, list) else next(iter(codes.values()))
    return codes if isinstance(codes, str) else None


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return _error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    if isinstance(exc, Http404):
        return _error(404, "not_found", "Not found.")
    if isinstance(exc, PermissionDenied):
        return _error(403, "permission_denied", str(exc) or "You may not do this.")
    if isinstance(exc, RequestDataTooBig):
        return _error(413, "request_too_large", "The request body is too large.")
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return _error(400, "too_many_parts", str(exc) or "The request has too many parts.")
    if isinstance(exc, DjangoValidationError):
        return _error(400, "invalid", "Some values are not valid.",
                      {"non_field_errors": exc.messages})
    if isinstance(exc, SuspiciousOperation):
        return _error(400, "bad_request", "The request could not be processed.")
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return _error(400, "invalid", "Some fields are not valid.", details)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, exceptions.Throttled):
            headers["Retry-After"] = str(max(1, int(exc.wait or 1)))
            message = f"Too many requests. Retry in {headers['Retry-After']} seconds."
            return _error(429, "throttled", message, {"retry_after": int(headers["Retry-After"])},
                          headers)
        code = _first_code(exc) or exc.default_code
        if type(exc) in _DRF_CODES and code == exc.default_code:
            code = _DRF_CODES[type(exc)]
        message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return _error(exc.status_code, code, str(message), headers=headers)
    logger.exception("unhandled API error", exc_info=exc)
    return _error(500, "internal_error", "Something went wrong on our side. Please retry.")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for a person to read.")
    details = serializers.DictField(
        help_text="Extra facts: for validation errors, a list of messages per field.",
    )


ERROR_DESCRIPTIONS = {
    400: "The request is not valid; `details` names each bad field.",
    401: "No API key, or the key is unknown, revoked or expired.",
    403: "The key lacks the scope for this operation (e.g. a read-only key writing).",
    404: "No such object, or it belongs to someone else.",
    409: "The object is not in a state that allows this.",
    413: "The file or request is larger than allowed.",
    415: "The file's contents are not a media type we accept, or the body's type is wrong.",
    422: "The Idempotency-Key was used before with a different request.",
    429: "Too many requests; wait for `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI responses for these errors plus the ones every endpoint can give."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429} | set(codes))
    }


def paginated(serializer_class, name: str):
    """The OpenAPI shape of a cursor page of ``serializer_class`` items."""
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER,
    description="Seconds to wait before retrying.", response=[429],
)

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID). Retrying with the same key and body "
    "replays the first response instead of acting twice; reusing a key with a different "
    "body is refused with 422. Keys are kept for 24 hours.",
)


# --- Content negotiation --------------------------------------------------------------------


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """Answer in JSON whatever the Accept header says, rather than refusing with 406.

    File downloads build their own responses; everything else the API says is JSON.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


# --- Throttles -----------------------------------------------------------------------------


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


# --- Pagination ----------------------------------------------------------------------------


class CreatedCursorPagination(CursorPagination):
    """Newest first; cursors stay correct while new rows arrive."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise ApplicationError(
                "The cursor is not valid; use the `next` or `previous` link of a page.",
                code="invalid_cursor",
            ) from None

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["required"] = ["next", "previous", "results"]
        return result


# --- Idempotent POSTs ----------------------------------------------------------------------


def idempotent(method):
    """Replay the first response to a POST retried with the same ``Idempotency-Key``."""
    from accounts import services as account_services

    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return method(self, request, *args, **kwargs)
        data = request.data
        if hasattr(data, "getlist"):
            fields = {k: data.getlist(k) for k in data if k not in request.FILES}
        elif isinstance(data, dict):
            fields = data
        else:
            fields = {"": data}
        request_hash = account_services.idempotency_request_hash(
            method=request.method, path=request.path, fields=fields, files=request.FILES
        )
        record = account_services.idempotency_begin(
            user=request.user, key=key, request_hash=request_hash
        )
        if record is not None:
            return Response(
                record.response_body,
                status=record.status_code,
                headers={**record.response_headers, "Idempotent-Replayed": "true"},
            )
        try:
            response = method(self, request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        keep = {h: response[h] for h in ("Location", "Retry-After") if response.has_header(h)}
        account_services.idempotency_finish(
            user=request.user, key=key, status_code=response.status_code,
            body=getattr(response, "data", None), headers=keep,
        )
        return response

    return wrapper

