"""A new customer's first visit, end to end in a real browser at phone width.

Landing page → sign up → the verification email (Django's outbox) → upload jfk.flac →
the job finishes on its own → play from a line → correct a word → download the SRT with
the correction. Each page is checked for sideways scroll at 390 px and saved as a
screenshot (var/screenshots/journey-*.png, or $SCREENSHOTS_DIR). Debian's Chromium via
Playwright, as in tests/test_browser.py.
"""

import re

import pytest
from django.core import mail

from captions.models import CaptionJob, JobStatus
from tests.test_browser import PASSWORD, browser, watch_csp  # noqa: F401
from tests.test_phone_layout import PHONE, assert_fits

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "first-visit@example.com"
VERIFY_LINK = re.compile(r"https?://\S+/accounts/confirm-email/\S+/")


def test_a_new_customer_signs_up_uploads_plays_corrects_and_downloads_at_phone_width(
        browser, live_server, shared_media, celery_worker_thread, settings,  # noqa: F811
        tmp_path):
    # Real speech needs real weights: tiny.en ships with the set-up, read offline.
    settings.WHISPER_MODEL = "tiny.en"
    settings.WHISPER_ALLOW_DOWNLOAD = False
    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path / "whisper")
    settings.WHISPER_SAMPLE_LEN = 224  # the product's default (the test settings cut it)
    page = browser.new_page(viewport=PHONE)
    refused = watch_csp(page)

    page.goto(f"{live_server.url}/")
    assert_fits(page, "journey-1-landing")
    page.locator("main").get_by_role("link", name="Start free").first.click()
    page.wait_for_url(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    assert_fits(page, "journey-2-signup")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))
    assert_fits(page, "journey-3-verify-sent")

    [message] = [m for m in mail.outbox if EMAIL in m.to]
    link = VERIFY_LINK.search(message.body).group(0)
    page.goto(link)
    assert_fits(page, "journey-4-confirm")
    page.click("main button[type=submit]")  # allauth confirms on POST, then logs in
    page.wait_for_url(f"{live_server.url}/")
    assert_fits(page, "journey-5-dashboard-empty")

    page.get_by_role("link", name="Upload media").first.click()
    page.wait_for_url(f"{live_server.url}/jobs/new/")
    page.set_input_files("#id_file", str(shared_media / "jfk.flac"))
    assert page.text_content("#dz-file") == "jfk.flac"
    assert_fits(page, "journey-6-job-new")
    page.click("#submit-button")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"), timeout=30_000)
    page.wait_for_selector("#job-status.status-done", timeout=120_000)
    page.wait_for_selector("#captions .caption")
    job = CaptionJob.objects.get(owner__email=EMAIL)
    assert job.status == JobStatus.DONE
    assert_fits(page, "journey-7-job-done")

    # Play from a line: the player jumps to it and the line is highlighted.
    lines = job.transcript.segments
    target = len(lines) - 1
    page.wait_for_function("document.getElementById('player').duration > 10", timeout=15_000)
    page.locator("#transcript .segments li").nth(target).locator(".text").click()
    page.wait_for_function(
        f"document.getElementById('player').currentTime >= {lines[target]['start'] - 0.05}",
        timeout=10_000)
    page.wait_for_selector("#transcript .segments li.current[aria-current=true]")

    # Correct a word ("country" becomes "nation"), then download the subtitles with it.
    page.click("text=Correct words")
    [line] = [i for i, s in enumerate(lines) if "country" in s["text"].lower()][:1]
    field = f"#id_line_{line}"
    before = page.input_value(field)
    assert "country" in before.lower(), before
    corrected = re.sub(r"(?i)country", "nation", before)
    page.fill(field, corrected)
    assert_fits(page, "journey-8-correct-words")
    page.click("text=Save corrections")
    page.wait_for_selector("text=Your corrections are saved")
    with page.expect_download() as download:
        page.click("text=Subtitles .srt")
    assert download.value.suggested_filename == "jfk.srt"
    subtitles = open(download.value.path(), encoding="utf-8").read()
    timings = re.findall(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", subtitles, re.M)
    assert len(timings) >= len(lines), subtitles
    # The corrected line may be cut into several cues: read the cues' words in order.
    spoken = " ".join(line for line in subtitles.splitlines()
                      if line and not line.isdigit() and "-->" not in line)
    assert " ".join(corrected.split()) in spoken, subtitles
    # Only that line changed: the other lines keep their "country".
    others = sum(s["text"].lower().count("country") for s in lines) - before.lower().count(
        "country")
    assert spoken.lower().count("country") == others, subtitles
    assert refused == []
