"""The finished job's page in a real browser: play from a line, see it highlighted, copy a
caption; at phone width too. Debian's Chromium via Playwright, as in tests/test_browser.py."""

import pytest
from django.core.files.base import ContentFile

from captions.showcase import SEGMENTS
from tests.factories import CaptionVariantFactory, MediaAssetFactory, TranscriptFactory
from tests.test_browser import browser, log_in_new_customer, watch_csp  # noqa: F401
from tests.test_phone_layout import PHONE, assert_fits

pytestmark = pytest.mark.django_db(transaction=True)


def test_click_a_line_to_play_from_it_and_copy_a_caption(
        browser, live_server, shared_media):  # noqa: F811
    context = browser.new_context(viewport=PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    refused = watch_csp(page)
    user = log_in_new_customer(page, live_server, "player@example.com")
    audio = (shared_media / "jfk.flac").read_bytes()
    asset = MediaAssetFactory(owner=user, original_name="jfk.flac", content_type="audio/flac",
                              file=ContentFile(audio, name="jfk.flac"), size_bytes=len(audio),
                              duration_seconds=11.0)
    job = TranscriptFactory(job__owner=user, job__asset=asset, segments=SEGMENTS,
                            text=" ".join(s["text"] for s in SEGMENTS),
                            duration_seconds=11.0).job
    CaptionVariantFactory(job=job, text="Ask what you can do for your country.")

    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    # The browser loaded the recording from its presigned URL (the CSP let it).
    page.wait_for_function("document.getElementById('player').duration > 10", timeout=15_000)
    second = page.locator("#transcript .segments li").nth(1)
    second.locator("text=ask what you can do").click()
    page.wait_for_function(
        "document.getElementById('player').currentTime >= 7.4", timeout=10_000)
    page.wait_for_selector("#transcript .segments li.current[aria-current=true]")
    assert "ask what you can do" in page.text_content("#transcript li.current")
    # From the keyboard: the first line's time is a button.
    page.focus("#transcript li:first-child button.seek")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('player').currentTime < 7.4")

    page.click("button.copy")
    page.wait_for_selector("button.copy:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == (
        "Ask what you can do for your country.")
    assert_fits(page, "job-player")

    # Edit a word, then download the subtitles with the edit in them.
    page.click("text=Correct words")
    assert_fits(page, "transcript-edit")
    page.fill("#id_line_1", "ask what you can do for your nation.")
    page.click("text=Save corrections")
    page.wait_for_selector("text=Your corrections are saved")
    with page.expect_download() as download:
        page.click("text=Subtitles .srt")
    assert download.value.suggested_filename == "jfk.srt"
    subtitles = open(download.value.path()).read()
    assert "for your nation." in subtitles and "07,420 --> 00:00:10,360" in subtitles
    assert refused == []


def test_a_video_shows_its_key_frame_before_it_plays_and_on_the_dashboard(
        browser, live_server, shared_media):  # noqa: F811
    from captions.services.previews import media_asset_preview_make

    page = browser.new_page(viewport=PHONE)
    refused = watch_csp(page)
    user = log_in_new_customer(page, live_server, "video-preview@example.com")
    path = shared_media / "auto_editor_example.mp4"
    asset = MediaAssetFactory(owner=user, kind="video", original_name="launch-talk.mp4",
                              content_type="video/mp4", duration_seconds=42.6,
                              file=ContentFile(path.read_bytes(), name="talk.mp4"))
    assert media_asset_preview_make(asset=asset, path=str(path), duration=42.6)
    job = TranscriptFactory(job__owner=user, job__asset=asset, segments=SEGMENTS,
                            text=" ".join(s["text"] for s in SEGMENTS)).job

    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    poster = page.get_attribute("#player", "poster")
    assert poster
    # The browser loads the still from its presigned URL (the CSP lets it).
    size = page.evaluate("""url => new Promise(done => {
        const still = new Image();
        still.onload = () => done([still.naturalWidth, still.naturalHeight]);
        still.onerror = () => done(null);
        still.src = url;
    })""", poster)
    assert size and 0 < size[0] <= 640
    assert_fits(page, "job-video-poster")

    page.goto(f"{live_server.url}/")
    page.wait_for_function("document.querySelector('img.thumb')?.naturalWidth > 0",
                           timeout=10_000)
    assert_fits(page, "dashboard-with-preview")
    assert refused == []
