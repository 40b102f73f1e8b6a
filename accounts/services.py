"""Writes for API keys and idempotency records."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from config.cache import (
    cache_user_companions,
    generation_cached,
    generation_renew,
    generation_store,
)
from config.errors import ApplicationError

from .models import ApiKey, ApiKeyScope, IdempotencyRecord

API_KEY_PREFIX = "cg_live_"
# Visible part after "cg_live_": enough to tell keys apart in a list, useless to guess with.
API_KEY_VISIBLE_CHARS = 8
# last_used_at is a hint for the owner, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a key read for a request stays in the cache (any change to it or its user
# drops it at once): every API request authenticates, and the database read was half of
# a job detail request's time.
API_KEY_CACHE_SECONDS = 300
# A request still unanswered after this long is taken to have died (the body is already
# received when the key is claimed, so the work left is short).
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _api_key_state(key: ApiKey) -> dict:
    return {"prefix": key.prefix, "name": key.name, "scopes": key.scopes,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


def api_key_create(
    *, user, name: str, scopes: list[str], expires_at=None, actor=None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored or shown again.

    Raises ApplicationError(400) for an empty name, unknown scopes or a past expiry.
    """
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Give the key a name, such as the app that will use it."
    elif len(name) > 100:
        errors["name"] = "Use at most 100 characters."
    scopes = sorted(set(scopes or []))
    if not scopes or any(s not in ApiKeyScope.values for s in scopes):
        errors["scopes"] = f"Choose one or more of: {', '.join(ApiKeyScope.values)}."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ApplicationError("The API key could not be created.", code="invalid",
                               details=errors)
    # The 256-bit secret makes a plain SHA-256 safe to store: there is nothing to brute-force.
    visible = secrets.token_hex(API_KEY_VISIBLE_CHARS // 2)
    secret = f"{API_KEY_PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=name,
            prefix=f"{API_KEY_PREFIX}{visible}",
            key_hash=api_key_hash(secret),
            scopes=scopes,
            expires_at=expires_at,
        )
        audit_record(action=AuditAction.API_KEY_CREATED, target=key, actor=actor or user,
                     subject_user=user, after=_api_key_state(key))
    return key, secret


def api_key_revoke(*, key: ApiKey, actor=None) -> ApiKey:
    """Revoke a key from now on (by its owner, or ``actor`` from staff).

    Revoking a revoked key changes nothing and writes no audit row.
    """
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            before = _api_key_state(key)
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(action=AuditAction.API_KEY_REVOKED, target=key,
                         actor=actor or key.user, subject_user=key.user,
                         before=before, after=_api_key_state(key))
    return key


def _key_cache_key(key_hash: str) -> str:
    return f"accounts:api-key:{key_hash}"


def _key_generation_key(key_hash: str) -> str:
    return f"accounts:api-key:generation:{key_hash}"


def api_key_cache_forget(*, key_hashes) -> None:
    """A new generation for these keys: every cached copy made before is stale. Called
    whenever a key, or its user, is saved or deleted (``accounts.apps``)."""
    generation_renew(*(_key_generation_key(h) for h in key_hashes))


# A key's user never changes: which user a key hash belongs to, as this process has seen,
# so a request reads that user's cached entries (their plan) with the key, in one round
# trip. Bounded: forgotten wholesale when full, which costs a round trip per key, once.
_KEY_USERS: dict[str, int] = {}
_KEY_USERS_MAX = 10_000


def _api_key_lookup(key_hash: str) -> ApiKey | None:
    """The key with its user, cached under its generation (``config.cache``), so a copy
    read before a revocation was committed is never used after it."""
    user_id = _KEY_USERS.get(key_hash)
    key, generation = generation_cached(
        key=_key_cache_key(key_hash), generation_key=_key_generation_key(key_hash),
        load=lambda: ApiKey.objects.select_related("user").filter(key_hash=key_hash).first(),
        timeout=API_KEY_CACHE_SECONDS,
        also=cache_user_companions(user_id) if user_id is not None else ())
    if key is not None:
        key._cache_generation = generation
        if user_id is None:
            if len(_KEY_USERS) >= _KEY_USERS_MAX:
                _KEY_USERS.clear()
            _KEY_USERS[key_hash] = key.user_id
    return key


