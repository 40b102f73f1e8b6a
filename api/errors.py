"""Every API error leaves as ``{"code", "message", "details"}`` with the right status.

``exception_handler`` is the one place that turns exceptions into those responses;
``error_responses`` describes them in the OpenAPI schema.
"""

from __future__ import annotations

import logging

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
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.errors import ApplicationError
from config.outages import outage_error

logger = logging.getLogger(__name__)

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
    outage = outage_error(exc)
    if outage is not None and outage is not exc:
        # The database or the cache did not answer: a 503 the client can retry, not a 500.
        logger.warning("API request answered 503: the %s is not answering (%s: %s)",
                       outage.service, type(exc).__name__, exc)
        exc = outage
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
    503: "A service we depend on (the database, the cache, file storage) is briefly not "
         "answering. Retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI responses for these errors plus the ones every endpoint can give."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429, 503} | set(codes))
    }


RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER,
    description="Seconds to wait before retrying.", response=[429, 503],
)


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """Answer in JSON whatever the Accept header says, rather than refusing with 406.

    File downloads build their own responses; everything else the API says is JSON.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
