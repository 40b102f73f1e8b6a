"""Reads for the job page's player and its downloads: where the upload plays from, and
what an export's file is called.

The browser plays the upload from a short-lived URL: a presigned GET where media is in
S3, otherwise our own signed URL (``captions:media_playback``), which checks the owner
too. Either stops working after ``CAPTIONS_PLAYBACK_EXPIRES_SECONDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from . import exports, storage
from .models import BurnInExport, BurnInStatus, CaptionJob, MediaAsset

PREVIEW_CONTENT_TYPE = "image/jpeg"


@dataclass(frozen=True)
class Playback:
    url: str
    kind: str  # "audio", "video" or "image"
    content_type: str
    poster_url: str = ""  # the preview still: a video's key frame, a small image

    @property
    def other_origin(self) -> str:
        """The storage's origin when the URL is not ours (the page's CSP must allow it)."""
        return url_origin(self.url)


def url_origin(url: str) -> str:
    """The origin of a URL on another host (a presigned bucket URL), or "" for ours."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def caption_job_playback(*, job: CaptionJob) -> Playback | None:
    """Where the job's upload plays from now, or None once it was deleted (retention)."""
    asset = job.asset
    if asset.purged_at is not None or not asset.file.name:
        return None
    return Playback(url=_signed_url(asset.file.name, asset.content_type), kind=asset.kind,
                    content_type=asset.content_type, poster_url=media_asset_preview_url(
                        asset=asset))


def media_asset_preview_url(*, asset: MediaAsset) -> str:
    """A short-lived URL of the upload's preview still, or "" when it has none (yet)."""
    if asset.purged_at is not None or not asset.preview_key:
        return ""
    return _signed_url(asset.preview_key, PREVIEW_CONTENT_TYPE)


def _signed_url(key: str, content_type: str) -> str:
    url = storage.playback_url_presigned(
        key, content_type=content_type,
        expires_seconds=settings.CAPTIONS_PLAYBACK_EXPIRES_SECONDS)
    return url or reverse("captions:media_playback", args=[storage.playback_token(key)])


def media_for_playback(*, owner, token: str) -> tuple[str, str]:
    """(key, content type) of the owner's upload or its preview a playback token names;
    Http404 when the token is forged, expired, or names someone else's upload
    (indistinguishable from a missing one)."""
    key = storage.playback_token_key(
        token, max_age=settings.CAPTIONS_PLAYBACK_EXPIRES_SECONDS)
    if key:
        mine = MediaAsset.objects.filter(owner=owner, purged_at__isnull=True)
        asset = mine.filter(file=key).first()
        if asset:
            return key, asset.content_type
        if mine.filter(preview_key=key).exists():
            return key, PREVIEW_CONTENT_TYPE
    raise Http404("No such media.")


def transcript_export_filename(*, job: CaptionJob, fmt: str) -> str:
    """The download's name: the upload's, with the format's extension (made safe)."""
    return exports.export_filename(job.asset.original_name, fmt)


def burn_in_filename(*, export: BurnInExport) -> str:
    """``interview.mp4`` gives ``interview-captioned.mp4`` (made safe like other exports)."""
    stem = exports.export_filename(export.job.asset.original_name, "mp4")[: -len(".mp4")]
    return f"{'video' if stem == 'transcript' else stem}-captioned.mp4"


def burn_in_download_response(*, export: BurnInExport) -> HttpResponse:
    """The export's MP4 as a download: a short-lived presigned URL where media is in S3
    (a redirect), otherwise streamed from local storage; always an attachment."""
    if export.status != BurnInStatus.DONE or not export.output_key:
        raise Http404("This export is not ready.")
    filename = burn_in_filename(export=export)
    url = storage.download_url_presigned(
        export.output_key, filename=filename, content_type="video/mp4",
        expires_seconds=settings.CAPTIONS_PLAYBACK_EXPIRES_SECONDS)
    if url is not None:
        response = HttpResponseRedirect(url)
    else:
        response = FileResponse(storage.file_open(export.output_key), as_attachment=True,
                                filename=filename, content_type="video/mp4")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response

