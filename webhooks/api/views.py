"""The public API for webhook endpoints and their delivery log."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import RETRY_AFTER_HEADER, error_responses
from api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from api.pagination import CreatedCursorPagination, paginated
from webhooks import selectors, services
from webhooks.models import SUBSCRIBABLE_EVENTS, DeliveryStatus, OutboundEventType

ENDPOINT_PATH_PARAM = OpenApiParameter("endpoint_id", OpenApiTypes.UUID,
                                       OpenApiParameter.PATH)


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS))
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="Signs every delivery; shown only in this response. Verify "
        "`Caption-Signature: t=<unix>,v1=<hex>` where hex = HMAC-SHA256(secret, "
        "'<t>.<raw body>')."
    )


class WebhookDeliverySerializer(serializers.Serializer):
    class WebhookAttemptSerializer(serializers.Serializer):
        number = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        duration_ms = serializers.IntegerField()
        response_status = serializers.IntegerField(allow_null=True)
        response_body = serializers.CharField(allow_blank=True,
                                              help_text="The first 2 KiB of the answer.")
        error = serializers.CharField(allow_blank=True)
        succeeded = serializers.BooleanField()

    id = serializers.UUIDField()
    event_id = serializers.UUIDField()
    event_type = serializers.ChoiceField(choices=OutboundEventType.choices)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField()
    attempts = WebhookAttemptSerializer(many=True, source="attempts.all")


class WebhookEndpointListCreateApi(APIView):
    parser_classes = [JSONParser]

    class WebhookEndpointInputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=2000,
                                   help_text="A public http(s) URL; redirects are not followed.")
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS), required=False,
            allow_empty=False, max_length=len(SUBSCRIBABLE_EVENTS) * 2,
            help_text="Defaults to every job event.",
        )
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        operation_id="webhooks_list", summary="List webhook endpoints",
        parameters=[RETRY_AFTER_HEADER],
        responses={200: WebhookEndpointSerializer(many=True), **error_responses()},
    )
    def get(self, request):
        endpoints = selectors.webhook_endpoints_for_owner(owner=request.user)
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create", summary="Register a webhook endpoint",
        description="The URL is resolved and refused when it points at a private, loopback, "
        "link-local, multicast, reserved or cloud-metadata address.",
        request=WebhookEndpointInputSerializer,
        parameters=[IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={201: WebhookEndpointCreatedSerializer, **error_responses(400, 409, 415, 422)},
    )
    @idempotent
    def post(self, request):
        data = self.WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(owner=request.user, **data.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data,
                        status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    @extend_schema(
        operation_id="webhooks_retrieve", summary="Get a webhook endpoint",
        parameters=[ENDPOINT_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: WebhookEndpointSerializer, **error_responses(404)},
    )
    def get(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                           endpoint_id=endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy", summary="Delete a webhook endpoint and its log",
        parameters=[ENDPOINT_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(404)},
    )
    def delete(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                           endpoint_id=endpoint_id)
        services.webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointPingApi(APIView):
    @extend_schema(
        operation_id="webhooks_ping", summary="Send a signed test event now",
        description="One attempt, no retries; the answer shows what the endpoint replied.",
        request=None,
        parameters=[ENDPOINT_PATH_PARAM, IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={200: WebhookDeliverySerializer, **error_responses(400, 404, 409, 422)},
    )
    @idempotent
    def post(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                           endpoint_id=endpoint_id)
        delivery = services.webhook_ping(endpoint=endpoint)
        return Response(WebhookDeliverySerializer(delivery).data)


class WebhookDeliveryListApi(APIView):
    class Pagination(CreatedCursorPagination):
        pass

    @extend_schema(
        operation_id="webhooks_deliveries", summary="The endpoint's delivery log",
        description="Every event sent to the endpoint with every attempt, newest first.",
        parameters=[ENDPOINT_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: paginated(WebhookDeliverySerializer, "PaginatedWebhookDeliveryList"),
                   **error_responses(400, 404)},
    )
    def get(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                           endpoint_id=endpoint_id)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(
            selectors.webhook_deliveries_for_endpoint(endpoint=endpoint), request, view=self
        )
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
