"""Fixtures for the public API: keys for two customers and small real media files."""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest
from PIL import Image
from rest_framework.test import APIClient

from accounts import services as account_services


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def make_key():
    def make(user, scopes=("read", "write"), **kwargs):
        key, secret = account_services.api_key_create(
            user=user, name="integration", scopes=list(scopes), **kwargs
        )
        return key, secret

    return make


@pytest.fixture
def api(user, make_key) -> APIClient:
    """User A's client, with a read and write key."""
    return bearer_client(make_key(user)[1])


@pytest.fixture
def other_api(other_user, make_key) -> APIClient:
    """User B's client."""
    return bearer_client(make_key(other_user)[1])


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
