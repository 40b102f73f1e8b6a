"""Per-key request rates for the API, kept in the Django cache.

A sliding window per key, estimated from two fixed ones: one counter per ``duration``
(``600/min`` → a minute), raised with the cache's atomic ``incr``, and the previous
window's count weighted by how much of it the sliding window still covers (the estimate
Cloudflare's rate limiting uses). On Redis that is one round trip for any rate (this
window's counter created with its expiry if absent, raised, and the previous one read,
pipelined), where DRF's ``SimpleRateThrottle`` reads and writes back the list of every
request time in the window (600 timestamps pickled both ways at the default read rate);
and, unlike a plain fixed window, a burst across a window boundary cannot pass at twice
the rate. Other caches (the README's local default) take the cache API: three calls.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)


class _ApiKeyThrottle(BaseThrottle):
    """A per-key request rate kept in the Django cache (Redis wherever REDIS_URL is set).

    Requests with a session are counted per user, on their own bucket. While the cache
    does not answer, requests go through (``config/cache.py``).
    """

    scope = ""
    setting = ""

    def __init__(self):
        self.num_requests, self.duration = SimpleRateThrottle.parse_rate(
            None, getattr(settings, self.setting))
        self._wait = 0.0

    def get_cache_key(self, request, view):
        if not self.applies(request):
            return None
        auth = request.auth
        ident = f"key-{auth.pk}" if getattr(auth, "pk", None) else f"user-{request.user.pk}"
        if not request.user.is_authenticated:
            ident = f"ip-{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

    def applies(self, request) -> bool:
        return True

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        left = (window + 1) * self.duration - now
        self._wait = max(1.0, left)
        counter, previous = f"w{window}:{key}", f"w{window - 1}:{key}"
        try:
            backend = caches["default"]
            if isinstance(backend, RedisCache):
                count, before = self._counts_redis(backend, counter, previous)
            else:
                count = self._count(counter)
                before = None if count is None else cache.get(previous)
            if count is None or count > self.num_requests:
                return count is None
        except Exception:  # noqa: BLE001 - fail open, as the cache does
            logger.warning("API throttle not counted: the cache did not answer", exc_info=True)
            return True
        # The sliding window still covers this share of the previous one.
        return count + (before or 0) * (left / self.duration) <= self.num_requests

    def _counts_redis(self, backend: RedisCache, counter: str,
                      previous: str) -> tuple[int, int]:
        """(this window's requests with this one, the previous window's) in one round trip.

        The counter is created at 0 with its expiry only if absent (``SET NX EX``), so the
        ``INCR`` after it never makes a counter without one; kept through the next window
        too, where it is the previous window's count. Raw integers, as django-redis keeps
        them, so the cache API reads the same keys."""
        client = backend.client.get_client(write=True)
        key = backend.make_and_validate_key(counter)
        # MULTI/EXEC, in the same round trip: nothing (an eviction) between SET and INCR.
        pipe = client.pipeline(transaction=True)
        pipe.set(key, 0, ex=2 * self.duration + 1, nx=True)
        pipe.incr(key)
        pipe.get(backend.make_and_validate_key(previous))
        _, count, before = pipe.execute()
        return int(count), int(before or 0)

    def _count(self, counter: str) -> int | None:
        """This window's requests so far, this one included; None if the cache lost it."""
        try:
            return cache.incr(counter)
        except ValueError:  # the window's first request (or a racing first one)
            pass
        # Kept through the next window too, where it is the previous window's count.
        if cache.add(counter, 1, timeout=2 * self.duration + 1):
            return 1
        try:
            return cache.incr(counter)
        except ValueError:
            # add() said taken but the key is gone: the cache is failing (it grants add()
            # while Redis does not answer, config/cache.py). Fail open.
            return None

    def wait(self) -> float:
        return self._wait


class ApiReadThrottle(_ApiKeyThrottle):
    scope = "api_read"
    setting = "API_THROTTLE_READ_RATE"

    def applies(self, request) -> bool:
        return request.method in ("GET", "HEAD", "OPTIONS")


class ApiWriteThrottle(_ApiKeyThrottle):
    scope = "api_write"
    setting = "API_THROTTLE_WRITE_RATE"

    def applies(self, request) -> bool:
        return request.method not in ("GET", "HEAD", "OPTIONS")
