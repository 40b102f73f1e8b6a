"""The one gateway to media storage: django-storages' S3 in production, local disk in development.

Every read, write and delete of an upload or a result goes through here, so retries,
timeouts and what a storage outage looks like to a customer are decided in one place.
Direct uploads (presigned PUTs, object checks, copies) exist only where media is in S3.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, get_available_overwrite_name, is_seekable

from config.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)
# S3's answers that mean "not now" rather than something about the object or our request.
_BUSY_CODES = {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"}
# Names tried for one save before the store is taken to be failing.
_FREE_NAME_TRIES = 10
# User metadata naming the save that stored a one-part object (``MediaS3Storage``).
SAVE_ID_METADATA = "save-id"
# The max_length of the save in progress (``MediaS3Storage.save``), per thread and task.
_SAVE_MAX_LENGTH: ContextVar[int | None] = ContextVar("media_save_max_length", default=None)


class StorageUnavailable(ServiceUnavailable):
    """503 with Retry-After: the storage did not answer; nothing was changed."""

    def __init__(self, doing: str = "the upload was not saved"):
        super().__init__(
            f"Our file storage is not answering right now, so {doing}. Please try again in "
            "a minute.",
            code="storage_unavailable", service="storage", retry_after=60,
        )


def _http_status(exc: ClientError) -> int:
    """The HTTP status S3 answered a refused request with (0 when none came back)."""
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0


def storage_not_answering(exc: BaseException) -> bool:
    """True when ``exc`` says the storage did not answer (refused, reset or timed-out
    connections, 5xx and throttling replies), not something about the object (missing,
    forbidden) or a mistake in our request."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return _http_status(exc) >= 500 or error.get("Code") in _BUSY_CODES
    if isinstance(exc, FileNotFoundError):
        return False
    return isinstance(exc, BotoConnectionError | HTTPClientError | OSError)


@contextmanager
def _unavailable_as_503(doing: str):
    """Turn the storage not answering into StorageUnavailable; other errors pass."""
    try:
        yield
    except STORAGE_ERRORS as exc:
        if not storage_not_answering(exc):
            raise
        logger.warning("storage not answering, so %s: %s: %s", doing, type(exc).__name__, exc)
        raise StorageUnavailable(doing) from exc


class MediaS3Storage(S3Storage):
    """django-storages' S3 backend, saving a one-part object with one conditional PUT.

    With ``file_overwrite=False`` (ours: an existing object is never replaced) the base
    class asks S3 whether the name is taken (a HEAD) before every save, then uploads
    through the transfer manager (a thread pool and futures) even for one part. Here an
    object of up to one part goes up as a single ``PutObject`` with ``If-None-Match: *``:
    S3 itself refuses to replace an object (412), with no window between the check and
    the write, and only then is a free name looked for the way the base class does.
    Larger objects, gzip, and ``file_overwrite=True`` take the base class's path.
    """

    def save(self, name, content, max_length=None):
        # Django passes the field's max_length to get_available_name only; a free name
        # looked for later (in _save) must respect it too.
        token = _SAVE_MAX_LENGTH.set(max_length)
        try:
            return super().save(name, content, max_length=max_length)
        finally:
            _SAVE_MAX_LENGTH.reset(token)

    def get_available_name(self, name, max_length=None):
        if self.file_overwrite:
            return super().get_available_name(name, max_length)
        # Settled in _save: by the conditional PUT, or by the base class's HEAD below.
        return get_available_overwrite_name(clean_name(name), max_length)

    def _free_name(self, name):
        return S3Storage.get_available_name(self, name, _SAVE_MAX_LENGTH.get())

    def _save(self, name, content):
        size = getattr(content, "size", None)
        if (self.file_overwrite or self.gzip or size is None
                or size > self.transfer_config.multipart_threshold):
            if not self.file_overwrite:
                name = self._free_name(name)
            return super()._save(name, content)
        if is_seekable(content):
            content.seek(0)
        body = content.read()  # read once: a retry under another name sends these bytes
        if isinstance(body, str):
            body = body.encode(getattr(content, "encoding", None) or "utf-8")
        # Names this save: a 412 on an object carrying it is our own PUT, stored, whose
        # answer was lost and which botocore sent again; not another file's name.
        save_id = uuid.uuid4().hex
        for _attempt in range(_FREE_NAME_TRIES):
            cleaned = clean_name(name)
            key = self._normalize_name(cleaned)
            params = self._get_write_parameters(key, content)
            params["Metadata"] = {**params.get("Metadata", {}), SAVE_ID_METADATA: save_id}
            try:
                self.connection.meta.client.put_object(
                    Bucket=self.bucket_name, Key=key, Body=body, IfNoneMatch="*", **params)
            except ClientError as exc:
                if _http_status(exc) != 412:
                    raise
                if self._saved_by(key, save_id):
                    return cleaned
                name = self._free_name(name)  # taken: a free name, as the base class
                continue
            return cleaned
        # Every free name found was taken by the time it was written: a store refusing
        # all conditional PUTs, not a race; said as the storage not answering.
        raise OSError(f"S3 refused {_FREE_NAME_TRIES} conditional PUTs for {name!r}")

    def _saved_by(self, key: str, save_id: str) -> bool:
        try:
            head = self.connection.meta.client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if _http_status(exc) == 404:
                return False  # deleted since it refused us: not ours, and the name is free
            raise
        return head.get("Metadata", {}).get(SAVE_ID_METADATA) == save_id


