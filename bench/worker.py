"""The pipeline benchmark's Celery worker: the product's worker with instant engines.

    python bench/worker.py -Q gpu,default,bench --concurrency 2

Everything around the engines is the product's own code: the task, the state machine,
the lease, S3 downloads, the cost and usage ledgers, the quota ledger, the outbox. Only
ffprobe, ffmpeg and Whisper are swapped (in this process only) for functions that
answer at once with a two-second recording that says one sentence; the caption writer
is the offline one (``CAPTION_WRITER=local``). It also registers ``bench.empty``, a
task that only records when it ran: the ceiling a job's task is compared with.

Each task's SQL statements, row locks and commits are counted (a database execute
wrapper and a wrapper around the connection's commit) and added to Redis counters
when the task ends, so the benchmark can say how much database work one job costs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COUNTERS = "bench:counters"
EMPTY_TIMES = "bench:empty"


def install_instant_engines() -> None:
    import numpy as np

    from engines import media, stt
    from engines.stt.model import Segment, TranscriptionResult

    def probe(path, **_kwargs):
        return media.MediaInfo(format_name="wav", duration_seconds=2.0, has_audio=True,
                               has_video=False)

    def decode_audio(path, **_kwargs):
        return np.zeros(2 * media.SAMPLE_RATE, dtype=np.float32)

    def transcribe(audio, config, **_kwargs):
        result = TranscriptionResult(
            language="en", segments=[Segment(0.0, 2.0, "Hello from the benchmark.")],
            windows=1)
        return result, {"model": "instant", "checkpoint_sha256": "0" * 64}

    media.probe = probe
    media.decode_audio = decode_audio
    stt.transcribe = transcribe


class _Counts:
    queries = 0
    locks = 0
    commits = 0


def install_counters() -> None:
    from celery.signals import task_postrun, task_prerun, worker_process_init
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    def count(execute, sql, params, many, context):
        _Counts.queries += 1
        upper = sql.lstrip()[:8].upper()
        if "FOR UPDATE" in sql.upper():
            _Counts.locks += 1
        if not context["connection"].in_atomic_block and not upper.startswith("SELECT"):
            _Counts.commits += 1  # a write in autocommit mode is its own transaction
        return execute(sql, params, many, context)

    original_commit = BaseDatabaseWrapper.commit

    def commit(self):
        _Counts.commits += 1
        return original_commit(self)

    BaseDatabaseWrapper.commit = commit

    def start(**_kwargs):
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)
        _Counts.queries = _Counts.locks = _Counts.commits = 0

    clients = []  # one Redis client per process: counting must not cost a connection

    def flush(task=None, **_kwargs):
        import redis
        from django.conf import settings

        if not clients:
            clients.append(redis.Redis.from_url(settings.REDIS_URL))
        pipe = clients[0].pipeline()
        prefix = "empty" if task is not None and task.name == "bench.empty" else "job"
        pipe.hincrby(COUNTERS, f"{prefix}_tasks", 1)
        pipe.hincrby(COUNTERS, f"{prefix}_queries", _Counts.queries)
        pipe.hincrby(COUNTERS, f"{prefix}_locks", _Counts.locks)
        pipe.hincrby(COUNTERS, f"{prefix}_commits", _Counts.commits)
        pipe.execute()

    worker_process_init.connect(start, weak=False)
    task_prerun.connect(start, weak=False)
    task_postrun.connect(flush, weak=False)


def main() -> None:
    import django

    django.setup()
    from bench.harness import raise_plan_limits

    raise_plan_limits()
    install_instant_engines()
    install_counters()
    import redis
    from celery import shared_task
    from django.conf import settings

    from config.celery_app import app

    client = redis.Redis.from_url(settings.REDIS_URL)

    @shared_task(name="bench.empty")
    def empty() -> None:
        client.rpush(EMPTY_TIMES, time.time())

    app.worker_main(["worker", "--loglevel", os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
                     "--without-gossip", "--without-mingle", "--without-heartbeat",
                     *sys.argv[1:]])


if __name__ == "__main__":
    main()
