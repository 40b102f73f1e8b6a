"""Idempotent POSTs: a request retried with the same ``Idempotency-Key`` is answered once."""

import functools

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts import services as account_services

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID). Retrying with the same key and body "
    "replays the first response instead of acting twice; reusing a key with a different "
    "body is refused with 422. Keys are kept for 24 hours.",
)


def idempotent(method):
    """Replay the first response to a POST retried with the same ``Idempotency-Key``."""
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
