"""Every page fits a phone: at 390 px wide nothing scrolls sideways and "Log out" is on screen.

Debian's Chromium through Playwright, as in tests/test_browser.py. Each page is also
saved as a screenshot (var/screenshots/, or $SCREENSHOTS_DIR) for a person to look at.
"""

import os
from pathlib import Path

import pytest

from tests.factories import CaptionVariantFactory, SubscriptionFactory, TranscriptFactory
from tests.test_browser import browser, log_in_new_customer, watch_csp  # noqa: F401
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "var" / "screenshots"))
LONG_NAME = "interview-with-the-director-of-photography-final-cut-v3-2026.flac"


def overflow(page) -> dict:
    """How wide the document is, and the widest elements when it is wider than the screen."""
    return page.evaluate("""() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > width + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);
      return {scroll: document.documentElement.scrollWidth, wide};
    }""")


def assert_fits(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)
    measured = overflow(page)
    assert measured["scroll"] <= PHONE["width"], (name, measured)


@pytest.fixture
def customer_with_everything(browser, live_server):  # noqa: F811
    """A Studio customer with a finished job, captions, an API key and a webhook endpoint."""
    page = browser.new_page(viewport=PHONE)
    user = log_in_new_customer(page, live_server, "phone-customer-with-a-long-address@example.com")
    SubscriptionFactory(user=user, plan_code="studio")
    job = TranscriptFactory(job__owner=user, job__asset__owner=user,
                            job__asset__original_name=LONG_NAME).job
    CaptionVariantFactory(job=job, text="Ask not what your country can do for you — "
                                        "ask what you can do for your country. #history")
    from accounts import services as account_services

    account_services.api_key_create(user=user, name="A key with a rather long name for CI",
                                    scopes=["read", "write"])
    endpoint = WebhookEndpoint.objects.create(
        owner=user, url="https://hooks.example.com/a/very/long/path/for/caption-generator/jobs",
        events=["job.completed", "job.failed"], secret="whsec_x")
    return page, user, job, endpoint


def test_every_logged_in_page_fits_a_phone_and_log_out_is_on_screen(
    customer_with_everything, live_server
):
    page, user, job, endpoint = customer_with_everything
    refused = watch_csp(page)
    pages = {
        "dashboard": "/",
        "job-new": "/jobs/new/",
        "job-done": f"/jobs/{job.pk}/",
        "billing": "/billing/",
        "account": "/settings/account/",
        "account-delete": "/settings/account/delete/",
        "api-keys": "/settings/api-keys/",
        "webhooks": "/settings/webhooks/",
        "webhook-endpoint": f"/settings/webhooks/{endpoint.pk}/",
        "email": "/accounts/email/",
        "password": "/accounts/password/change/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        assert_fits(page, name)
        log_out = page.get_by_role("button", name="Log out")
        box = log_out.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
            name, box)
    # The same pages at desktop width, for a person to compare.
    page.set_viewport_size({"width": 1280, "height": 900})
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        page.screenshot(path=str(SCREENSHOTS / f"desktop-{name}.png"), full_page=True)
        assert overflow(page)["scroll"] <= 1280, name
    page.set_viewport_size(PHONE)
    # The account page leads to everything the customer set up.
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Account").click()
    page.wait_for_url(f"{live_server.url}/settings/account/")
    assert page.text_content("[data-testid=account-email]") == user.email
    assert page.text_content("[data-testid=account-plan]") == "Studio"
    for link in ("API keys", "Webhooks", "Change password"):
        assert page.get_by_role("link", name=link).is_visible()
    assert refused == []


def test_the_front_page_and_the_sign_in_pages_fit_a_phone(browser, live_server):  # noqa: F811
    page = browser.new_page(viewport=PHONE)
    for name, path in {"landing": "/", "login": "/accounts/login/", "signup": "/accounts/signup/",
                       "password-reset": "/accounts/password/reset/"}.items():
        page.goto(f"{live_server.url}{path}")
        assert_fits(page, name)


def test_the_front_page_at_desktop_width_has_no_sideways_scroll(browser, live_server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "desktop-landing.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
