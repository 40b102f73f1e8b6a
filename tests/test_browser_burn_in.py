"""Burned-in captions in a real browser: choose a style on the job page, watch it render on
a real Celery worker, download the MP4; at phone width, with the page's CSP enforced.
Debian's Chromium via Playwright, as in tests/test_browser.py."""

import json
import subprocess

import pytest

from captions.models import BurnInExport
from tests.captions.test_burn_in import clip, video_job  # noqa: F401 - the clip fixture
from tests.factories import SubscriptionFactory
from tests.test_browser import browser, log_in_new_customer, watch_csp  # noqa: F401
from tests.test_phone_layout import PHONE, SCREENSHOTS, assert_fits

pytestmark = pytest.mark.django_db(transaction=True)


def test_customer_burns_captions_into_a_video_and_downloads_it(
        browser, live_server, clip, celery_worker_thread):  # noqa: F811
    page = browser.new_page(viewport=PHONE)
    refused = watch_csp(page)
    user = log_in_new_customer(page, live_server, "burner@example.com")
    SubscriptionFactory(user=user, plan_code="creator")
    job = video_job(user, clip, platform="tiktok")

    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    assert page.input_value("#id_aspect") == "9:16"  # the job's platform's shape
    page.select_option("#id_font_size", "large")
    page.click("#burn-in-submit")
    page.wait_for_selector("text=Burning the captions into your video")
    # The page follows the rendering on its own and shows the download when it is ready.
    link = page.wait_for_selector("#burn-in a:has-text('Download 324×576 MP4')",
                                  timeout=90_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    link.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "phone-burn-in-ready.png"))
    assert_fits(page, "burn-in")
    export = BurnInExport.objects.get(job=job)
    assert (export.status, export.font_size, export.aspect) == ("done", "large", "9:16")

    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "interview-captioned.mp4"
    probed = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", download.value.path()],
        check=True, capture_output=True, timeout=30).stdout)
    video = next(s for s in probed["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 324, 576)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#burn-in").screenshot(path=str(SCREENSHOTS / "desktop-burn-in.png"))
    assert refused == []
