"""The public API for caption jobs: one class per resource, one method per operation.

Views parse input with their nested serializers and call services and selectors;
errors become ``{"code", "message", "details"}`` in ``api.errors.exception_handler``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import RETRY_AFTER_HEADER, error_responses
from api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from api.pagination import CreatedCursorPagination, paginated
from captions import selectors, services
from captions.api.serializers import (
    CaptionOptionsOutputSerializer,
    CaptionOptionsSerializer,
    caption_options_output,
)
from captions.models import (
    CaptionJob,
    JobStage,
    JobStatus,
    MediaKind,
    SttEngine,
)
from captions.playback import transcript_export_filename
from config.errors import ApplicationError

TRANSCRIPT_FORMATS = ("txt", "srt", "vtt", "json", "tsv")


def _api_url(request, job: CaptionJob, suffix: str = "") -> str:
    return request.build_absolute_uri(f"/api/v1/jobs/{job.pk}/{suffix}")


# --- Shared output ---------------------------------------------------------------------------


class JobOutputSerializer(serializers.Serializer):
    class JobMediaSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(source="asset.kind", choices=MediaKind.choices)
        content_type = serializers.CharField(source="asset.content_type")
        size_bytes = serializers.IntegerField(source="asset.size_bytes")
        duration_seconds = serializers.FloatField(source="asset.duration_seconds",
                                                  allow_null=True)
        original_name = serializers.CharField(source="asset.original_name")

    class JobErrorSerializer(serializers.Serializer):
        code = serializers.CharField(source="error_code")
        message = serializers.CharField(source="error_message")

    class JobTimingsSerializer(serializers.Serializer):
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()
        started_at = serializers.DateTimeField(allow_null=True)
        finished_at = serializers.DateTimeField(allow_null=True)
        stage_seconds = serializers.DictField(
            child=serializers.FloatField(),
            help_text="Seconds spent in each stage of the latest attempt.",
        )

    class JobCostSerializer(serializers.Serializer):
        amount_micro_usd = serializers.IntegerField(
            help_text="What the job's AI calls cost so far, in millionths of a US dollar "
            "(calls that failed cost nothing).",
        )
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        currency = serializers.CharField()

    class JobSpeechToTextSerializer(serializers.Serializer):
        engine = serializers.ChoiceField(
            choices=[("", "None (an image)"), *SttEngine.choices],
            help_text="The speech-to-text engine chosen for the job.")
        reason = serializers.CharField(help_text="Why that engine was chosen.")
        cost_micro_usd = serializers.IntegerField(
            help_text="What transcription cost, in millionths of a US dollar (0 until done).")
        cost_kind = serializers.CharField(
            help_text="The cost ledger's kind for it: stt (self-hosted), stt_managed.")

    class JobLinksSerializer(serializers.Serializer):
        self = serializers.URLField()
        transcript = serializers.URLField(help_text="Add the format: transcript.srt, …")
        captions = serializers.URLField()

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.ChoiceField(choices=JobStage.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100, help_text="Percent.")
    seconds_left = serializers.FloatField(
        allow_null=True, help_text="While transcribing: the estimated seconds until the "
        "transcript is done, from the pace so far; null otherwise.")
    attempts = serializers.IntegerField()
    reused_from = serializers.UUIDField(
        source="reused_from_id", allow_null=True,
        help_text="Set when this job was answered from the result cache: the earlier job "
        "(same file, same options) whose transcript and captions it copies, at no charge.",
    )
    options = CaptionOptionsOutputSerializer(source="*")
    media = JobMediaSerializer(source="*")
    error = serializers.SerializerMethodField()
    timings = JobTimingsSerializer(source="*")
    cost = serializers.SerializerMethodField()
    speech_to_text = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job) -> dict | None:
        if job.status != JobStatus.FAILED:
            return None
        return self.JobErrorSerializer(job).data

    @extend_schema_field(JobCostSerializer)
    def get_cost(self, job) -> dict:
        return {"amount_micro_usd": job.cost_micro_usd, "input_tokens": job.input_tokens,
                "output_tokens": job.output_tokens, "currency": "USD"}

    @extend_schema_field(JobSpeechToTextSerializer)
    def get_speech_to_text(self, job) -> dict:
        return selectors.caption_job_speech_to_text(job=job)

    @extend_schema_field(JobLinksSerializer)
    def get_links(self, job) -> dict:
        request = self.context["request"]
        return {
            "self": _api_url(request, job),
            "transcript": _api_url(request, job, "transcript.json"),
            "captions": _api_url(request, job, "captions/"),
        }


def _when(value, tz):
    """What ``serializers.DateTimeField().to_representation`` gives (ISO 8601 in the
    current time zone, UTC as ``Z``), without its per-value settings and zone lookups:
    four per row were a tenth of a list request's time."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _jobs_data(request, jobs) -> list[dict]:
    """``JobOutputSerializer(job).data`` for each job, built as plain dicts in one pass.

    ``JobOutputSerializer`` stays the declared shape (the OpenAPI schema and the test
    that compares the two); building it per job deep-copied its nested fields for every
    row of a page, which was most of a list request's time.
    """
    base = request.build_absolute_uri("/api/v1/jobs/")
    tz = timezone.get_current_timezone()
    out = []
    for job in jobs:
        asset = job.asset
        failed = job.status == JobStatus.FAILED
        url = f"{base}{job.pk}/"
        out.append({
            "id": str(job.pk),
            "status": job.status,
            "stage": job.stage,
            "progress": int(job.progress),
            "seconds_left": None if (left := job.seconds_left) is None else float(left),
            "attempts": int(job.attempts),
            "reused_from": None if job.reused_from_id is None else str(job.reused_from_id),
            "options": caption_options_output(job),
            "media": {
                "kind": asset.kind,
                "content_type": asset.content_type,
                "size_bytes": int(asset.size_bytes),
                "duration_seconds": (None if asset.duration_seconds is None
                                     else float(asset.duration_seconds)),
                "original_name": asset.original_name,
            },
            "error": ({"code": job.error_code, "message": job.error_message}
                      if failed else None),
            "timings": {
                "created_at": _when(job.created_at, tz),
                "updated_at": _when(job.updated_at, tz),
                "started_at": _when(job.started_at, tz),
                "finished_at": _when(job.finished_at, tz),
                "stage_seconds": {str(k): float(v) for k, v in job.stage_seconds.items()},
            },
            "cost": {"amount_micro_usd": job.cost_micro_usd, "input_tokens": job.input_tokens,
                     "output_tokens": job.output_tokens, "currency": "USD"},
            "speech_to_text": selectors.caption_job_speech_to_text(job=job),
            "links": {"self": url, "transcript": f"{url}transcript.json",
                      "captions": f"{url}captions/"},
        })
    return out


