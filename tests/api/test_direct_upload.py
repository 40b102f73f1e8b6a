"""The two-step upload: a presigned PUT straight to S3, then a job from the upload id."""

from __future__ import annotations

import struct

import pytest
import requests

from captions.models import CaptionJob, DirectUpload, MediaAsset
from tests.conftest import s3_keys
from tests.helpers import png_bytes, wav_bytes

pytestmark = pytest.mark.django_db


def start_upload(api, filename="talk.wav"):
    response = api.post("/api/v1/uploads/", {"filename": filename}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def put(upload, content: bytes):
    response = requests.put(upload["upload_url"], data=content, timeout=10)
    assert response.status_code == 200, response.text


def test_presigned_put_then_job_from_the_upload(api, user, django_capture_on_commit_callbacks):
    upload = start_upload(api, "../../talk.wav")
    assert upload["method"] == "PUT" and upload["max_bytes"] > 0
    audio = wav_bytes()
    put(upload, audio)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/jobs/from-upload/",
                            {"upload_id": upload["id"], "tone": "professional"}, format="json")
    assert response.status_code == 201, response.content
    job = CaptionJob.objects.get(pk=response.json()["id"])
    assert job.owner == user and job.tone == "professional"
    asset = job.asset
    assert asset.content_type in ("audio/x-wav", "audio/wav") and asset.size_bytes == len(audio)
    assert asset.original_name == "talk.wav"
    assert asset.file.name.startswith(f"media/{user.pk}/") and asset.file.name.endswith(".wav")
    keys = s3_keys()
    assert asset.file.name in keys
    assert DirectUpload.objects.get(pk=upload["id"]).key not in keys  # moved, not copied twice
    with asset.file.open("rb") as fh:
        assert fh.read() == audio

    again = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "upload_already_used"


def test_job_from_an_upload_that_never_arrived_is_409(api):
    upload = start_upload(api)
    response = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "upload_not_received"


def test_uploaded_html_is_refused_with_415_and_the_object_deleted(api):
    upload = start_upload(api)
    put(upload, b"<!doctype html><html><script>alert(1)</script></html>")
    key = DirectUpload.objects.get(pk=upload["id"]).key
    assert key in s3_keys()
    response = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]}, format="json")
    assert response.status_code == 415
    assert key not in s3_keys()
    assert not CaptionJob.objects.exists() and not MediaAsset.objects.exists()


def test_uploaded_object_over_the_limit_is_413_and_deleted(api, settings):
    image = png_bytes()
    settings.CAPTIONS_MAX_UPLOAD_BYTES = len(image) - 1
    upload = start_upload(api, "photo.png")
    put(upload, image)
    response = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]}, format="json")
    assert response.status_code == 413
    assert response.json()["details"]["size_bytes"] == len(image)
    assert DirectUpload.objects.get(pk=upload["id"]).key not in s3_keys()


def test_bad_options_are_400_before_touching_the_upload(api):
    upload = start_upload(api)
    put(upload, wav_bytes())
    response = api.post("/api/v1/jobs/from-upload/",
                        {"upload_id": upload["id"], "tone": "sarcastic"}, format="json")
    assert response.status_code == 400 and "tone" in response.json()["details"]
    assert DirectUpload.objects.get(pk=upload["id"]).key in s3_keys()


def test_upload_never_turned_into_a_job_is_deleted_after_its_url_expired(api):
    from datetime import timedelta

    from captions import services

    upload = start_upload(api)
    put(upload, wav_bytes())
    row = DirectUpload.objects.get()
    assert row.key in s3_keys()
    assert services.direct_uploads_sweep() == 0  # its URL is still valid
    later = row.expires_at + timedelta(hours=1, seconds=1)
    assert services.direct_uploads_sweep(now=later) == 1
    assert row.key not in s3_keys()
    assert not DirectUpload.objects.exists()


def test_upload_that_cannot_be_checked_now_is_kept_for_the_clients_retry(api, settings):
    """A 503 says 'try again': the uploaded object must still be there when the client does."""
    upload = start_upload(api)
    # A WAV with a metadata chunk after its audio: its header alone does not settle its
    # length (a plain WAV's does, without ffprobe), so checking it needs ffprobe.
    wav = bytearray(wav_bytes() + b"LIST" + struct.pack("<I", 4) + b"INFO")
    struct.pack_into("<I", wav, 4, len(wav) - 8)
    put(upload, bytes(wav))
    key = DirectUpload.objects.get(pk=upload["id"]).key
    settings.FFPROBE_BINARY = "/nonexistent/ffprobe"  # the checking tool is missing
    response = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]},
                        format="json")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "media_check_unavailable"
    assert "Retry-After" in response
    assert key in s3_keys() and not CaptionJob.objects.exists()

    settings.FFPROBE_BINARY = "ffprobe"
    retried = api.post("/api/v1/jobs/from-upload/", {"upload_id": upload["id"]}, format="json")
    assert retried.status_code == 201, retried.content


@pytest.mark.parametrize("body", [[{"upload_id": "x"}], "tone", 5])
def test_a_json_body_that_is_not_an_object_is_400(api, body):
    response = api.post("/api/v1/jobs/from-upload/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
