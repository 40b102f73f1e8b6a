"""The upload's preview: a small still for the player's poster and the dashboard.

A video's is its most detailed key frame among the first few; an image's is the image
scaled down. Both are re-encoded by us (no metadata, no alpha) and stored beside the
upload. A preview is a nicety: a video that yields no frame, or a storage that does not
answer, leaves the job without one, and the job carries on.
"""

from __future__ import annotations

import logging
import tempfile

from django.conf import settings
from django.core.files.base import ContentFile

from engines import images, media
from engines.errors import PipelineError

from .. import storage
from ..models import MediaAsset, MediaKind

logger = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 640
PREVIEW_FRAMES = 3


def media_asset_preview_key(*, asset: MediaAsset) -> str:
    """Where an upload's preview is stored: its own key with a suffix (server-made)."""
    stem = asset.file.name.rsplit(".", 1)[0]
    return f"{stem}-preview.jpg"


def media_asset_preview_make(*, asset: MediaAsset, path: str, duration: float = 0.0) -> str:
    """Make and store the preview of ``asset`` (read from the local copy ``path``) once.

    Returns the preview's key, or "" when none could be made (logged, never raised).
    """
    if asset.preview_key:
        return asset.preview_key
    try:
        with tempfile.TemporaryDirectory(prefix="preview-") as workdir:
            source = path
            if asset.kind == MediaKind.VIDEO:
                frames = media.extract_key_frames(
                    path, workdir, count=PREVIEW_FRAMES, duration_seconds=duration,
                    ffmpeg=settings.FFMPEG_BINARY,
                    timeout=min(60, settings.FFMPEG_TIMEOUT_SECONDS))
                source = images.most_detailed(frames)
                if source is None:
                    return ""
            still = images.image_for_model(source, max_side=PREVIEW_MAX_SIDE)
            key = storage.file_save(media_asset_preview_key(asset=asset),
                                    ContentFile(still.data))
    except (PipelineError, storage.StorageUnavailable, OSError) as exc:
        logger.warning("no preview for upload %s: %s", asset.pk, exc)
        return ""
    MediaAsset.objects.filter(pk=asset.pk).update(preview_key=key)
    asset.preview_key = key
    return key
