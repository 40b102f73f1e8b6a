"""Media assets: uploads checked from their bytes, then stored under a key the server makes.

Both ways in, a file sent with the job request and a direct upload PUT to S3, go
through ``media_check`` (size, type from the bytes, plan features) before anything is
kept; a refused direct upload is deleted.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.plans import Feature
from config.errors import ApplicationError

from .. import storage
from ..models import DirectUpload, MediaAsset, MediaKind
from ..uploads import ACCEPTED_TYPES, SNIFF_BYTES, clean_original_name, detect_content_type


@dataclass(frozen=True)
class CheckedMedia:
    content_type: str
    kind: str
    ext: str


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


def _check_plan_allows_kind(kind: str, *, limits) -> None:
    """403 for a video on a plan without video (the plan catalogue's features)."""
    if kind == MediaKind.VIDEO and not limits.has(Feature.VIDEO):
        raise ApplicationError(
            f"Video uploads are not part of the {limits.plan.name} plan. Upgrade on the "
            "billing page, or upload the sound track as audio.",
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


def media_check(*, owner, size: int | None, head: bytes) -> CheckedMedia:
    """Check a file before it is kept: its size, its type from its first bytes, the plan.

    Raises ApplicationError: 400 for an empty file, 413 over the owner's plan's size
    limit, 415 when the bytes are not audio, video or an image we accept, 403 for a
    video on a plan without video.
    """
    limits = billing_selectors.plan_limits_for_user(user=owner)
    _check_size(size, limits=limits)
    content_type = _check_content_type(head)
    kind, ext = ACCEPTED_TYPES[content_type]
    _check_plan_allows_kind(kind, limits=limits)
    return CheckedMedia(content_type=content_type, kind=kind, ext=ext)


def media_asset_create(*, owner, upload) -> MediaAsset:
    """Store an upload under a server-generated key after checking its bytes.

    Raises ApplicationError as ``media_check`` does, and 503 when the storage does not
    answer. Nothing is stored then.
    """
    upload.seek(0)
    checked = media_check(owner=owner, size=upload.size, head=upload.read(SNIFF_BYTES))
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    stored_key = storage.file_save(storage.media_key(owner_id=owner.pk, ext=checked.ext), upload)
    try:
        return MediaAsset.objects.create(
            owner=owner, file=stored_key, original_name=clean_original_name(upload.name or ""),
            content_type=checked.content_type, kind=checked.kind, size_bytes=upload.size,
            sha256=digest.hexdigest(),
        )
    except Exception:
        # No row may point at a missing object, and no object is left without a row.
        storage.file_delete(stored_key)
        raise


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
        checked = media_check(owner=owner, size=size,
                              head=storage.object_head_bytes(upload.key, SNIFF_BYTES))
    except ApplicationError:
        storage.object_delete(upload.key)
        raise
    digest = hashlib.sha256()
    for chunk in storage.object_chunks(upload.key):
        digest.update(chunk)
    key = storage.media_key(owner_id=owner.pk, ext=checked.ext)
    storage.object_copy(upload.key, key)
    try:
        asset = MediaAsset.objects.create(
            owner=owner, file=key, original_name=upload.original_name,
            content_type=checked.content_type, kind=checked.kind, size_bytes=size,
            sha256=digest.hexdigest(),
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
