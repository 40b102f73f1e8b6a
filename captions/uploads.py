"""What we accept as an upload, decided from the file's bytes, never its name."""

from __future__ import annotations

import unicodedata

import magic

# Detected MIME type -> (media kind, extension used in the server-generated key).
ACCEPTED_TYPES: dict[str, tuple[str, str]] = {
    "audio/flac": ("audio", "flac"),
    "audio/x-flac": ("audio", "flac"),
    "audio/mpeg": ("audio", "mp3"),
    "audio/x-wav": ("audio", "wav"),
    "audio/wav": ("audio", "wav"),
    "audio/ogg": ("audio", "ogg"),
    "audio/x-m4a": ("audio", "m4a"),
    "audio/mp4": ("audio", "m4a"),
    "audio/aac": ("audio", "aac"),
    "audio/webm": ("audio", "webm"),
    "audio/opus": ("audio", "opus"),
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
    "video/webm": ("video", "webm"),
    "video/x-matroska": ("video", "mkv"),
    "video/ogg": ("video", "ogv"),
    "image/png": ("image", "png"),
    "image/jpeg": ("image", "jpg"),
    "image/webp": ("image", "webp"),
    "image/gif": ("image", "gif"),
}

SNIFF_BYTES = 8192


def detect_content_type(head: bytes) -> str:
    return magic.from_buffer(head, mime=True)


def clean_original_name(name: str, *, limit: int = 200) -> str:
    """Keep a client's file name only as display metadata.

    Path parts, control characters and bidirectional overrides are removed; the
    result is never used to build a storage key or a path.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"})
    kept = kept.strip().strip(".") or "upload"
    return kept[:limit]
