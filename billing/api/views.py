"""The public API for usage and quotas."""

from datetime import UTC, datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import RETRY_AFTER_HEADER, error_responses
from billing import quotas as billing_quotas
from captions import selectors as caption_selectors


class UsageQuotasSerializer(serializers.Serializer):
    """The plan's quotas and what is used of each (GET /api/v1/usage)."""

    class PlanSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()

    class PeriodSerializer(serializers.Serializer):
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()

    class AudioSerializer(serializers.Serializer):
        included = serializers.IntegerField(help_text="Audio seconds the plan includes.")
        used = serializers.IntegerField(help_text="Audio seconds used this period.")
        held = serializers.IntegerField(
            help_text="Audio seconds held by queued and running jobs (counted against the "
            "included minutes until they finish).")
        overage = serializers.IntegerField(help_text="Seconds beyond the included ones.")
        overage_allowed = serializers.BooleanField()

    class JobsSerializer(serializers.Serializer):
        allowed = serializers.IntegerField(help_text="Jobs allowed per rolling hour.")
        used = serializers.IntegerField(help_text="Jobs submitted in the last 60 minutes.")

    class CostSerializer(serializers.Serializer):
        window_start = serializers.DateTimeField(help_text="The clock hour (UTC).")
        window_end = serializers.DateTimeField(help_text="When the cap resets.")
        cap_micros = serializers.IntegerField(help_text="Hourly AI cost cap, micro-USD.")
        settled_micros = serializers.IntegerField(help_text="Spent this hour.")
        reserved_micros = serializers.IntegerField(
            help_text="Held for calls in progress."
        )

    plan = PlanSerializer()
    billing_period = PeriodSerializer()
    audio_seconds = AudioSerializer()
    jobs_last_hour = JobsSerializer()
    cost_this_hour = CostSerializer()
    max_upload_bytes = serializers.IntegerField()
    max_media_seconds = serializers.IntegerField()



class UsageApi(APIView):
    class UsageSerializer(serializers.Serializer):
        period_start = serializers.DateTimeField()
        period_end = serializers.DateTimeField()
        jobs_submitted = serializers.IntegerField()
        jobs_completed = serializers.IntegerField()
        jobs_failed = serializers.IntegerField()
        audio_seconds = serializers.FloatField(
            help_text="Seconds of media transcribed by jobs finished in the period."
        )
        audio_seconds_by_engine = serializers.DictField(
            child=serializers.FloatField(),
            help_text="The same seconds per speech-to-text engine (self_hosted, managed).",
        )
        quotas = UsageQuotasSerializer()

    @extend_schema(
        operation_id="usage_retrieve",
        summary="This calendar month's usage (UTC)",
        parameters=[RETRY_AFTER_HEADER],
        responses={200: UsageSerializer, **error_responses()},
    )
    def get(self, request):
        now = timezone.now()
        start = datetime(now.year, now.month, 1, tzinfo=UTC)
        end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        usage = caption_selectors.usage_for_owner(owner=request.user, since=start, until=end)
        quotas = billing_quotas.quota_usage(user=request.user, now=now)
        return Response(
            self.UsageSerializer(
                {"period_start": start, "period_end": end, "quotas": quotas, **usage}
            ).data
        )

