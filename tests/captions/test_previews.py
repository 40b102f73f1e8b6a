"""A video's key frame becomes its player's poster and its dashboard preview; an image's
scaled copy its preview; both are stored beside the upload and deleted with it."""

from __future__ import annotations

import io
import re
import subprocess
import urllib.request
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from captions import services
from captions.models import JobStatus, MediaAsset
from captions.services.previews import PREVIEW_MAX_SIDE
from engines import images
from tests.conftest import s3_keys
from tests.factories import MediaAssetFactory, TranscriptFactory, UserFactory

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "casual", "length": "short", "platform": "x", "variant_count": 1}


def submit_and_run(user, path, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        job = services.caption_job_submit(owner=user, upload=upload, options=OPTIONS)
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as served:  # noqa: S310 - moto on loopback
        assert served.headers["Content-Type"] == "image/jpeg"
        return served.read()


def assert_small_jpeg(data: bytes):
    with Image.open(io.BytesIO(data)) as still:
        assert still.format == "JPEG"
        assert max(still.size) <= PREVIEW_MAX_SIDE


def test_a_video_job_keeps_a_key_frame_as_its_poster_and_preview(
        user, user_client, video_plan, shared_media, django_capture_on_commit_callbacks):
    job = submit_and_run(user, shared_media / "auto_editor_example.mp4",
                         django_capture_on_commit_callbacks)
    assert job.status == JobStatus.DONE, job.error_message
    key = job.asset.preview_key
    assert key.endswith("-preview.jpg") and key in s3_keys()
    assert key.startswith(job.asset.file.name.rsplit(".", 1)[0])

    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    poster = unescape(re.search(r'<video id="player"[^>]* poster="([^"]+)"', page).group(1))
    assert "Signature=" in poster  # short-lived, like the player's own URL
    assert_small_jpeg(fetch(poster))

    dashboard = user_client.get("/")
    thumb = unescape(re.search(r'<img class="thumb" src="([^"]+)"',
                               dashboard.content.decode()).group(1))
    assert_small_jpeg(fetch(thumb))
    origin = re.match(r"https?://[^/]+", thumb).group(0)
    assert re.search(rf"img-src 'self' {re.escape(origin)}(;|$)",
                     dashboard["Content-Security-Policy"])


def test_an_image_job_gets_a_scaled_preview_and_a_recording_a_mark(
        user, user_client, shared_media, django_capture_on_commit_callbacks):
    image_job = submit_and_run(user, shared_media / "skimage_coffee.png",
                               django_capture_on_commit_callbacks)
    audio_job = submit_and_run(user, shared_media / "jfk.flac",
                               django_capture_on_commit_callbacks)
    assert image_job.asset.preview_key and not audio_job.asset.preview_key
    dashboard = user_client.get("/").content.decode()
    assert dashboard.count('<img class="thumb"') == 1
    assert 'class="thumb thumb-audio"' in dashboard
    page = user_client.get(f"/jobs/{image_job.pk}/").content.decode()
    assert '<img class="preview"' in page  # the job page shows the image itself


def test_deleting_the_job_deletes_the_preview_too(
        user, video_plan, shared_media, django_capture_on_commit_callbacks):
    job = submit_and_run(user, shared_media / "skimage_chelsea.png",
                         django_capture_on_commit_callbacks)
    keys = job.asset.stored_keys
    assert len(keys) == 2 and set(keys) <= set(s3_keys())
    with django_capture_on_commit_callbacks(execute=True):
        services.caption_job_delete(job=job, actor=user)
    assert not set(keys) & set(s3_keys())
    assert not MediaAsset.objects.filter(pk=job.asset.pk).exists()


def test_the_most_detailed_key_frame_is_chosen_over_a_black_fade_in(tmp_path):
    black = tmp_path / "frame-01.jpg"
    Image.new("RGB", (320, 180)).save(black)
    busy = tmp_path / "frame-02.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180", "-frames:v", "1", "-y", str(busy)],
                   check=True, timeout=60)
    assert images.most_detailed([str(black), str(busy)]) == str(busy)
    assert images.most_detailed([str(tmp_path / "missing.jpg")]) is None


def test_a_preview_on_local_disk_is_served_only_to_its_owner(settings, tmp_path, user,
                                                             user_client):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")}}}
    still = io.BytesIO()
    Image.new("RGB", (64, 36), (10, 120, 200)).save(still, format="JPEG")
    asset = MediaAssetFactory(owner=user, kind="video", content_type="video/mp4",
                              file=ContentFile(b"\x00" * 64, name="x.mp4"))
    from django.core.files.storage import default_storage
    asset.preview_key = default_storage.save("posters/x-preview.jpg",
                                             ContentFile(still.getvalue()))
    asset.save()
    job = TranscriptFactory(job__owner=user, job__asset=asset).job
    page = user_client.get(f"/jobs/{job.pk}/").content.decode()
    poster = unescape(re.search(r'poster="([^"]+)"', page).group(1))
    served = user_client.get(poster)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content) == still.getvalue()
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(poster).status_code == 404


def test_the_retention_purge_deletes_the_preview_with_the_upload(
        user, user_client, shared_media, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    job = submit_and_run(user, shared_media / "skimage_rocket.jpg",
                         django_capture_on_commit_callbacks)
    keys = job.asset.stored_keys
    assert len(keys) == 2 and set(keys) <= set(s3_keys())
    MediaAsset.objects.filter(pk=job.asset.pk).update(
        created_at=timezone.now() - timedelta(days=3))  # Free keeps uploads a day
    assert services.caption_retention_purge()["media"] == 1
    assert not set(keys) & set(s3_keys())
    assert '<img class="thumb"' not in user_client.get("/").content.decode()
