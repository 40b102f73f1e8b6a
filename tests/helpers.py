"""Small real media files and API clients for tests, made in memory."""

from __future__ import annotations

import io
import math
import re
import struct
import wave

from PIL import Image
from rest_framework.test import APIClient


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def png_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds=0.5, rate=16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return buf.getvalue()


def joined_recording(inputs: list, out, seconds: float | None = None):
    """The inputs' first audio streams, 16 kHz mono, one after another, in one file
    (ffmpeg's concat filter); cut at ``seconds`` when given. Returns ``out``."""
    import subprocess

    args = [arg for path in inputs for arg in ("-i", str(path))]
    chains = "".join(f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[a{i}];"
                     for i in range(len(inputs)))
    joined = "".join(f"[a{i}]" for i in range(len(inputs)))
    cut = ["-t", str(seconds)] if seconds else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, "-filter_complex",
         f"{chains}{joined}concat=n={len(inputs)}:v=0:a=1[out]", "-map", "[out]", *cut,
         str(out)],
        check=True, timeout=60,
    )
    return out


OPERATOR_WORDS = re.compile(
    r"/|\\|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b\w*(Error|Exception)\b|Traceback|urlopen|errno"
    r"|\.pt\b|\bHTTP\b|\bNone\b|=",
)


def assert_customer_text(text: str) -> None:
    """``text`` reads as words for a customer: no path, environment variable, exception
    name, traceback or setting; it is a sentence or more, ending with a full stop."""
    assert text and text[0].isupper() and text.rstrip().endswith("."), text
    found = OPERATOR_WORDS.search(text)
    assert found is None, f"operator detail {found.group(0)!r} in {text!r}"
