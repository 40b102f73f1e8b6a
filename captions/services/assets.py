"""Media assets: uploads checked from their bytes, then stored under a key the server makes.

Both ways in, a file sent with the job request and a direct upload PUT to S3, go
through ``media_check`` (size, type from the bytes, plan features) before anything is
kept; a refused direct upload is deleted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.plans import Feature
from config.errors import ApplicationError
from config.humanize import format_duration
from engines import images, media
from engines.errors import MediaRejected, MediaToolFailed

from .. import storage
from ..failures import failure_message
from ..models import DirectUpload, MediaAsset, MediaKind
from ..uploads import ACCEPTED_TYPES, SNIFF_BYTES, clean_original_name, detect_content_type

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedMedia:
    content_type: str
    kind: str
    ext: str
    # From the container's header; 0 for an image, or when the container does not say.
    duration_seconds: float
    sha256: str


def _check_size(size: int | None, *, limits) -> None:
    """400 for an empty file, 413 over the plan's size limit."""
    max_bytes = limits.max_upload_bytes
    if not size:
        raise ApplicationError("The file is empty.", code="empty_file", status=400)
    if size > max_bytes:
        raise ApplicationError(
            f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes on the "
            f"{limits.plan.name} plan.",
            code="file_too_large",
            status=413,
            details={"limit_bytes": max_bytes, "size_bytes": size, "plan": limits.plan.code},
        )


def video_refusal_message(*, plan_name: str) -> str:
    """What a customer on a plan without video reads, before uploading (the form) or after."""
    return (f"Video uploads are not part of the {plan_name} plan. Upgrade on the billing "
            "page, or upload the sound track as audio.")


def _check_plan_allows_kind(kind: str, *, limits) -> None:
    """403 for a video on a plan without video (the plan catalogue's features)."""
    if kind == MediaKind.VIDEO and not limits.has(Feature.VIDEO):
        raise ApplicationError(
            video_refusal_message(plan_name=limits.plan.name),
            code="plan_feature_missing", status=403,
            details={"feature": Feature.VIDEO, "plan": limits.plan.code},
        )


def _check_content_type(head: bytes) -> str:
    content_type = detect_content_type(head)
    if content_type not in ACCEPTED_TYPES:
        raise ApplicationError(
            f"This file's contents are '{content_type}', which is not audio, video or an "
            "image we can caption. Upload MP3, WAV, FLAC, OGG, M4A, MP4, MOV, WebM, MKV, "
            "PNG, JPEG, WebP or GIF.",
            code="unsupported_media_type",
            status=415,
            details={"detected_type": content_type},
        )
    return content_type


def _check_contents(path: str, *, kind: str, limits, head: bytes = b"",
                    size: int = 0) -> float:
    """Read the media's header (ffprobe) or decode the image: refused here, nothing is kept.

    A plain WAV is measured from its header (``head``, the first bytes of a file of
    ``size`` bytes) when the header alone settles it (``media.wav_header_probe``).
    Returns the duration in seconds (0 for an image or a container that does not say).
    """
    try:
        if kind == MediaKind.IMAGE:
            images.inspect_image(path)
            return 0.0
        info = media.wav_header_probe(head, size=size) if kind == MediaKind.AUDIO else None
        if info is None:
            info = media.probe(path, ffprobe=settings.FFPROBE_BINARY,
                               timeout=min(60, settings.FFMPEG_TIMEOUT_SECONDS))
    except MediaToolFailed as exc:
        logger.error("could not inspect an upload: %s", exc.detail)
        raise ApplicationError(
            "We cannot check uploads right now, so the file was not saved. Please try again "
            "in a few minutes.", code="media_check_unavailable", status=503,
            headers={"Retry-After": "60"},
        ) from exc
    except MediaRejected as exc:
        logger.info("upload refused (%s): %s", exc.code, exc.detail)
        raise ApplicationError(failure_message(exc.code, exc.facts), code=exc.code,
                               status=413 if exc.code == "image_too_large" else 422) from exc
    if not info.has_audio and not info.has_video:
        raise ApplicationError("The file has no audio or video stream.",
                               code="no_media_streams", status=422)
    if kind == MediaKind.AUDIO and not info.has_audio:
        raise ApplicationError("The file has no audio stream.", code="no_audio", status=422)
    if info.duration_seconds > limits.max_media_seconds:
        raise ApplicationError(
            f"The media is {format_duration(info.duration_seconds)} long; the limit is "
            f"{format_duration(limits.max_media_seconds)} on the {limits.plan.name} plan.",
            code="media_too_long", status=413,
            details={"limit_seconds": limits.max_media_seconds,
                     "duration_seconds": round(info.duration_seconds, 3),
                     "plan": limits.plan.code},
        )
    return info.duration_seconds


def media_check(*, owner, size: int | None, path: str) -> CheckedMedia:
    """Check a file before it is kept, from a local copy of its bytes.

    Size, type from the first bytes, the plan's features, then the contents: the header
    of audio and video (its duration against the plan's longest recording), a full
    decode of an image (bombs, truncated files). Raises ApplicationError: 400 for an
    empty file, 413 over the plan's size or length limit or for an image with too many
    pixels, 415 when the bytes are not media we accept, 403 for a video on a plan
    without video, 422 for media we cannot read or without the streams it needs.
    """
    limits = billing_selectors.plan_limits_for_user(user=owner)
    _check_size(size, limits=limits)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    content_type = _check_content_type(head)
    kind, ext = ACCEPTED_TYPES[content_type]
    _check_plan_allows_kind(kind, limits=limits)
    duration = _check_contents(path, kind=kind, limits=limits, head=head,
                               size=os.path.getsize(path))
    return CheckedMedia(content_type=content_type, kind=kind, ext=ext,
                        duration_seconds=duration, sha256=media.file_sha256(path))


