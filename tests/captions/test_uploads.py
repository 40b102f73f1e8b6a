"""Bad uploads get a clear 4xx, nothing is stored, no job is queued."""

import io
import socket
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from captions.models import CaptionJob, MediaAsset
from tests.conftest import s3_keys

pytestmark = pytest.mark.django_db

OPTIONS = {"tone": "casual", "length": "medium", "platform": "instagram", "language": "",
           "variant_count": 3}


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hello")
    return buf.getvalue()


DISGUISED = {
    "php": b"<?php system($_GET['cmd']); ?>\n",
    "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    "zip": _zip_bytes(),
    "elf": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,
    "hls": b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n",
}


def post_upload(client, name, content, **options):
    data = {**OPTIONS, **options, "file": SimpleUploadedFile(name, content)}
    return client.post("/jobs/new/", data)


@pytest.mark.parametrize("kind", sorted(DISGUISED))
def test_file_named_mp3_whose_bytes_are_not_media_is_refused_with_415(user_client, kind):
    before = s3_keys()
    response = post_upload(user_client, "song.mp3", DISGUISED[kind])
    assert response.status_code == 415
    assert "not audio, video or an image" in response.content.decode()
    assert s3_keys() == before
    assert not CaptionJob.objects.exists()
    assert not MediaAsset.objects.exists()


def test_file_one_byte_over_the_limit_is_refused_with_413(user_client, settings, shared_media):
    data = (shared_media / "jfk.flac").read_bytes()
    settings.CAPTIONS_MAX_UPLOAD_BYTES = len(data) - 1
    before = s3_keys()
    response = post_upload(user_client, "jfk.flac", data)
    assert response.status_code == 413
    assert f"the limit is {len(data) - 1:,} bytes" in response.content.decode()
    assert s3_keys() == before
    assert not CaptionJob.objects.exists()


def test_empty_file_is_refused(user_client):
    response = post_upload(user_client, "empty.wav", b"")
    assert response.status_code == 400
    assert not CaptionJob.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a.mp3%00.php", "x" * 300 + ".flac", "evil\x07\x1bname.flac",
     "invoice\u202egnp.flac", "C:\\Windows\\system32\\cmd.flac"],
)
def test_storage_key_is_server_generated_and_the_name_is_only_clean_metadata(
    user_client, user, shared_media, name
):
    response = post_upload(user_client, name, (shared_media / "jfk.flac").read_bytes())
    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert asset.file.name.startswith(f"media/{user.pk}/")
    assert asset.file.name.endswith(".flac")
    assert ".." not in asset.file.name and "passwd" not in asset.file.name
    assert asset.file.name in s3_keys()
    assert len(asset.original_name) <= 200
    assert "/" not in asset.original_name and "\\" not in asset.original_name
    assert not any(ch in asset.original_name for ch in "\x00\x07\x1b\u202e")
    assert asset.content_type == "audio/flac"


@pytest.mark.parametrize(
    ("field", "value"),
    [("tone", "sarcastic"), ("length", "-5"), ("platform", "myspace"), ("language", "xx"),
     ("variant_count", "99")],
)
def test_out_of_range_caption_options_are_refused_before_anything_is_stored(
    user_client, shared_media, field, value
):
    before = s3_keys()
    response = post_upload(user_client, "jfk.flac", (shared_media / "jfk.flac").read_bytes(),
                           **{field: value})
    assert response.status_code == 400
    assert s3_keys() == before
    assert not CaptionJob.objects.exists()


def test_ajax_upload_answers_json_with_field_errors(user_client):
    response = user_client.post(
        "/jobs/new/", {**OPTIONS, "file": SimpleUploadedFile("a.mp3", DISGUISED["php"])},
        headers={"x-requested-with": "XMLHttpRequest"},
    )
    assert response.status_code == 415
    assert "not audio" in response.json()["errors"]["__all__"][0]


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/jobs/new/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_storage_that_refuses_connections_gives_503_and_leaves_no_rows(
    user_client, shared_media, settings
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    default = dict(settings.STORAGES["default"])
    default["OPTIONS"] = {**default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{closed_port}"}
    settings.STORAGES = {**settings.STORAGES, "default": default}  # Django resets storages
    response = post_upload(user_client, "jfk.flac", (shared_media / "jfk.flac").read_bytes())
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "storage is not answering" in response.content.decode()
    assert not MediaAsset.objects.exists()
    assert not CaptionJob.objects.exists()


def test_video_on_a_plan_without_video_is_refused_before_anything_is_stored(
    user_client, shared_media
):
    before = s3_keys()
    response = post_upload(user_client, "clip.mp4",
                           (shared_media / "auto_editor_example.mp4").read_bytes())
    assert response.status_code == 403
    assert "Video uploads are not part of the Free plan" in response.content.decode()
    assert s3_keys() == before
    assert not CaptionJob.objects.exists()


def test_video_on_a_plan_with_video_is_accepted(user_client, shared_media, video_plan):
    response = post_upload(user_client, "clip.mp4",
                           (shared_media / "auto_editor_example.mp4").read_bytes())
    assert response.status_code == 302
    assert CaptionJob.objects.get().asset.kind == "video"
