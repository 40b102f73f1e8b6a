"""The Django cache on Redis, failing open: nothing in it is worth failing a request for.

The cache holds request-rate counters (the API's throttles, allauth's login limits) and
the readiness probe's key, and copies of sessions (``cached_db``); sessions, idempotency
records and money live in PostgreSQL.
While Redis is down every call answers as if the key were absent (django-redis's
``IGNORE_EXCEPTIONS``), each failure is logged (``DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS``),
and requests go on unthrottled rather than failing.
"""

import logging

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger(__name__)


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
