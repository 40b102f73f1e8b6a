"""The API for burned-in captions: ask for an MP4 with the subtitles in the picture, poll
it, download it. One class per resource; the work is ``captions.services.burn_in``'s."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import RETRY_AFTER_HEADER, error_responses
from api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from captions import selectors, services
from captions.models import BurnInAspect, BurnInFontSize, BurnInPosition, BurnInStatus
from captions.playback import burn_in_download_response, burn_in_filename

JOB_PATH_PARAM = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
EXPORT_PATH_PARAM = OpenApiParameter("export_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _export_url(request, export, suffix: str = "") -> str:
    return request.build_absolute_uri(
        f"/api/v1/jobs/{export.job_id}/burn-in/{export.pk}/{suffix}")


class BurnInOutputSerializer(serializers.Serializer):
    class BurnInStyleSerializer(serializers.Serializer):
        font_size = serializers.ChoiceField(choices=BurnInFontSize.choices)
        position = serializers.ChoiceField(choices=BurnInPosition.choices)
        box = serializers.BooleanField()
        aspect = serializers.ChoiceField(choices=BurnInAspect.choices)

    class BurnInErrorSerializer(serializers.Serializer):
        code = serializers.CharField(source="error_code")
        message = serializers.CharField(source="error_message")

    class BurnInLinksSerializer(serializers.Serializer):
        self = serializers.URLField()
        download = serializers.URLField(
            allow_null=True, help_text="Once ready: the MP4 (a redirect to a short-lived "
            "signed URL, or the file itself), as an attachment.")

    id = serializers.UUIDField()
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=BurnInStatus.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100, help_text="Percent.")
    style = BurnInStyleSerializer(source="*")
    transcript_version = serializers.IntegerField(
        help_text="The transcript's version burned in: 1 as transcribed, +1 per correction.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    media_seconds = serializers.FloatField(
        help_text="The video's seconds, counted against the plan's minutes once it is ready.")
    filename = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    links = serializers.SerializerMethodField()

    def get_filename(self, export) -> str:
        return burn_in_filename(export=export)

    @extend_schema_field(BurnInErrorSerializer(allow_null=True))
    def get_error(self, export) -> dict | None:
        if export.status != BurnInStatus.FAILED:
            return None
        return self.BurnInErrorSerializer(export).data

    @extend_schema_field(BurnInLinksSerializer)
    def get_links(self, export) -> dict:
        request = self.context["request"]
        done = export.status == BurnInStatus.DONE
        return {"self": _export_url(request, export),
                "download": _export_url(request, export, "download/") if done else None}


class BurnInListCreateApi(APIView):
    parser_classes = [JSONParser]

    class BurnInRequestSerializer(serializers.Serializer):
        font_size = serializers.ChoiceField(choices=BurnInFontSize.choices, required=False,
                                            default=BurnInFontSize.MEDIUM)
        position = serializers.ChoiceField(choices=BurnInPosition.choices, required=False,
                                           default=BurnInPosition.BOTTOM)
        box = serializers.BooleanField(required=False, default=True,
                                       help_text="A translucent box behind the text.")
        aspect = serializers.ChoiceField(
            choices=BurnInAspect.choices, required=False,
            help_text="The picture's shape, letterboxed (never stretched). Default: the "
            "job's platform's (9:16 for TikTok and Instagram, 16:9 for YouTube and X, 1:1 "
            "for LinkedIn).")

    @extend_schema(
        operation_id="jobs_burn_in_list",
        summary="List a job's burned-in exports",
        parameters=[JOB_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: BurnInOutputSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        exports = selectors.burn_in_exports_for_job(job=job)[:100]
        return Response(BurnInOutputSerializer(exports, many=True,
                                               context={"request": request}).data)

    @extend_schema(
        operation_id="jobs_burn_in_create",
        summary="Burn the subtitles into the video",
        description="For a finished video job: renders an MP4 with the current transcript's "
        "subtitles in the picture, in the background (202; poll `links.self`). Asking again "
        "for the same style of the same transcript returns the existing export (200) and "
        "charges nothing; a failed one is rendered again. Counts the video's length "
        "against the plan's minutes once, when ready; plans with video only.",
        request=BurnInRequestSerializer,
        parameters=[JOB_PATH_PARAM, IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={202: BurnInOutputSerializer, 200: BurnInOutputSerializer,
                   **error_responses(400, 404, 409, 422)},
    )
    @idempotent
    def post(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        data = self.BurnInRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export, created = services.burn_in_export_request(
            job=job, actor=request.user, options=dict(data.validated_data))
        body = BurnInOutputSerializer(export, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
                        headers={"Location": _export_url(request, export)})


class BurnInDetailApi(APIView):
    @extend_schema(
        operation_id="jobs_burn_in_retrieve",
        summary="Get a burned-in export (poll its progress)",
        parameters=[JOB_PATH_PARAM, EXPORT_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: BurnInOutputSerializer, **error_responses(404)},
    )
    def get(self, request, job_id, export_id):
        export = selectors.burn_in_export_get_for_owner(owner=request.user, job_id=job_id,
                                                        export_id=export_id)
        return Response(BurnInOutputSerializer(export, context={"request": request}).data)


class BurnInDownloadApi(APIView):
    @extend_schema(
        operation_id="jobs_burn_in_download",
        summary="Download a burned-in MP4",
        description="A redirect (302) to a short-lived signed URL where files are in S3, "
        "otherwise the file; an attachment named after the upload (`interview-captioned.mp4`)."
        " 404 until the export is ready.",
        parameters=[JOB_PATH_PARAM, EXPORT_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={(200, "video/mp4"): OpenApiTypes.BINARY,
                   302: OpenApiResponse(description="To the file's signed URL."),
                   **error_responses(404)},
    )
    def get(self, request, job_id, export_id):
        export = selectors.burn_in_export_get_for_owner(owner=request.user, job_id=job_id,
                                                        export_id=export_id)
        return burn_in_download_response(export=export)