@contextmanager
def upload_local_path(upload):
    """A path to the upload's bytes on local disk (Django's temporary file, or a copy)."""
    if hasattr(upload, "temporary_file_path"):
        yield upload.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(prefix="upload-") as copy:
        upload.seek(0)
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        upload.seek(0)
        yield copy.name


def media_asset_store(*, owner, upload, checked: CheckedMedia) -> MediaAsset:
    """Store a checked upload under a server-generated key and record it.

    Raises StorageUnavailable (503) when the storage does not answer; nothing is kept.
    """
    upload.seek(0)
    stored_key = storage.file_save(storage.media_key(owner_id=owner.pk, ext=checked.ext), upload)
    try:
        return MediaAsset.objects.create(
            owner=owner, file=stored_key, original_name=clean_original_name(upload.name or ""),
            content_type=checked.content_type, kind=checked.kind, size_bytes=upload.size,
            sha256=checked.sha256, duration_seconds=checked.duration_seconds or None,
        )
    except Exception:
        # No row may point at a missing object, and no object is left without a row.
        storage.file_delete(stored_key)
        raise


def media_asset_create(*, owner, upload) -> MediaAsset:
    """Check an upload (``media_check``) and store it (``media_asset_store``)."""
    with upload_local_path(upload) as path:
        checked = media_check(owner=owner, size=upload.size, path=path)
    return media_asset_store(owner=owner, upload=upload, checked=checked)


def media_asset_discard(*, asset: MediaAsset) -> None:
    """Delete an asset whose job could not be created, with its stored file."""
    storage.file_delete(asset.file.name)
    asset.delete()


# --- Direct uploads ----------------------------------------------------------------------


def direct_upload_create(*, owner, original_name: str = "") -> tuple[DirectUpload, str]:
    """Reserve a server-generated key and return it with a presigned PUT URL for it.

    Raises ApplicationError(400) where media is not stored in S3 (local development).
    """
    if not storage.direct_uploads_supported():
        raise ApplicationError(
            "Direct uploads need S3 storage; send the file in the job request instead.",
            code="direct_upload_unavailable",
        )
    expires = settings.CAPTIONS_DIRECT_UPLOAD_EXPIRES_SECONDS
    upload = DirectUpload.objects.create(
        owner=owner,
        key=f"uploads/{owner.pk}/{uuid.uuid4().hex}",
        original_name=clean_original_name(original_name or ""),
        expires_at=timezone.now() + timedelta(seconds=expires),
    )
    return upload, storage.presigned_put_url(upload.key, expires_seconds=expires)


def direct_upload_claim(*, owner, upload_id) -> tuple[DirectUpload, MediaAsset]:
    """Turn a finished direct upload into a media asset, after checking the object's bytes.

    Call inside a transaction: the upload row stays locked until the job is created.
    Raises ApplicationError: 404 for an unknown (or another user's) upload, 409 when
    nothing was uploaded yet or the upload was already used, and as ``media_check``
    does, in which case the uploaded object is deleted.
    """
    upload = DirectUpload.objects.select_for_update().filter(owner=owner, pk=upload_id).first()
    if upload is None or not storage.direct_uploads_supported():
        raise ApplicationError("Not found.", code="not_found", status=404)
    if upload.used_at is not None:
        raise ApplicationError(
            "A job was already created from this upload.", code="upload_already_used",
            status=409,
        )
    size = storage.object_size(upload.key)
    if size is None:
        raise ApplicationError(
            "Nothing has been uploaded for this upload yet: PUT the file to its URL "
            "first." + (" The URL has expired; ask for a new one."
                        if upload.expires_at < timezone.now() else ""),
            code="upload_not_received", status=409,
        )
    try:
        with tempfile.NamedTemporaryFile(prefix="direct-upload-") as copy:
            # Over the plan's size limit: refused from the header, without downloading it.
            limits = billing_selectors.plan_limits_for_user(user=owner)
            _check_size(size, limits=limits)
            for chunk in storage.object_chunks(upload.key):
                copy.write(chunk)
            copy.flush()
            checked = media_check(owner=owner, size=size, path=copy.name)
    except ApplicationError as exc:
        # A refused file is deleted; an outage (503) keeps it for the client's retry.
        if exc.status < 500:
            storage.object_delete(upload.key)
        raise
    key = storage.media_key(owner_id=owner.pk, ext=checked.ext)
    storage.object_copy(upload.key, key)
    try:
        asset = MediaAsset.objects.create(
            owner=owner, file=key, original_name=upload.original_name,
            content_type=checked.content_type, kind=checked.kind, size_bytes=size,
            sha256=checked.sha256, duration_seconds=checked.duration_seconds or None,
        )
    except Exception:
        storage.object_delete(key)
        raise
    upload_key = upload.key
    transaction.on_commit(lambda: storage.object_delete(upload_key))
    return upload, asset


def direct_upload_mark_used(*, upload: DirectUpload, job) -> None:
    upload.used_at = timezone.now()
    upload.job = job
    upload.save(update_fields=["used_at", "job"])


def direct_uploads_sweep(*, now: datetime | None = None) -> int:
    """Delete objects of direct uploads never turned into a job. Run by celery beat.

    An upload slot left unused an hour past its URL's expiry loses its object and row,
    so abandoned or oversized uploads do not stay in the bucket at our cost.
    """
    now = now or timezone.now()
    stale = list(DirectUpload.objects.filter(
        used_at__isnull=True, expires_at__lt=now - timedelta(hours=1))[:500])
    for upload in stale:
        storage.object_delete(upload.key)
        upload.delete()
    return len(stale)