def _job_data(request, job: CaptionJob) -> dict:
    return _jobs_data(request, [job])[0]


JOB_PATH_PARAM = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


# --- Jobs ------------------------------------------------------------------------------------


class JobListCreateApi(APIView):
    parser_classes = [MultiPartParser]

    class JobFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
        created_after = serializers.DateTimeField(
            required=False, help_text="Jobs created at or after this time (ISO 8601)."
        )
        created_before = serializers.DateTimeField(
            required=False, help_text="Jobs created before this time (ISO 8601)."
        )

    class JobSubmitSerializer(CaptionOptionsSerializer):
        file = serializers.FileField(
            help_text="Audio, video or an image, up to the plan's size limit.",
        )
        fresh = serializers.BooleanField(
            required=False, default=False,
            help_text="Run the job even if the same file was captioned with the same "
            "options before. Otherwise that earlier result is returned at once, at no "
            "charge, as a finished job whose `reused_from` names the earlier job.",
        )

    class Pagination(CreatedCursorPagination):
        pass

    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        parameters=[JobFilterSerializer, RETRY_AFTER_HEADER],
        responses={200: paginated(JobOutputSerializer, "PaginatedJobList"),
                   **error_responses(400)},
    )
    def get(self, request):
        filters = self.JobFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        jobs = selectors.caption_job_pages(owner=request.user, **filters.validated_data)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(_jobs_data(request, page))

    @extend_schema(
        operation_id="jobs_create",
        summary="Submit a job with its file",
        description="Send the file as multipart/form-data with the caption options. The "
        "file is checked from its bytes: wrong types get 415, files over the limit 413.",
        request={"multipart/form-data": JobSubmitSerializer},
        parameters=[IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={201: JobOutputSerializer, **error_responses(400, 413, 415, 409, 422)},
    )
    @idempotent
    def post(self, request):
        data = self.JobSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.caption_job_submit(
            owner=request.user, upload=data.validated_data["file"],
            options=data.validated_data["options"], fresh=data.validated_data["fresh"],
        )
        return Response(_job_data(request, job), status=status.HTTP_201_CREATED,
                        headers={"Location": _api_url(request, job)})


class UploadCreateApi(APIView):
    parser_classes = [JSONParser]

    class UploadStartSerializer(serializers.Serializer):
        filename = serializers.CharField(
            required=False, allow_blank=True, max_length=1000,
            help_text="The file's name, kept only for display.",
        )

    class UploadSerializer(serializers.Serializer):
        id = serializers.UUIDField(help_text="Pass as `upload_id` to create the job.")
        upload_url = serializers.URLField(help_text="PUT the file's bytes here.")
        method = serializers.CharField()
        expires_at = serializers.DateTimeField()
        max_bytes = serializers.IntegerField()

    @extend_schema(
        operation_id="uploads_create",
        summary="Start a direct upload",
        description="Step 1 of 2 for large files: returns a presigned URL. PUT the file "
        "there, then create the job with `POST /api/v1/jobs/from-upload/`.",
        request=UploadStartSerializer,
        parameters=[IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={201: UploadSerializer, **error_responses(400, 409, 415, 422)},
    )
    @idempotent
    def post(self, request):
        data = self.UploadStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload, url = services.direct_upload_create(
            owner=request.user, original_name=data.validated_data.get("filename", "")
        )
        out = {"id": upload.pk, "upload_url": url, "method": "PUT",
               "expires_at": upload.expires_at,
               "max_bytes": settings.CAPTIONS_MAX_UPLOAD_BYTES}
        return Response(self.UploadSerializer(out).data, status=status.HTTP_201_CREATED)


class JobFromUploadApi(APIView):
    parser_classes = [JSONParser]

    class JobFromUploadSerializer(CaptionOptionsSerializer):
        upload_id = serializers.UUIDField()

    @extend_schema(
        operation_id="jobs_create_from_upload",
        summary="Submit a job from a direct upload",
        description="Step 2 of 2: the uploaded object is checked from its bytes (413, 415) "
        "before the job is created; a rejected object is deleted.",
        request=JobFromUploadSerializer,
        parameters=[IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={201: JobOutputSerializer, **error_responses(400, 404, 409, 413, 415, 422)},
    )
    @idempotent
    def post(self, request):
        data = self.JobFromUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.caption_job_submit_from_upload(
            owner=request.user, upload_id=data.validated_data["upload_id"],
            options=data.validated_data["options"],
        )
        return Response(_job_data(request, job), status=status.HTTP_201_CREATED,
                        headers={"Location": _api_url(request, job)})


class JobDetailApi(APIView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get a job",
        parameters=[JOB_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: JobOutputSerializer, **error_responses(404)},
    )
    def get(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        return Response(_job_data(request, job))

    @extend_schema(
        operation_id="jobs_destroy",
        summary="Delete a job, its media and its results",
        description="A queued or running job is cancelled first.",
        parameters=[JOB_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(404)},
    )
    def delete(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        services.caption_job_delete(job=job, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _JobActionApi(APIView):
    transition = None

    @idempotent
    def post(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        job = type(self).transition(job=job, actor=request.user)
        return Response(_job_data(request, job))


_ACTION_RESPONSES = {200: JobOutputSerializer, **error_responses(400, 404, 409, 422)}


@extend_schema_view(post=extend_schema(
    operation_id="jobs_cancel", summary="Cancel a queued or running job", request=None,
    parameters=[JOB_PATH_PARAM, IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
    responses=_ACTION_RESPONSES,
))
class JobCancelApi(_JobActionApi):
    transition = staticmethod(services.caption_job_cancel)


@extend_schema_view(post=extend_schema(
    operation_id="jobs_retry", summary="Retry a failed job", request=None,
    parameters=[JOB_PATH_PARAM, IDEMPOTENCY_KEY_HEADER, RETRY_AFTER_HEADER],
    responses=_ACTION_RESPONSES,
))
class JobRetryApi(_JobActionApi):
    transition = staticmethod(services.caption_job_retry)


# --- Results ---------------------------------------------------------------------------------


class TranscriptJsonSerializer(serializers.Serializer):
    class TranscriptSegmentSerializer(serializers.Serializer):
        class WordSerializer(serializers.Serializer):
            start = serializers.FloatField()
            end = serializers.FloatField()
            word = serializers.CharField(allow_blank=True)

        start = serializers.FloatField(help_text="Seconds from the start.")
        end = serializers.FloatField()
        text = serializers.CharField(allow_blank=True)
        words = WordSerializer(many=True, required=False,
                               help_text="Only for jobs with word timestamps.")

    language = serializers.CharField(allow_blank=True)
    duration_seconds = serializers.FloatField()
    text = serializers.CharField(allow_blank=True)
    segments = TranscriptSegmentSerializer(many=True)
    engine = serializers.DictField(
        required=False, help_text="Model, checkpoint sha256 and decoding options used."
    )


class TranscriptApi(APIView):
    @extend_schema(
        operation_id="jobs_transcript",
        summary="Download the transcript",
        description="`txt`, `srt`, `vtt`, `json` (segments with times) or `tsv` "
        "(start and end in milliseconds). Served as an attachment.",
        parameters=[
            JOB_PATH_PARAM,
            OpenApiParameter("export_format", str, OpenApiParameter.PATH,
                             enum=list(TRANSCRIPT_FORMATS)),
            RETRY_AFTER_HEADER,
        ],
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/x-subrip"): OpenApiTypes.STR,
            (200, "text/vtt"): OpenApiTypes.STR,
            (200, "text/tab-separated-values"): OpenApiTypes.STR,
            (200, "application/json"): TranscriptJsonSerializer,
            **error_responses(404, 409),
        },
    )
    def get(self, request, job_id, export_format):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        if not job.is_final:
            raise ApplicationError("The job has not finished yet.",
                                   code="transcript_not_ready", status=409)
        transcript = selectors.caption_job_transcript(job=job)
        if transcript is None:
            raise ApplicationError(
                "This job has no transcript: it failed, was cancelled, or its media has no "
                "speech.", code="no_transcript", status=404,
            )
        # The same files as the web page's downloads, with the job's subtitle limits.
        body, content_type = selectors.transcript_export(
            job=job, transcript=transcript, fmt=export_format
        )
        response = HttpResponse(body.encode(), content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(
            True, transcript_export_filename(job=job, fmt=export_format))
        response["X-Content-Type-Options"] = "nosniff"
        return response


class CaptionsApi(APIView):
    class JobCaptionsSerializer(serializers.Serializer):
        class CaptionVariantSerializer(serializers.Serializer):
            position = serializers.IntegerField()
            text = serializers.CharField()
            writer = serializers.CharField()
            offline_draft = serializers.BooleanField(
                source="is_offline_draft",
                help_text="Written by the offline fallback, not by the AI writer.",
            )

        job_id = serializers.UUIDField(source="id")
        status = serializers.ChoiceField(choices=JobStatus.choices)
        captions = CaptionVariantSerializer(many=True, source="caption_list")

    @extend_schema(
        operation_id="jobs_captions",
        summary="Get the captions written for a job",
        description="Empty until the job is done.",
        parameters=[JOB_PATH_PARAM, RETRY_AFTER_HEADER],
        responses={200: JobCaptionsSerializer, **error_responses(404)},
    )
    def get(self, request, job_id):
        job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
        job.caption_list = list(selectors.caption_job_captions(job=job))
        return Response(self.JobCaptionsSerializer(job).data)
