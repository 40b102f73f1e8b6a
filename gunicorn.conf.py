"""Gunicorn reads this file from the working folder on its own (the images' /app).

With PROMETHEUS_MULTIPROC_DIR set, every web worker writes its metrics into that folder
and /metrics merges them (config/metrics.py): the folder starts empty, and a worker that
exits takes its live gauges with it.
"""

import os
import shutil


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
