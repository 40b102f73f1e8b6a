"""A property-based run against the live OpenAPI schema: no 5xx, no response off the schema.

Path ids point at real objects of the caller (a finished job with results, a webhook
endpoint), so the run checks real 200 bodies as well as every error answer.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import CaptionVariantFactory, TranscriptFactory
from webhooks.models import WebhookEndpoint

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def _live_schema() -> dict:
    from django.test import Client

    response = Client(HTTP_HOST="localhost").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return response.json()


# The schema as the running app serves it (fetched once, at collection).
schema = schemathesis.openapi.from_dict(_live_schema())


@pytest.fixture
def wsgi_app(db):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_answers_match_the_schema(case, wsgi_app, user, make_key):
    _, secret = make_key(user)
    if "job_id" in case.path_parameters:
        job = TranscriptFactory(job__owner=user).job
        CaptionVariantFactory(job=job)
        case.path_parameters["job_id"] = str(job.pk)
    if "endpoint_id" in case.path_parameters:
        endpoint = WebhookEndpoint.objects.create(
            owner=user, url="http://127.0.0.1:9/closed", events=["job.completed"],
            secret="whsec_x",
        )
        case.path_parameters["endpoint_id"] = str(endpoint.pk)
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {secret}"},
                          checks=CHECKS)
