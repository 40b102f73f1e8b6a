"""Every response carries a Content-Security-Policy, and no page needs it loosened.

The policy (config/settings/base.py) lets scripts and styles come only from our own
origin, so the pages must carry none inline: no <script> body, no onclick=, no style=.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import CaptionJobFactory, TranscriptFactory, UserFactory
from tests.helpers import bearer_client
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
# <script> elements that hold data, which a browser never runs (json_script, allauth's).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


def policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(response) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts, handlers and styles."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._script_without_src = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip(
            ).lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            self._script_without_src = (
                "src" not in attributes
                and (attributes.get("type") or "").lower() not in DATA_SCRIPT_TYPES
            )

    def handle_data(self, data):
        if self._script_without_src and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_without_src = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def customer(api_plan, user):
    return user


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def done_job(customer):
    return TranscriptFactory(job__owner=customer, job__asset__owner=customer).job


@pytest.fixture
def endpoint_with_a_failed_delivery(customer):
    endpoint = WebhookEndpoint.objects.create(owner=customer, url="https://example.com/hook",
                                              events=["job.failed"], secret="whsec_x")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="job.failed",
                                              payload={}, status="failed", attempt_count=1)
    WebhookAttempt.objects.create(delivery=delivery, number=1, response_status=500,
                                  error="The endpoint answered HTTP 500.")
    return endpoint


@pytest.fixture
def staff_client(db):
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    return staff


def test_a_page_the_admin_login_and_an_api_response_all_send_the_policy(
    customer_client, customer, make_key
):
    assert_strict(customer_client.get("/"))
    assert_strict(Client().get("/admin/login/"))
    assert_strict(Client().get("/accounts/login/"))
    api_answer = bearer_client(make_key(customer)[1]).get("/api/v1/jobs/")
    assert api_answer.status_code == 200
    assert_strict(api_answer)
    refused = Client().get("/api/v1/jobs/")
    assert refused.status_code == 401
    assert_strict(refused)


def test_the_site_cannot_be_framed_by_another_site(customer_client):
    response = customer_client.get("/jobs/new/")
    assert policy(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_an_inline_script_handler_or_style():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert templates
    found = {}
    for path in templates:
        source = path.read_text()
        problems = inline_code(source)
        # Handlers written across template tags, e.g. onclick="{{ ... }}".
        problems += re.findall(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", source)
        if problems:
            found[str(path.relative_to(ROOT))] = problems
    assert found == {}


def test_customer_pages_render_without_inline_code(
    customer_client, done_job, endpoint_with_a_failed_delivery
):
    pages = ["/", "/jobs/new/", f"/jobs/{done_job.pk}/", "/billing/", "/settings/account/",
             "/settings/api-keys/",
             "/settings/webhooks/", f"/settings/webhooks/{endpoint_with_a_failed_delivery.pk}/"]
    found = {}
    for path in pages:
        response = customer_client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if problems := inline_code(response.content.decode()):
            found[path] = problems
    assert found == {}


def test_account_pages_render_without_inline_code(client):
    found = {}
    for path in ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if problems := inline_code(response.content.decode()):
            found[path] = problems
    assert found == {}


def test_admin_pages_render_without_inline_code(staff_client):
    job = CaptionJobFactory()
    pages = ["/admin/login/", "/admin/", "/admin/captions/captionjob/",
             f"/admin/captions/captionjob/{job.pk}/change/", "/admin/billing/subscription/",
             "/admin/billing/costcapoverride/add/", "/admin/webhooks/webhookdelivery/",
             "/admin/accounts/user/"]
    found = {}
    for path in pages:
        response = (Client() if path == "/admin/login/" else staff_client).get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if problems := inline_code(response.content.decode()):
            found[path] = problems
    assert found == {}


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_their_viewer_from_our_origin_and_run_no_inline_script(client, path):
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert [p for p in inline_code(response.content.decode())
            if p.startswith("inline <script>")] == []


def test_swagger_start_up_script_is_served_as_a_file(client):
    page = client.get("/api/docs/").content.decode()
    src = re.search(r'<script src="(/api/docs/\?[^"]*)"', page).group(1)
    script = client.get(src.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
