"""A plain WAV is measured from its header at upload, without starting ffprobe; anything
less plain still goes to ffprobe, so a hostile file is refused exactly as before."""

import io
import struct
import wave

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from captions import services
from captions.models import MediaAsset
from engines import media

pytestmark = pytest.mark.django_db


def _wav(*, seconds: float = 1.5, rate: int = 16000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", 300) * int(seconds * rate) * channels)
    return buf.getvalue()


def test_plain_wav_header_gives_the_length_ffprobe_gives(tmp_path):
    data = _wav(seconds=2.25, rate=22050, channels=2)
    path = tmp_path / "a.wav"
    path.write_bytes(data)

    info = media.wav_header_probe(data[:8192], size=len(data))

    probed = media.probe(str(path))
    assert info is not None
    assert info.duration_seconds == pytest.approx(probed.duration_seconds, abs=0.001)
    assert (info.has_audio, info.has_video, info.audio_channels) == (True, False, 2)


@pytest.mark.parametrize("damage", ["claims_more_than_it_holds", "truncated_header",
                                    "compressed_codec", "empty_data", "not_riff"])
def test_a_wav_the_header_cannot_settle_is_left_to_ffprobe(damage):
    data = bytearray(_wav())
    if damage == "claims_more_than_it_holds":  # a 37-hour claim in a small file
        struct.pack_into("<I", data, 40, 0xFFFFFF00)
    elif damage == "truncated_header":
        data = data[:30]
    elif damage == "compressed_codec":
        struct.pack_into("<H", data, 20, 0x55)  # MP3 inside a WAV
    elif damage == "empty_data":
        data = data[:44]
        struct.pack_into("<I", data, 40, 0)
    else:
        data[:4] = b"RIFX"
    assert media.wav_header_probe(bytes(data[:8192]), size=len(data)) is None


def test_plain_wav_upload_is_checked_without_ffprobe(user, settings):
    settings.FFPROBE_BINARY = "/nonexistent/ffprobe"  # any call would answer 503
    upload = SimpleUploadedFile("talk.wav", _wav(seconds=3), content_type="audio/wav")

    job = services.caption_job_submit(owner=user, upload=upload, options={})

    assert MediaAsset.objects.get(pk=job.asset_id).duration_seconds == pytest.approx(3.0)


def test_wav_claiming_thirty_seven_hours_is_measured_by_ffprobe_at_its_real_length(user):
    data = bytearray(_wav(seconds=1.5))
    struct.pack_into("<I", data, 40, 0xFFFFFF00)  # its data chunk's length
    upload = SimpleUploadedFile("long.wav", bytes(data), content_type="audio/wav")

    job = services.caption_job_submit(owner=user, upload=upload, options={})

    assert MediaAsset.objects.get(pk=job.asset_id).duration_seconds == pytest.approx(1.5)
