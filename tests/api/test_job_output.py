"""The job resource is built as plain dicts in one pass per page: exactly what the
declared ``JobOutputSerializer`` (the OpenAPI schema's shape) renders, job by job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from captions.api.views import JobOutputSerializer, _jobs_data
from captions.models import JobStatus
from tests.factories import CaptionJobFactory, MediaAssetFactory

pytestmark = pytest.mark.django_db


def _jobs(user):
    now = timezone.now()
    return [
        CaptionJobFactory(owner=user),
        CaptionJobFactory(owner=user, status=JobStatus.FAILED, error_code="media_unreadable",
                          error_message="The file could not be decoded.", attempts=3,
                          started_at=now - timedelta(seconds=9), finished_at=now),
        CaptionJobFactory(owner=user, status=JobStatus.DONE, progress=100, tone="funny",
                          platform="tiktok", language="de", variant_count=5, hashtags=False,
                          emoji=False, custom_instruction="Mention the café ☕",
                          word_timestamps=True, subtitle_max_lines=1,
                          stage_seconds={"transcribing": 2, "writing": 0.25},
                          input_tokens=900, output_tokens=120, cost_micro_usd=4321,
                          asset=MediaAssetFactory(owner=user, duration_seconds=None,
                                                  original_name="", kind="image",
                                                  content_type="image/png"),
                          started_at=now - timedelta(seconds=3), finished_at=now),
    ]


def test_each_job_renders_as_its_declared_serializer_does(user):
    request = APIRequestFactory().get("/api/v1/jobs/", HTTP_X_FORWARDED_PROTO="https")
    jobs = _jobs(user)
    fast = _jobs_data(request, jobs)
    declared = [JobOutputSerializer(job, context={"request": request}).data for job in jobs]
    # Compared as JSON values: the API renders both with the same JSON renderer.
    assert [dict(d) for d in fast] == [_plain(d) for d in declared]
    assert fast[1]["error"] == {"code": "media_unreadable",
                                "message": "The file could not be decoded."}
    assert fast[0]["error"] is None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_a_page_of_the_list_renders_every_job(api, user):
    created = {str(j.pk) for j in _jobs(user)}
    body = api.get("/api/v1/jobs/").json()
    assert {item["id"] for item in body["results"]} == created
    failed = next(item for item in body["results"] if item["status"] == "failed")
    assert failed["error"]["code"] == "media_unreadable"
    assert failed["links"]["self"].endswith(f"/api/v1/jobs/{failed['id']}/")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_times_render_as_the_declared_serializer_does_in_any_current_time_zone(user, zone):
    request = APIRequestFactory().get("/api/v1/jobs/", HTTP_X_FORWARDED_PROTO="https")
    jobs = _jobs(user)
    with timezone.override(zone):
        fast = [job["timings"] for job in _jobs_data(request, jobs)]
        declared = [_plain(JobOutputSerializer(job, context={"request": request})
                           .data["timings"]) for job in jobs]
    assert fast == declared
    # In UTC the offset is written "Z"; elsewhere as the zone's offset at that moment.
    assert fast[1]["finished_at"].endswith("Z") == (zone == "UTC")
