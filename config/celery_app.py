"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from django.db import close_old_connections

from config import metrics
from config.log_context import log_context_enter, log_context_exit, task_ids

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("caption_generator")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each installed app's tasks.py.
app.autodiscover_tasks()


@task_prerun.connect(weak=False)
def _bind_log_context(task=None, **_kwargs):
    """Every line a task logs carries the ids its message was sent with (request, job, user)."""
    task.request.log_context_token = log_context_enter(**task_ids(task.request))


@task_postrun.connect(weak=False)
def _unbind_log_context(task=None, **_kwargs):
    token = getattr(task.request, "log_context_token", None)
    if token is not None:
        log_context_exit(token)


@task_prerun.connect(weak=False)
@task_postrun.connect(weak=False)
def _database_connections_between_tasks(task=None, **_kwargs):
    """What Django does around a request, around a task (``CELERY_DB_REUSE_MAX``): a
    connection older than CONN_MAX_AGE, or unusable after an error, is closed; one kept
    is checked before its next use (CONN_HEALTH_CHECKS), so a task after a database
    restart reconnects. A task run eagerly is inside its caller's work: left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@worker_process_init.connect(weak=False)
def _worker_metrics_start(**_kwargs):
    metrics.worker_heartbeat_start()


@worker_process_shutdown.connect(weak=False)
def _worker_metrics_stop(pid=None, **_kwargs):
    metrics.process_exited(pid or os.getpid())


@worker_init.connect(weak=False)
def _worker_metrics_exporter(**_kwargs):
    from django.conf import settings

    metrics.worker_exporter_start(port=settings.WORKER_METRICS_PORT,
                                  folder=settings.PROMETHEUS_MULTIPROC_DIR)