def media_key(*, owner_id, ext: str) -> str:
    """A new, server-generated key for an owner's media; the client's name is never used."""
    return f"media/{owner_id}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{ext}"


def burn_in_key(*, owner_id, export_id) -> str:
    """Where a burned-in MP4 export is kept: the owner's, named by the export's id."""
    return f"exports/{owner_id}/{timezone.now():%Y/%m}/{export_id}.mp4"


def transcribe_files_prefix(*, job_id) -> str:
    """Where the managed engine keeps a job's files (Transcribe's result, converted audio)."""
    return f"{settings.TRANSCRIBE_OUTPUT_PREFIX}{job_id}/"


def file_save(key: str, content) -> str:
    """Store ``content`` under ``key``; returns the key used. Raises StorageUnavailable."""
    try:
        return default_storage.save(key, content)
    except STORAGE_ERRORS as exc:
        logger.warning("storing %s failed: %s", key, exc)
        raise StorageUnavailable() from exc


def file_delete(key: str) -> None:
    """Delete the object; an object already gone is not an error."""
    if key:
        default_storage.delete(key)


def file_download(key: str, path: str) -> None:
    """Copy the stored object to the local file ``path``.

    Raises StorageUnavailable when the storage does not answer (the object is still
    there: trying later can work), FileNotFoundError when the object is gone.
    """
    doing = "the file could not be read"
    client = _client()
    if client is not None:
        _s3_download(client, key, path, doing=doing)
        return
    with _unavailable_as_503(doing):
        src = default_storage.open(key, "rb")
    with src, open(path, "wb") as dst:
        while True:
            # Only the reads are storage's: a full local disk is not a storage outage.
            with _unavailable_as_503(doing):
                chunk = src.read(1 << 20)
            if not chunk:
                return
            dst.write(chunk)


def _s3_download(client, key: str, path: str, *, doing: str) -> None:
    """One GET (django-storages' open and read cost a HEAD, then a HEAD and a GET)."""
    try:
        with _unavailable_as_503(doing):
            body = client.get_object(Bucket=default_storage.bucket_name, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise FileNotFoundError(key) from exc
        raise
    with body, open(path, "wb") as dst:
        while True:
            with _unavailable_as_503(doing):
                chunk = body.read(1 << 20)
            if not chunk:
                return
            dst.write(chunk)


# --- Playback: short-lived URLs a browser can play or show the upload from ---------------

_PLAYBACK_SALT = "captions.storage.playback"


def playback_url_presigned(key: str, *, content_type: str, expires_seconds: int) -> str | None:
    """A presigned GET for the object, shown inline; None where media is not in S3."""
    client = _browser_client()
    if client is None:
        return None
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": default_storage.bucket_name, "Key": key,
                "ResponseContentType": content_type, "ResponseContentDisposition": "inline"},
        ExpiresIn=expires_seconds,
    )


