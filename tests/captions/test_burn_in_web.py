"""Burned-in captions through the API and the job page, and through a real Celery worker."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from captions.models import BurnInExport, BurnInStatus
from captions.tasks import burn_in_export_process
from tests.captions.test_burn_in import clip, video_job  # noqa: F401 - the clip fixture
from tests.test_admin_support import support_client  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def run_queued():
    for export in BurnInExport.objects.filter(status=BurnInStatus.QUEUED):
        burn_in_export_process.apply(args=[str(export.pk)]).get()


def test_api_burn_in_is_accepted_polled_and_downloaded_as_the_uploads_name(
    api, other_api, user, clip, django_capture_on_commit_callbacks  # noqa: F811
):
    job = video_job(user, clip)
    url = f"/api/v1/jobs/{job.pk}/burn-in/"
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(url, {"aspect": "1:1", "font_size": "large"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["style"] == {
        "font_size": "large", "position": "bottom", "box": True, "aspect": "1:1"}
    assert body["links"]["download"] is None and body["filename"] == "interview-captioned.mp4"
    assert response["Location"] == body["links"]["self"]

    again = api.post(url, {"aspect": "1:1", "font_size": "large"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]

    run_queued()
    polled = api.get(body["links"]["self"]).json()
    assert polled["status"] == "done" and polled["progress"] == 100
    assert (polled["width"], polled["height"]) == (320, 320)
    assert api.get(url).json()[0]["id"] == body["id"]

    download = api.get(polled["links"]["download"])
    assert download.status_code == 302
    signed = download["Location"]
    disposition = parse_qs(urlsplit(signed).query)["response-content-disposition"][0]
    assert 'filename="interview-captioned.mp4"' in disposition
    fetched = requests.get(signed, timeout=10)
    assert fetched.status_code == 200 and fetched.content[4:8] == b"ftyp"

    # Someone else's job and export do not exist for another customer.
    assert other_api.get(body["links"]["self"]).status_code == 404
    assert other_api.get(polled["links"]["download"]).status_code == 404
    assert other_api.post(url, {}, format="json").status_code == 404


def test_api_refuses_an_audio_job_with_a_clear_message(api, user, clip):  # noqa: F811
    job = video_job(user, clip, kind="audio")
    response = api.post(f"/api/v1/jobs/{job.pk}/burn-in/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "burn_in_needs_video"
    assert "only into a video" in response.json()["message"]


def test_job_page_offers_burn_in_shows_progress_then_the_download(
    user_client, user, video_plan, clip, django_capture_on_commit_callbacks  # noqa: F811
):
    job = video_job(user, clip, platform="tiktok")
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="burn-in"' in page and "Burn captions into video" in page
    assert '<option value="9:16" selected>' in page  # the job's platform's shape
    with django_capture_on_commit_callbacks(execute=False):
        response = user_client.post(f"/jobs/{job.pk}/burn-in/", {
            "font_size": "small", "position": "top", "aspect": "9:16", "box": "on"})
    assert response.status_code == 302
    export = BurnInExport.objects.get(job=job)
    assert (export.font_size, export.position, export.box) == ("small", "top", True)
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "burn-in-progress" in page and "js/burn_in.js" in page
    status = user_client.get(f"/jobs/{job.pk}/burn-in/{export.pk}/status.json").json()
    assert status["status"] == "queued" and status["is_final"] is False

    run_queued()
    status = user_client.get(f"/jobs/{job.pk}/burn-in/{export.pk}/status.json").json()
    assert status["is_final"] and status["download_url"]
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Download 324×576 MP4" in page
    download = user_client.get(status["download_url"])
    assert download.status_code == 302 and "interview-captioned.mp4" in download["Location"]


def test_job_page_tells_a_plan_without_video_to_upgrade(user_client, user, clip):  # noqa: F811
    job = video_job(user, clip)
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="burn-in-upgrade"' in page and "burn-in-submit" not in page
    response = user_client.post(f"/jobs/{job.pk}/burn-in/", {"aspect": "original"},
                                HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 403 and "plans with video" in response.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_renders_the_export_sent_through_the_outbox(
    api, user, clip, celery_worker_thread  # noqa: F811
):
    job = video_job(user, clip)
    body = api.post(f"/api/v1/jobs/{job.pk}/burn-in/", {"aspect": "16:9"},
                    format="json").json()
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        polled = api.get(body["links"]["self"]).json()
        if not seen or seen[-1] != polled["status"]:
            seen.append(polled["status"])
        if polled["status"] in ("done", "failed"):
            break
        time.sleep(0.3)
    assert polled["status"] == "done", (seen, polled)
    assert polled["progress"] == 100 and (polled["width"], polled["height"]) == (320, 180)


def test_support_sees_a_jobs_exports_in_the_admin(
    support_client, user, video_plan, clip, django_capture_on_commit_callbacks  # noqa: F811
):
    import importlib

    from django.apps import apps as django_apps

    from captions import services

    # As support_client does for the older grants: a flushed database is granted again.
    importlib.import_module("captions.migrations.0015_burn_in_export").grant(django_apps, None)
    job = video_job(user, clip)
    with django_capture_on_commit_callbacks(execute=False):
        export, _ = services.burn_in_export_request(job=job, actor=user, options={})
    services.burn_in_export_fail(export_id=export.pk, code="burn_in_crashed", detail="boom")
    page = support_client.get(f"/admin/captions/captionjob/{job.pk}/change/").content.decode()
    assert str(export.pk) in page and "burn_in_crashed" in page
    listing = support_client.get("/admin/captions/burninexport/").content.decode()
    assert str(export.pk) in listing


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_for_one_style_make_one_export_admitted_once(
    user, video_plan, clip  # noqa: F811
):
    """Four clicks at once (two tabs, a double click, the API): one export, one hold."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from billing.models import JobAdmission
    from captions import services

    job = video_job(user, clip)

    def ask(_):
        try:
            return services.burn_in_export_request(job=job, actor=user,
                                                   options={"aspect": "1:1"})
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert len({export.pk for export, _ in answers}) == 1
    assert sum(created for _, created in answers) == 1
    (export,) = BurnInExport.objects.all()
    assert JobAdmission.objects.filter(job_id=export.pk).count() == 1


def test_a_failed_export_on_the_page_says_why_and_tries_again_in_its_style(
    user_client, user, video_plan, clip, django_capture_on_commit_callbacks  # noqa: F811
):
    from captions import services

    job = video_job(user, clip)
    with django_capture_on_commit_callbacks(execute=False):
        export, _ = services.burn_in_export_request(
            job=job, actor=user, options={"aspect": "4:5", "box": False, "position": "top"})
    services.burn_in_export_fail(export_id=export.pk, code="media_timeout", detail="slow")
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "took too long" in page and "Try again" in page
    assert '<input type="hidden" name="aspect" value="4:5">' in page
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = user_client.post(f"/jobs/{job.pk}/burn-in/", {
            "font_size": "medium", "position": "top", "aspect": "4:5"})
    assert response.status_code == 302 and len(sent) == 1
    export.refresh_from_db()
    assert export.status == BurnInStatus.QUEUED and export.error_message == ""
