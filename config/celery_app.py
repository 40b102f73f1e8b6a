"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("caption_generator")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each installed app's tasks.py.
app.autodiscover_tasks()
