"""Cursor pages, newest first, and their OpenAPI shape."""

from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination

from config.errors import ApplicationError


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


