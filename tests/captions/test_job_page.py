"""The job page: the upload plays from a short-lived URL, the transcript is seekable,
captions can be copied, and downloads are named after the upload."""

import re
import time
import urllib.request
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from captions.exports import export_filename
from tests.factories import (
    CaptionVariantFactory,
    MediaAssetFactory,
    TranscriptFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AUDIO = b"fLaC" + bytes(range(256)) * 4


def player_src(html: str) -> str:
    return unescape(re.search(r'<audio id="player"[^>]* src="([^"]+)"', html).group(1))


@pytest.fixture
def done_job(user):
    asset = MediaAssetFactory(owner=user, original_name="Board meeting (final).flac",
                              content_type="audio/flac",
                              file=ContentFile(AUDIO, name="x.flac"), size_bytes=len(AUDIO))
    return TranscriptFactory(job__owner=user, job__asset=asset).job


def test_the_upload_plays_from_a_presigned_url_the_page_policy_allows(user_client, done_job):
    response = user_client.get(f"/jobs/{done_job.pk}/")
    html = response.content.decode()
    src = player_src(html)
    # Presigned for a short time, by S3 (moto here), and playable by the browser.
    assert "Signature=" in src
    expires = int(re.search(r"Expires=(\d+)", src).group(1))
    assert 3500 < expires - time.time() <= 3601  # CAPTIONS_PLAYBACK_EXPIRES_SECONDS
    origin = re.match(r"https?://[^/]+", src).group(0)
    policy = response["Content-Security-Policy"]
    assert re.search(rf"media-src 'self' {re.escape(origin)}(;|$)", policy), policy
    with urllib.request.urlopen(src, timeout=10) as served:  # noqa: S310 - moto on loopback
        assert served.read() == AUDIO
        assert served.headers["Content-Type"] == "audio/flac"
    # Every line knows its time; its time is a button that plays from there.
    assert '<li data-start="0.000" data-end="2.500">' in html
    assert 'aria-label="Play from 0:00"' in html


def test_each_caption_has_a_copy_button_for_its_text(user_client, done_job):
    CaptionVariantFactory(job=done_job, position=0, text="First caption")
    CaptionVariantFactory(job=done_job, position=1, text="Second caption")
    html = user_client.get(f"/jobs/{done_job.pk}/").content.decode()
    assert html.count('class="button secondary small copy"') == 2
    assert 'data-copy="caption-2"' in html
    assert re.search(r'id="caption-2" class="caption-text">Second caption<', html)


def test_an_image_job_shows_a_preview_and_no_player(user_client, user):
    asset = MediaAssetFactory(owner=user, kind="image", content_type="image/png",
                              original_name="poster.png")
    job = TranscriptFactory(job__owner=user, job__asset=asset).job
    html = user_client.get(f"/jobs/{job.pk}/").content.decode()
    assert re.search(r'<img class="preview" src="http[^"]+Signature=', html)
    assert 'id="player"' not in html and "Play from" not in html


def test_a_deleted_upload_has_no_player(user_client, done_job):
    done_job.asset.purged_at = timezone.now()
    done_job.asset.save()
    html = user_client.get(f"/jobs/{done_job.pk}/").content.decode()
    assert 'id="player"' not in html


def test_downloads_are_named_after_the_upload(user_client, done_job):
    response = user_client.get(f"/jobs/{done_job.pk}/transcript.srt")
    assert response["Content-Disposition"] == 'attachment; filename="Board meeting (final).srt"'


def test_a_non_ascii_upload_name_is_kept_in_the_rfc_5987_form(user_client, user):
    asset = MediaAssetFactory(owner=user, original_name="Entrevista añejo.mp3")
    job = TranscriptFactory(job__owner=user, job__asset=asset).job
    response = user_client.get(f"/jobs/{job.pk}/transcript.vtt")
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Entrevista%20a%C3%B1ejo.vtt")


@pytest.mark.parametrize("original, expected", [
    ("jfk.flac", "jfk.srt"),
    ("../../etc/passwd", "passwd.srt"),
    ("..\\..\\boot.ini", "boot.srt"),
    ("a.mp3%00.php", "a.mp3_00.srt"),
    ("evil\u202egpj.exe", "evilgpj.srt"),
    ('say "hi"\r\n.wav', "say _hi.srt"),
    (".hidden", "hidden.srt"),
    ("", "transcript.srt"),
    ("***.wav", "transcript.srt"),
    ("x" * 300 + ".mp3", "x" * 100 + ".srt"),
])
def test_export_names_are_made_safe(original, expected):
    assert export_filename(original, "srt") == expected


# --- Media on local disk: our own signed URL --------------------------------------------


@pytest.fixture
def local_media(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")}}}


@pytest.fixture
def local_job(local_media, user):
    asset = MediaAssetFactory(owner=user, content_type="audio/flac",
                              file=ContentFile(AUDIO, name="x.flac"), size_bytes=len(AUDIO))
    return TranscriptFactory(job__owner=user, job__asset=asset).job


def test_local_media_plays_from_a_signed_url_with_byte_ranges(user_client, local_job):
    src = player_src(user_client.get(f"/jobs/{local_job.pk}/").content.decode())
    assert src.startswith("/media/")
    whole = user_client.get(src)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == AUDIO
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Type"] == "audio/flac"
    part = user_client.get(src, HTTP_RANGE="bytes=4-11")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 4-11/{len(AUDIO)}"
    assert b"".join(part.streaming_content) == AUDIO[4:12]
    tail = user_client.get(src, HTTP_RANGE="bytes=-4")
    assert b"".join(tail.streaming_content) == AUDIO[-4:]
    beyond = user_client.get(src, HTTP_RANGE=f"bytes={len(AUDIO) + 5}-")
    assert beyond.status_code == 416


def test_local_media_url_is_refused_to_others_when_tampered_or_expired(
        user_client, local_job, settings):
    src = player_src(user_client.get(f"/jobs/{local_job.pk}/").content.decode())
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(src).status_code == 404
    assert Client().get(src).status_code == 302  # to the login page
    assert user_client.get(src[:-3] + "xyz/").status_code == 404
    settings.CAPTIONS_PLAYBACK_EXPIRES_SECONDS = 1
    time.sleep(2.1)
    assert user_client.get(src).status_code == 404