def download_url_presigned(key: str, *, filename: str, content_type: str,
                           expires_seconds: int) -> str | None:
    """A presigned GET that downloads the object as ``filename``; None where media is not
    in S3 (our own download view serves it then)."""
    client = _client()
    if client is None:
        return None
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": default_storage.bucket_name, "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition_header(True, filename)},
        ExpiresIn=expires_seconds,
    )


def playback_token(key: str) -> str:
    """A signed, timestamped token naming ``key``, for our own playback view (local disk)."""
    return signing.dumps(key, salt=_PLAYBACK_SALT)


def playback_token_key(token: str, *, max_age: int) -> str | None:
    """The key a playback token names, or None when it is forged or older than max_age."""
    try:
        return signing.loads(token, salt=_PLAYBACK_SALT, max_age=max_age)
    except signing.BadSignature:
        return None


def file_open(key: str):
    """The stored object opened for reading (a Django File with ``size``)."""
    with _unavailable_as_503("the file could not be read"):
        return default_storage.open(key, "rb")


# --- Direct uploads (S3 only) --------------------------------------------------------------


def _client():
    connection = getattr(default_storage, "connection", None)
    return connection.meta.client if connection is not None else None


@functools.cache
def _client_for_endpoint(endpoint_url: str, region_name: str, config):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region_name, config=config)


def _browser_client():
    """The client that signs URLs a browser will open: the storage's own, or one for
    AWS_S3_PUBLIC_ENDPOINT_URL where the browser reaches the store by another name.
    Signing makes no request, so that name need not resolve from here."""
    client = _client()
    public = settings.AWS_S3_PUBLIC_ENDPOINT_URL
    if client is None or not public or public == client.meta.endpoint_url:
        return client
    return _client_for_endpoint(public, client.meta.region_name, client.meta.config)


def direct_uploads_supported() -> bool:
    """True where media is kept in S3, so clients can PUT files to a presigned URL."""
    return _client() is not None


def presigned_put_url(key: str, *, expires_seconds: int) -> str:
    return _browser_client().generate_presigned_url(
        "put_object", Params={"Bucket": default_storage.bucket_name, "Key": key},
        ExpiresIn=expires_seconds, HttpMethod="PUT",
    )


def object_size(key: str) -> int | None:
    """The object's size in bytes, or None when nothing was uploaded under the key."""
    client = _client()
    try:
        with _unavailable_as_503("the upload could not be checked"):
            return client.head_object(Bucket=default_storage.bucket_name,
                                      Key=key)["ContentLength"]
    except client.exceptions.ClientError:
        return None


def object_chunks(key: str, size: int = 1 << 20) -> Iterator[bytes]:
    with _unavailable_as_503("the upload could not be checked"):
        body = _client().get_object(Bucket=default_storage.bucket_name, Key=key)["Body"]
        yield from body.iter_chunks(size)


def object_copy(source_key: str, key: str) -> None:
    bucket = default_storage.bucket_name
    with _unavailable_as_503("the upload was not saved"):
        _client().copy_object(Bucket=bucket, Key=key,
                              CopySource={"Bucket": bucket, "Key": source_key})


def object_delete(key: str) -> None:
    client = _client()
    if client is not None:
        client.delete_object(Bucket=default_storage.bucket_name, Key=key)


def prefix_delete(prefix: str) -> int:
    """Delete every object under ``prefix`` (S3 only; nothing to do on disk). Returns how many.

    Used for what the managed engine left under its job's prefix (Transcribe's result,
    converted audio) when the job's results go.
    """
    client = _client()
    if client is None or not prefix.endswith("/"):
        return 0
    bucket, deleted = default_storage.bucket_name, 0
    with _unavailable_as_503("the managed engine's files were not deleted"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    return deleted
