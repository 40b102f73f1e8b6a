"""Registering endpoints safely (SSRF), test pings, redirects, and the signature format."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from webhooks import services, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://192.168.1.20/hook",
        "http://172.16.0.5/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[fe80::1]/hook",
        "http://2130706433/hook",
    ],
)
def test_urls_at_internal_addresses_are_refused_outside_the_test_setting(api, settings, url):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400, (url, response.content)
    body = response.json()
    assert body["code"] in ("invalid_webhook_url", "invalid"), body
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd",
                                 "gopher://127.0.0.1:6379/_FLUSHALL",
                                 "http://user:pw@203.0.113.9/", "http://no-such-host.invalid/"])
def test_non_http_urls_credentials_and_unresolvable_hosts_are_refused(api, url):
    response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400, url


def test_metadata_address_is_refused_even_when_loopback_is_allowed(api, settings):
    assert settings.WEBHOOKS_ALLOW_LOOPBACK
    response = api.post("/api/v1/webhooks/", {"url": "http://169.254.169.254/"}, format="json")
    assert response.status_code == 400
    assert "metadata" in response.json()["message"]


def test_a_public_address_passes_the_check():
    target = transport.resolve_target("https://93.184.215.14:8443/a?b=1", allow_loopback=False)
    assert (target.ip, target.port, target.path, target.host) == (
        "93.184.215.14", 8443, "/a?b=1", "93.184.215.14"
    )


def test_delivery_rechecks_the_address_and_never_connects_to_a_refused_one(
    user, receiver, settings
):
    endpoint = services.webhook_endpoint_create(owner=user, url=receiver.url)
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    delivery = services.webhook_ping(endpoint=endpoint)
    assert delivery.status == "failed"
    attempt = delivery.attempts.get()
    assert attempt.error.startswith("Refused:") and "loopback" in attempt.error
    assert attempt.response_status is None
    assert receiver.requests == []


def test_ping_sends_one_signed_event_and_shows_the_answer(api, receiver):
    created = api.post("/api/v1/webhooks/", {"url": receiver.url, "description": "dev"},
                       format="json").json()
    assert created["events"] == ["job.completed", "job.failed"]
    response = api.post(f"/api/v1/webhooks/{created['id']}/ping/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event_type"] == "ping" and body["status"] == "succeeded"
    assert body["attempts"][0]["response_status"] == 200
    assert body["attempts"][0]["response_body"] == "ok"
    [request] = receiver.requests
    timestamp, signature = (p.split("=", 1)[1]
                            for p in request["headers"]["Caption-Signature"].split(","))
    expected = hmac.new(created["secret"].encode(), f"{timestamp}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    assert signature == expected


def test_failed_ping_is_logged_and_not_retried(api, receiver):
    receiver.statuses = [500]
    created = api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()
    body = api.post(f"/api/v1/webhooks/{created['id']}/ping/").json()
    assert body["status"] == "failed" and body["attempt_count"] == 1
    assert body["attempts"][0]["error"] == "The endpoint answered HTTP 500."
    assert body["attempts"][0]["response_body"] == "receiver says no"


def test_redirects_are_not_followed(api, receiver, settings):
    receiver.statuses = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    created = api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()
    body = api.post(f"/api/v1/webhooks/{created['id']}/ping/").json()
    assert body["status"] == "failed"
    assert body["attempts"][0]["response_status"] == 302
    assert "Redirects are not followed" in body["attempts"][0]["error"]
    assert len(receiver.requests) == 1


def test_unreachable_endpoint_is_logged_with_the_reason(user):
    endpoint = services.webhook_endpoint_create(owner=user, url="http://127.0.0.1:9/closed")
    delivery = services.webhook_ping(endpoint=endpoint)
    assert delivery.status == "failed"
    assert "Connection" in delivery.attempts.get().error


def test_delete_removes_the_endpoint_and_its_log(api, user, receiver):
    created = api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()
    api.post(f"/api/v1/webhooks/{created['id']}/ping/")
    assert api.delete(f"/api/v1/webhooks/{created['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert api.get(f"/api/v1/webhooks/{created['id']}/").status_code == 404


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":"1"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert services.webhook_signature(secret="whsec_k", timestamp=1700000000, body=body) == (
        f"t=1700000000,v1={expected}"
    )


def test_backoff_doubles_up_to_the_cap(settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOKS_BACKOFF_MAX_SECONDS = 3600
    delays = [services.webhook_retry_delay(attempt=n) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        base = min(30 * 2 ** (n - 1), 3600)
        assert base <= delay <= base * 1.1
