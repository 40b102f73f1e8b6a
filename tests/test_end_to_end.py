"""A customer signs up, verifies their email, uploads a recording and gets captions.

Everything is real: the views, allauth, PostgreSQL, Redis as the Celery broker, a
Celery worker consuming from it, S3 (moto) for the upload, ffmpeg and Whisper.
"""

import re
import time

import pytest
from django.conf import settings
from django.db import connection

from captions.models import CaptionJob, JobStatus
from tests.conftest import s3_client

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-and-unusual-passphrase-42"


def wait_for_final_status(client, status_url, timeout=180):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        data = client.get(status_url).json()
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["is_final"]:
            return data, seen
        time.sleep(0.5)
    raise AssertionError(f"job did not finish within {timeout}s; statuses seen: {seen}")


def test_customer_signs_up_uploads_speech_and_gets_transcript_and_captions(
    client, mailoutbox, shared_media, celery_worker_thread
):
    email = "new.customer@example.com"
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302

    # Until the address is verified, logging in is not possible.
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session

    assert len(mailoutbox) >= 1
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s/]+/", mailoutbox[-1].body)
    assert link, mailoutbox[-1].body
    confirm_path = "/" + link.group(0).split("/", 3)[3]
    assert client.get(confirm_path).status_code == 200
    assert client.post(confirm_path).status_code == 302

    client.logout()
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session

    assert client.get("/jobs/new/").status_code == 200
    with open(shared_media / "jfk.flac", "rb") as fh:
        response = client.post(
            "/jobs/new/",
            {"file": fh, "tone": "inspirational", "length": "short", "platform": "linkedin",
             "language": "", "variant_count": 2},
        )
    assert response.status_code == 302, response.content[:2000]
    job = CaptionJob.objects.get(owner__email=email)
    assert response["Location"] == f"/jobs/{job.pk}/"

    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "data-status-url" in page

    data, seen = wait_for_final_status(client, f"/jobs/{job.pk}/status.json")
    assert data["status"] == JobStatus.DONE, data
    assert seen[-1] == "done"

    job.refresh_from_db()
    transcript = job.transcript
    assert transcript.segments, "a transcript of timed segments"
    previous_end = 0.0
    for seg in transcript.segments:
        assert previous_end <= seg["start"] <= seg["end"] <= 11.1
        previous_end = seg["end"]
    assert job.captions.count() == 2
    assert job.engine_versions["stt"]["checkpoint_sha256"]
    assert job.engine_versions["captions"]["writer"] == "local"
    assert job.attempts == 1
    assert [e.to_status for e in job.events.all()] == ["queued", "processing", "done"]

    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Offline draft" in page
    assert job.captions.first().text in page
    download = client.get(f"/jobs/{job.pk}/transcript.txt")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download.content.decode().strip() == transcript.text

    # The uploaded bytes are in the bucket under a key the server made up; rows in Postgres.
    assert connection.vendor == "postgresql"
    key = job.asset.file.name
    assert re.fullmatch(rf"media/{job.owner_id}/\d{{4}}/\d{{2}}/[0-9a-f]{{32}}\.flac", key)
    stored = s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    assert stored["Body"].read() == (shared_media / "jfk.flac").read_bytes()
    assert job.asset.original_name == "jfk.flac"
    assert job.asset.duration_seconds == pytest.approx(11.0, abs=0.1)
