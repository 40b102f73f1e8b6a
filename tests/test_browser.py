"""The upload page and the job page in a real browser (Debian's Chromium via Playwright).

Drag a recording onto the drop zone, watch the upload progress bar fill, and see the
job page move to "Done" on its own, with the transcript and captions shown.
"""

import base64
import re
import shutil

import pytest
from allauth.account.models import EmailAddress

from captions.models import CaptionJob
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"

# Records the highest value the upload progress bar showed, across the redirect.
RECORD_PROGRESS = """
setInterval(() => {
  const bar = document.getElementById('upload-progress');
  if (bar && bar.value > Number(sessionStorage.getItem('maxProgress') || 0)) {
    sessionStorage.setItem('maxProgress', String(bar.value));
  }
}, 2);
"""

DROP_FILE = """
([b64, name]) => {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: 'audio/flac'}));
  return dt;
}
"""


def watch_csp(page) -> list[str]:
    """What the page's Content-Security-Policy refused, as Chromium reports it."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def log_in_new_customer(page, live_server, email: str):
    """A verified customer, logged in through the login form in ``page``."""
    user = UserFactory(email=email)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return user


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # test itself makes here are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium package is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


def test_drag_and_drop_upload_shows_progress_and_the_job_page_updates_live(
    browser, live_server, shared_media, celery_worker_thread, tmp_path
):
    page = browser.new_page()
    refused = watch_csp(page)
    page.add_init_script(RECORD_PROGRESS)
    user = log_in_new_customer(page, live_server, "browser@example.com")

    page.goto(f"{live_server.url}/jobs/new/")
    payload = base64.b64encode((shared_media / "jfk.flac").read_bytes()).decode()
    data_transfer = page.evaluate_handle(DROP_FILE, [payload, "jfk.flac"])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": data_transfer})
    assert page.text_content("#dz-file") == "jfk.flac"
    page.select_option("#id_tone", "professional")
    page.select_option("#id_platform", "youtube")
    page.click("#submit-button")

    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"), timeout=30_000)
    job = CaptionJob.objects.get(owner=user)
    assert page.url == f"{live_server.url}/jobs/{job.pk}/"
    # The status badge changes without the test reloading the page.
    page.wait_for_selector("#job-status.status-done", timeout=120_000)
    page.wait_for_selector("#captions .caption")
    assert float(page.evaluate("sessionStorage.getItem('maxProgress')")) == 100
    assert "Offline draft" in page.text_content("#captions")
    assert page.locator("#transcript .segments li").count() >= 1
    assert job.tone == "professional" and job.platform == "youtube"
    page.screenshot(path=str(tmp_path / "job-done.png"), full_page=True)
    assert refused == []


def test_upload_of_a_disguised_file_shows_the_reason_on_the_page(browser, live_server):
    page = browser.new_page()
    refused = watch_csp(page)
    log_in_new_customer(page, live_server, "browser2@example.com")
    page.goto(f"{live_server.url}/jobs/new/")
    page.set_input_files("#id_file", files=[{"name": "song.mp3", "mimeType": "audio/mpeg",
                                             "buffer": b"<?php echo 1; ?>"}])
    page.click("#submit-button")
    page.wait_for_selector("#form-errors p")
    assert "not audio, video or an image" in page.text_content("#form-errors")
    assert page.url == f"{live_server.url}/jobs/new/"
    assert not CaptionJob.objects.exists()
    assert refused == []


def test_staff_use_the_admins_scripts_under_the_content_security_policy(browser, live_server):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    UserFactory(email="capped-customer@example.com")
    page = browser.new_page()
    refused = watch_csp(page)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # The autocomplete widget (jQuery and Select2) asks the server as the agent types.
    page.goto(f"{live_server.url}/admin/billing/costcapoverride/add/")
    page.click(".select2-selection")
    page.fill(".select2-search__field", "capped")
    page.wait_for_selector(".select2-results__option:has-text('capped-customer@example.com')")

    # The change list's "select all" box is actions.js at work.
    page.goto(f"{live_server.url}/admin/accounts/user/")
    page.check("#action-toggle")
    assert "2 of 2 selected" in page.text_content(".action-counter")
    assert refused == []
