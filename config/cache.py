"""The Django cache on Redis, failing open: nothing in it is worth failing a request for.

The cache holds request-rate counters (the API's throttles, allauth's login limits) and
the readiness probe's key, and copies of sessions (``cached_db``); sessions, idempotency
records and money live in PostgreSQL.
While Redis is down every call answers as if the key were absent (django-redis's
``IGNORE_EXCEPTIONS``), each failure is logged (``DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS``),
and requests go on unthrottled rather than failing.
"""

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger(__name__)
T = TypeVar("T")


class FailOpenClient(DefaultClient):
    def add(self, *args, **kwargs):
        try:
            return super().add(*args, **kwargs)
        except ConnectionInterrupted as exc:
            # allauth holds a lock taken with add() around each rate-limit check; refused
            # the lock for a second it answers "too many attempts", which would stop every
            # login while Redis is down. The lock counts as taken instead.
            logger.warning("cache add() while Redis is not answering: lock granted (%s)",
                           exc.__cause__ or exc)
            return True


# --- Read once: within a request or a job, each entry is read from Redis once ------------

# Within ``cache_read_once()``: the entries already read (or read ahead), by key.
_read_once: ContextVar[dict | None] = ContextVar("cache_read_once", default=None)
# What is read alongside a user's own cached entries (``generation_cached``'s ``also``):
# each function gives one key for a user's id (billing registers the user's plan).
_USER_COMPANIONS: list[Callable[[object], str]] = []


@contextmanager
def cache_read_once() -> Iterator[None]:
    """Within the block (a web request: ``ReadOnceMiddleware``; a worker's job), each
    entry read with ``cache_get_once`` comes from Redis once and is then kept; a change
    made within the block (``cache_set_once``, ``cache_forget_once``) is kept too."""
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def cache_get_once(key: str):
    """The cached value (None when absent, or while Redis is down), read once per block."""
    memo = _read_once.get()
    if memo is not None and key in memo:
        return memo[key]
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage falls back to the database
        value = None
    if memo is not None and value is not None:
        memo[key] = value
    return value


def cache_set_once(key: str, value, *, timeout: float) -> None:
    memo = _read_once.get()
    if memo is not None:
        memo[key] = value
    try:
        cache.set(key, value, timeout=timeout)
    except Exception:  # noqa: BLE001 - the answer stands; the next read tries again
        logger.debug("could not cache %s", key, exc_info=True)


def cache_forget_once(key: str) -> None:
    memo = _read_once.get()
    if memo is not None:
        memo.pop(key, None)
    cache.delete(key)


def cache_user_companion(key_for_user: Callable[[object], str]) -> None:
    """Read the entry ``key_for_user(user_id)`` alongside a user's own cached entries."""
    if key_for_user not in _USER_COMPANIONS:
        _USER_COMPANIONS.append(key_for_user)


def cache_user_companions(user_id) -> list[str]:
    """The keys to read ahead with a user's entry, within a ``cache_read_once`` block
    (outside one there is nowhere to keep them: none)."""
    if _read_once.get() is None:
        return []
    return [key_for_user(user_id) for key_for_user in _USER_COMPANIONS]


class ReadOnceMiddleware:
    """Each request reads a cache entry at most once (``cache_read_once``): an API upload
    asked for the owner's plan at the API's plan check, the size and quota checks, the
    quota admission and the cost cap, six reads of one Redis entry, and an API key's
    request reads its user's plan with the key itself (one round trip)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with cache_read_once():
            return self.get_response(request)


# --- Generations ---------------------------------------------------------------------------


def generation_renew(*generation_keys: str) -> None:
    """A new generation under each key: every copy cached under an older one is stale."""
    cache.set_many({key: uuid.uuid4().hex for key in generation_keys}, timeout=None)


def generation_cached(*, key: str, generation_key: str, load: Callable[[], T],
                      timeout: float, also: Sequence[str] = ()) -> tuple[T, str | None]:
    """``load()``'s answer, from the cache when a copy of the current generation is there.

    A copy is stored under the generation read *before* the database was read, so a copy
    read before a change was committed is never used after it (the change renews the
    generation once committed, ``generation_renew``). None is never cached. A cache
    outage reads the database. Returns the answer and the generation it is valid under
    (None when the cache did not answer), for a caller that re-stores it later.

    ``also``: other keys read in the same round trip and kept for ``cache_get_once``
    within the current ``cache_read_once`` block (see ``cache_user_companions``).
    """
    try:
        cached = cache.get_many([key, generation_key, *also])
        memo = _read_once.get()
        if memo is not None:
            for extra in also:
                if cached.get(extra) is not None:
                    memo.setdefault(extra, cached[extra])
        generation = cached.get(generation_key)
        if generation is None:
            generation = uuid.uuid4().hex
            if not cache.add(generation_key, generation, timeout=None):
                generation = cache.get(generation_key)
        entry = cached.get(key)
        if generation is not None and entry is not None and entry[0] == generation:
            return entry[1], generation
    except Exception:  # noqa: BLE001 - a cache outage falls back to the database
        generation = None
    value = load()
    if value is not None and generation is not None:
        generation_store(key=key, generation=generation, value=value, timeout=timeout)
    return value, generation


def generation_store(*, key: str, generation: str, value: object, timeout: float) -> None:
    """Cache ``value`` as valid under ``generation``; a cache outage only costs a read."""
    try:
        cache.set(key, (generation, value), timeout=timeout)
    except Exception:  # noqa: BLE001 - the next read goes to the database
        logger.debug("could not cache %s", key, exc_info=True)


def cache_forget_on_change(model, *, what: Callable, forget: Callable, uid: str) -> None:
    """Whenever a row of ``model`` is saved or deleted, ``forget(what(row))``: now, and
    again once the change is committed, so a copy cached from the old rows meanwhile (by
    another connection) is never used after it. ``what`` is read once, before the commit;
    a falsy answer forgets nothing."""

    def changed(sender, instance, **kwargs):
        subject = what(instance)
        if subject:
            forget(subject)
            transaction.on_commit(lambda: forget(subject))

    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid)
