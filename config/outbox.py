"""The outbox: one way to send a task after a commit, one sweep for what was left pending.

A row that needs a task (a queued job, an overage report, a webhook delivery) is written
first, in the transaction that made the change, and stays *pending* until its task has
done its work. The task's message is sent only once that transaction commits
(``outbox_send_on_commit``). When the broker fails at that moment nothing is lost and
the customer's request still succeeds: the failure is logged, the row stays pending,
and ``outbox_sweep`` (celery beat, every minute) sends again every row that has been
pending longer than ``OUTBOX_RESEND_AFTER_SECONDS``. The same policy holds for every
kind of row; each app says which of its rows are pending by registering a
``PendingSource`` in its ``AppConfig.ready``.

Sending twice is harmless: every task behind the outbox checks its row under a lock
and does nothing when the work is done or running elsewhere.

Tasks are looked up by their registered name, so this module (and the services that
call it) never imports a ``tasks.py``: arrows point from tasks to services, not back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .log_context import log_context

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One task to send: its registered name, arguments and routing."""

    task: str
    args: tuple = ()
    queue: str | None = None
    countdown: float | None = None
    # What the row is, for the logs: "caption job 5f1…".
    subject: str = ""
    # Celery message headers: the ids bound where the message was made (the request id
    # of the upload that created a job), which the worker binds again around the task
    # (config.celery_app), so its log lines carry them.
    headers: dict = field(default_factory=log_context)


@dataclass(frozen=True)
class PendingSource:
    """Rows of one kind left pending: ``stale(cutoff=, now=)`` returns their messages.

    ``stale`` finds the rows pending since before ``cutoff`` and marks them as sent at
    ``now`` (so the next sweep waits a full period again) in the same call.
    """

    name: str
    stale: Callable[..., Iterable[Message]]
    options: dict = field(default_factory=dict)


_SOURCES: dict[str, PendingSource] = {}


def outbox_source_register(source: PendingSource) -> None:
    """Called by an app's ``ready()``; registering the same name again replaces it."""
    _SOURCES[source.name] = source


def _registered_task(name: str):
    """The task registered under ``name``; the apps' tasks modules are imported on first use.

    A worker imports them as it starts; a web process only when it first sends a task.
    """
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def outbox_send(message: Message) -> bool:
    """Send the message now. Never raises: False when the broker refused it.

    The row it is about stays pending, so the sweep sends it again later.
    """
    try:
        task = _registered_task(message.task)
        options = {"headers": dict(message.headers)} if message.headers else {}
        task.apply_async(args=list(message.args), queue=message.queue,
                         countdown=message.countdown, **options)
    except Exception:  # noqa: BLE001 - the broker's failures are many; the sweep recovers
        logger.exception("could not send %s for %s; the outbox sweep will send it again",
                         message.task, message.subject or message.args)
        return False
    return True


def outbox_send_on_commit(message: Message) -> None:
    """Send the message once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: outbox_send(message))


def outbox_sweep(*, now: datetime | None = None, sources: Iterable[str] | None = None) -> dict:
    """Send again every row pending longer than OUTBOX_RESEND_AFTER_SECONDS.

    Returns how many messages each source sent, e.g. ``{"caption_job": 2, ...}``.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER_SECONDS)
    names = list(sources) if sources is not None else sorted(_SOURCES)
    sent: dict[str, int] = {}
    for name in names:
        messages = list(_SOURCES[name].stale(cutoff=cutoff, now=now))
        for message in messages:
            logger.warning("resending %s for %s: it was left pending", message.task,
                           message.subject or message.args)
        sent[name] = sum(outbox_send(message) for message in messages)
    return sent


@shared_task(name="config.outbox.outbox_sweep")
def outbox_sweep_task() -> dict:
    """Run by celery beat every minute."""
    return outbox_sweep()