def api_key_authenticate(*, secret: str) -> ApiKey:
    """The active key for this secret.

    Raises ApplicationError(401) when the key is unknown, revoked, expired or its user
    is deactivated; the message says which, since the secret itself proves ownership.
    """
    key = _api_key_lookup(api_key_hash(secret)) if secret.startswith(API_KEY_PREFIX) else None
    now = timezone.now()
    if key is None or not key.user.is_active:
        raise ApplicationError("The API key is not valid.", code="invalid_api_key", status=401)
    if key.revoked_at is not None:
        raise ApplicationError("The API key was revoked.", code="revoked_api_key", status=401)
    if key.expires_at is not None and key.expires_at <= now:
        raise ApplicationError("The API key has expired.", code="expired_api_key", status=401)
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        if getattr(key, "_cache_generation", None):
            generation_store(key=_key_cache_key(key.key_hash), generation=key._cache_generation,
                             value=key, timeout=API_KEY_CACHE_SECONDS)
    return key


# --- Idempotency ------------------------------------------------------------------------


def idempotency_request_hash(*, method: str, path: str, fields: dict, files: dict) -> str:
    """A fingerprint of a request that does not depend on how it was encoded.

    Multipart boundaries and field order differ between two sends of the same request,
    so fields are hashed sorted and files by their content.
    """
    digest = hashlib.sha256()
    digest.update(f"{method} {path}\n".encode())
    digest.update(json.dumps(fields, sort_keys=True, cls=DjangoJSONEncoder).encode())
    for name in sorted(files):
        upload = files[name]
        file_digest = hashlib.sha256()
        upload.seek(0)
        for chunk in upload.chunks():
            file_digest.update(chunk)
        upload.seek(0)
        digest.update(f"\n{name}:{upload.name}:{file_digest.hexdigest()}".encode())
    return digest.hexdigest()


def idempotency_begin(*, user, key: str, request_hash: str) -> IdempotencyRecord | None:
    """Claim an idempotency key for a new request.

    Returns None when the request should run now, or the finished record to replay.
    Raises ApplicationError 422 when the key was used with a different request, 409
    while the first request with this key is still running, 400 for a bad key.
    """
    if not key or len(key) > 255 or not key.isprintable():
        raise ApplicationError(
            "The Idempotency-Key header must be 1 to 255 printable characters.",
            code="invalid_idempotency_key",
        )
    cutoff = timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    IdempotencyRecord.objects.filter(user=user, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(user=user, key=key, request_hash=request_hash)
        return None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:  # deleted in between: the earlier request failed; run this one.
        return idempotency_begin(user=user, key=key, request_hash=request_hash)
    if record.request_hash != request_hash:
        raise ApplicationError(
            "This Idempotency-Key was already used with a different request. Use a new key "
            "for a new request.",
            code="idempotency_key_reused",
            status=422,
        )
    if record.status_code is None and record.created_at < timezone.now() - IN_FLIGHT_TIMEOUT:
        # The first request died without an answer (a killed process): let this one run.
        IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
        return idempotency_begin(user=user, key=key, request_hash=request_hash)
    if record.status_code is None:
        raise ApplicationError(
            "A request with this Idempotency-Key is still being processed. Retry shortly.",
            code="idempotency_key_in_use",
            status=409,
            headers={"Retry-After": "1"},
        )
    return record


def idempotency_finish(
    *, user, key: str, status_code: int, body, headers: dict
) -> None:
    """Store the response to replay; a server error releases the key for a retry."""
    records = IdempotencyRecord.objects.filter(user=user, key=key, status_code__isnull=True)
    if status_code >= 500:
        records.delete()
        return
    body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    records.update(status_code=status_code, response_body=body, response_headers=headers)


def idempotency_release(*, user, key: str) -> None:
    IdempotencyRecord.objects.filter(user=user, key=key, status_code__isnull=True).delete()
