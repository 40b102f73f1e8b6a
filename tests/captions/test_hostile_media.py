"""Media built to abuse ffmpeg: refused with a reason, without opening what it points at."""

import os
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from captions import services
from captions.models import JobStatus
from engines import media
from engines.errors import MediaRejected
from tests.factories import CaptionJobFactory

pytestmark = pytest.mark.django_db


def ffmpeg(*args, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(out)],
                   check=True, timeout=60)
    return out


@pytest.fixture
def trap(tmp_path) -> Path:
    """A named pipe with a media name: opening it would block until the time limit."""
    path = tmp_path / "secret.wav"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("playlist", [
    "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n",
    "ffconcat version 1.0\nfile '{target}'\n",
])
def test_playlists_and_concat_scripts_are_refused_without_opening_their_references(
    tmp_path, trap, playlist
):
    upload = tmp_path / "upload.mp3"
    upload.write_text(playlist.format(target=trap))
    for read in (lambda: media.probe(str(upload), timeout=20),
                 lambda: media.decode_audio(str(upload), timeout=20)):
        began = time.monotonic()
        with pytest.raises(MediaRejected) as caught:
            read()
        # Refused at once: had ffmpeg opened the pipe, it would have hit the time limit.
        assert time.monotonic() - began < 10
        assert caught.value.code == "media_unreadable"


def test_concat_protocol_reference_is_refused(tmp_path, trap):
    with pytest.raises(MediaRejected):
        media.probe(f"concat:{trap}|{trap}", timeout=20)


def test_a_file_claiming_fifty_hours_is_refused_before_decoding(user, tmp_path):
    small = ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", out=tmp_path / "a.m4a")
    data = bytearray(small.read_bytes())
    mvhd = data.find(b"mvhd")
    timescale = struct.unpack_from(">I", data, mvhd + 16)[0]
    struct.pack_into(">I", data, mvhd + 20, timescale * (50 * 3600 + 60))
    job = CaptionJobFactory(owner=user, asset__kind="audio",
                            asset__file=ContentFile(bytes(data), name="claims.m4a"))
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "media_too_long"
    # The Free plan's limit: plans set the media length limit (billing/plans.py).
    assert job.error_message == ("The media is 50 h 1 min long; the limit is 10 min. Trim it "
                                 "or upload a shorter file.")
    assert "transcribing" not in job.stage_seconds


def test_audio_upload_without_an_audio_stream_gives_a_clear_reason(user, tmp_path):
    video = ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5",
                   "-pix_fmt", "yuv420p", out=tmp_path / "mute.mp4")
    job = CaptionJobFactory(owner=user, asset__kind="audio",
                            asset__file=ContentFile(video.read_bytes(), name="mute.m4a"))
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "no_audio"
    assert job.error_message == ("The file has no audio stream, so there is nothing to "
                                 "transcribe. Upload a file with sound.")
    assert job.error_detail == "The file has no audio stream."


def test_every_accepted_container_still_probes(tmp_path, shared_media):
    made = [
        ffmpeg("-f", "lavfi", "-i", "sine=d=1", out=tmp_path / "a.mp3"),
        ffmpeg("-f", "lavfi", "-i", "sine=d=1", out=tmp_path / "a.ogg"),
        ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "libopus", out=tmp_path / "a.opus"),
        ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", "-f", "adts",
               out=tmp_path / "a.aac"),
        ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-f", "lavfi", "-i", "sine=d=1",
               "-shortest", out=tmp_path / "a.mkv"),
    ]
    shared = [shared_media / name for name in (
        "jfk.flac", "librispeech_1089-134686-0001.wav", "auto_editor_example.mp4",
        "moviepy_big_buck_bunny_0_30.webm")]
    for path in made + shared:
        info = media.probe(str(path))
        assert info.has_audio, path
        assert media.decode_audio(str(path)).size > 0, path


# --- Refused at upload, before anything is stored (quality bar 4 and 5) -------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels; its data is truncated."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def flac_claiming(seconds: int, tmp_path) -> bytes:
    """A real two-second FLAC whose STREAMINFO claims ``seconds`` of audio."""
    real = ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2",
                  out=tmp_path / "quiet.flac")
    data = bytearray(real.read_bytes())
    assert data[:4] == b"fLaC"
    # STREAMINFO: after 10 bytes of block and frame sizes, 64 bits hold the sample rate
    # (20), channels (3), bits per sample (5) and the total number of samples (36).
    (packed,) = struct.unpack_from(">Q", data, 18)
    rate = packed >> 44
    struct.pack_into(">Q", data, 18, (packed & ~((1 << 36) - 1)) | (rate * seconds))
    return bytes(data)


@pytest.mark.parametrize(("name", "make", "status", "code"), [
    ("bomb.png", lambda tmp: png_claiming(40_000, 40_000), 413, "image_too_large"),
    ("truncated.png", lambda tmp: png_claiming(4_000, 3_000), 422, "image_unreadable"),
    ("ten-hours.flac", lambda tmp: flac_claiming(10 * 3600, tmp), 413, "media_too_long"),
])
def test_hostile_files_are_refused_at_upload_and_nothing_is_kept(
    api, user, tmp_path, name, make, status, code
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from billing.models import JobAdmission
    from captions.models import CaptionJob, MediaAsset
    from tests.conftest import s3_keys

    before = s3_keys()
    response = api.post("/api/v1/jobs/", {"file": SimpleUploadedFile(name, make(tmp_path))},
                        format="multipart")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"]
    assert s3_keys() == before
    assert not MediaAsset.objects.exists() and not CaptionJob.objects.exists()
    assert not JobAdmission.objects.exists(), "a refused file does not count against a quota"
