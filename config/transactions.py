"""Transactions joined rather than nested, where a savepoint would buy nothing."""

from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction


def atomic_joined():
    """``transaction.atomic()``, or nothing when a transaction is already open.

    Nested ``atomic`` blocks cost a SAVEPOINT and a RELEASE each (two round trips). A step
    that raises only before it writes (a refused transition, a settlement found done) needs
    no savepoint: in the caller's transaction it simply joins it, so its writes commit or
    roll back with the caller's. Use plain ``transaction.atomic()`` where the caller must be
    able to catch an error after some writes and carry on.
    """
    if transaction.get_connection().in_atomic_block:
        return nullcontext()
    return transaction.atomic()
