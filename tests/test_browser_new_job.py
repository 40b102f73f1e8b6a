"""The new-job form in a real browser: no progress before an upload, no native file
button, subtitle timing folded away, and a video refused on Free before it is sent."""

import pytest

from captions.models import CaptionJob
from tests.factories import SubscriptionFactory
from tests.test_browser import DROP_FILE, browser, log_in_new_customer, watch_csp  # noqa: F401
from tests.test_phone_layout import PHONE, assert_fits

pytestmark = pytest.mark.django_db(transaction=True)

# The drop of tests/test_browser.py, typed video/mp4 for a name ending in .mp4.
DROP_VIDEO = DROP_FILE.replace("'audio/flac'", "name.endsWith('.mp4') ? 'video/mp4' : 'audio/flac'")


def test_free_customer_is_refused_a_video_before_anything_is_sent(
        browser, live_server):  # noqa: F811
    page = browser.new_page(viewport=PHONE)
    refused = watch_csp(page)
    log_in_new_customer(page, live_server, "free-video@example.com")
    page.goto(f"{live_server.url}/jobs/new/")
    assert_fits(page, "job-new-form")
    # Nothing about progress before an upload, and no native "Choose File" button.
    assert not page.is_visible("#upload-percent") and not page.is_visible("#upload-progress")
    box = page.locator("#id_file").bounding_box()  # kept for keyboards and screen readers
    assert box["width"] <= 1 and box["height"] <= 1
    assert page.get_attribute("#id_file", "accept") == "audio/*,image/*"
    # Subtitle timing is folded away until asked for.
    assert not page.is_visible("#id_subtitle_max_lines")
    page.click("#subtitle-timing summary")
    assert page.is_visible("#id_subtitle_max_lines")

    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    data_transfer = page.evaluate_handle(DROP_VIDEO, ["AAAAGGZ0eXBtcDQy", "holiday.mp4"])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": data_transfer})
    page.wait_for_selector("#form-errors p")
    assert "Video uploads are not part of the Free plan" in page.text_content("#form-errors")
    page.click("#submit-button")
    assert "Video uploads are not part of the Free plan" in page.text_content("#form-errors")
    assert posts == [] and not page.is_visible("#upload-progress")
    assert not CaptionJob.objects.exists()
    assert refused == []


def test_a_plan_with_video_offers_video_in_the_file_picker(browser, live_server):  # noqa: F811
    page = browser.new_page()
    user = log_in_new_customer(page, live_server, "creator-video@example.com")
    SubscriptionFactory(user=user, plan_code="creator")
    page.goto(f"{live_server.url}/jobs/new/")
    assert page.get_attribute("#id_file", "accept") == "audio/*,video/*,image/*"
    data_transfer = page.evaluate_handle(DROP_VIDEO, ["AAAAGGZ0eXBtcDQy", "holiday.mp4"])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": data_transfer})
    assert page.text_content("#dz-file") == "holiday.mp4"
    assert page.text_content("#form-errors").strip() == ""


def test_an_option_out_of_range_is_shown_beside_it_even_when_folded(
        browser, live_server, shared_media):  # noqa: F811
    import base64

    page = browser.new_page()
    log_in_new_customer(page, live_server, "limits@example.com")
    page.goto(f"{live_server.url}/jobs/new/")
    page.click("#subtitle-timing summary")
    page.fill("#id_subtitle_max_lines", "99")
    page.click("#subtitle-timing summary")  # folded again before sending
    payload = base64.b64encode((shared_media / "jfk.flac").read_bytes()).decode()
    data_transfer = page.evaluate_handle(DROP_FILE, [payload, "jfk.flac"])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": data_transfer})
    page.click("#submit-button")
    page.wait_for_selector("#id_subtitle_max_lines-error")
    assert page.is_visible("#id_subtitle_max_lines-error")  # the section opened itself
    assert page.get_attribute("#id_subtitle_max_lines", "aria-invalid") == "true"
    assert page.text_content("#form-errors").strip()
    assert not CaptionJob.objects.exists()
