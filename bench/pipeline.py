"""Jobs through the real worker with instant engines, against an empty task's round trip.

    python bench/pipeline.py            # 2,000 jobs, 300 paced at 70% of capacity
    python bench/pipeline.py --quick    # 200 jobs, 60 paced (under three minutes)

Production settings on loopback (``config.settings.bench``; PostgreSQL database
``cg_bench_pipeline``, Redis db 12, cleared; a moto S3 server), one Studio customer,
and ``bench/worker.py``: the product's Celery worker with ffprobe, ffmpeg and Whisper
swapped for instant ones (``--concurrency`` processes, prefork, default 2). Each job is
submitted through ``captions.services.caption_job_submit`` with its own small WAV (the
file check, S3, the quota ledger, the outbox).

1. ceiling: N empty tasks (``bench.empty``) sent at once; tasks per second from the
   first to the last one run;
2. capacity: N jobs submitted (from ``--submitters`` processes) while the worker does not
   consume the job queue (Celery's ``cancel_consumer``), then released at once
   (``add_consumer``); completed jobs per second from the first start to the last
   finish, with the SQL statements, row locks and commits per job counted in the
   worker;
3. latency: M jobs submitted at 70% of the measured capacity; submit-to-done
   time (from the submit call's return to the job's ``finished_at``) p50/p95, less the
   instant engines' own time (none), is the pipeline's overhead.

The CPU time of the worker's processes and of the database backends serving them is
read from /proc for phases 1 and 2: CPU per job against CPU per empty task is a share
that holds on a machine shared with other work, where tasks/s do not. In phase 3 the
submitting processes and this one (the S3 server runs in it) are read too: what a paced
job costs the whole machine, and how many of its cores that takes at the paced rate
(at or above all of them, the latency is a queue's waiting, not the pipeline's).

Last line: ``RESULT jobs_per_s=… ceiling_ratio=… overhead_p50_ms=… queries_per_job=…``
(and ``cpu_ratio=…``, ``job_cpu_ms=…``).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402
from bench.worker import COUNTERS, EMPTY_TIMES  # noqa: E402


def _wav(i: int) -> bytes:
    """Two seconds of quiet 16 kHz audio, different for every ``i`` (its own sha256)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<q", i) + b"\0" * (64000 - 8))
    return buf.getvalue()


def _submit(user, i: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from captions import services

    upload = SimpleUploadedFile(f"bench-{i}.wav", _wav(i), content_type="audio/wav")
    return services.caption_job_submit(owner=user, upload=upload, options={})


# --- Submitting processes ----------------------------------------------------------------
# Jobs are submitted from processes, as the web tier's gunicorn workers submit them: threads
# of one process hold each other up on the GIL while one of them holds the owner's row
# lock in PostgreSQL, which made every job wait for the benchmark rather than for the
# pipeline (submit-to-done p50 166 ms from 4 threads against 19 ms from 1, at 18 jobs/s).

_SUBMITTER: dict = {}


def _submitter_start(env: dict, user_pk: int) -> None:
    os.environ.update(env)
    import django

    django.setup()
    harness.raise_plan_limits()
    from accounts.models import User

    _SUBMITTER["user"] = User.objects.get(pk=user_pk)


def _submit_one(i: int):
    return _submit(_SUBMITTER["user"], i).pk


def _submit_paced(item: tuple[int, float]):
    """Submit job ``i`` at wall-clock time ``at`` (or at once when late): its id and the
    time the submit call returned."""
    i, at = item
    pause = at - time.time()
    if pause > 0:
        time.sleep(pause)
    pk = _submit_one(i)
    return pk, time.time()


def _submitters(env: dict, user, count: int):
    """``count`` submitting processes, each with its own Django and database connection."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # nothing of this process's connections goes to the children
    return multiprocessing.get_context("spawn").Pool(
        count, initializer=_submitter_start, initargs=(env, user.pk))


class CpuMeter:
    """CPU seconds used by the worker (its processes, with their children), by the
    PostgreSQL backends of the benchmark's database other than this process's own, and
    by any other processes named at ``start``: a figure per task that holds on a machine
    shared with other work."""

    def __init__(self, worker_pid: int, db_url: str):
        self.worker_pid, self.db_url = worker_pid, db_url

    def _groups(self) -> dict[str, list[int]]:
        from django.db import connection

        connection.ensure_connection()  # this process's own backend, whichever it is now
        own = connection.connection.info.backend_pid
        return {"worker": [self.worker_pid, *harness.children(self.worker_pid)],
                "database": [p for p in harness.db_backends(self.db_url) if p != own],
                **self.others}

    def start(self, **others: list[int]) -> None:
        self.others = others
        self.before = {pid: seconds for pids in self._groups().values()
                       for pid, seconds in harness.cpu(pids).items()}

    def stop(self, tasks: int) -> float:
        """CPU ms per task, all groups together; ``self.split`` keeps them apart."""
        self.split = {name: 1000 * sum(seconds - self.before.get(pid, 0.0)
                                       for pid, seconds in harness.cpu(pids).items())
                      / max(1, tasks)
                      for name, pids in self._groups().items()}
        return sum(self.split.values())


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _final_count(ids) -> int:
    from captions.models import FINAL_STATUSES, CaptionJob

    return CaptionJob.objects.filter(pk__in=ids, status__in=FINAL_STATUSES).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--paced", type=int)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--load", type=float, default=0.7, help="share of capacity, phase 3")
    parser.add_argument("--submitters", type=int, default=4, help="submitting processes")
    args = parser.parse_args()
    n = args.jobs or (200 if args.quick else 2000)
    m = args.paced or (60 if args.quick else 300)

    print(f"# machine: {harness.machine()}", flush=True)
    os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    env = harness.prepare(name="pipeline")
    import redis
    from celery import current_app
    from django.conf import settings

    from captions.models import CaptionJob, JobStatus

    client = redis.Redis.from_url(settings.REDIS_URL)
    user, _secret = harness.seed_customer()
    queues = f"{settings.CAPTIONS_STT_QUEUE},{settings.CAPTIONS_DEFAULT_QUEUE},bench"
    log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)
    worker = subprocess.Popen(
        [harness.PYTHON, "bench/worker.py", "-Q", queues, "--concurrency",
         str(args.concurrency), "--pool", "prefork", "--prefetch-multiplier", "1"],
        cwd=harness.ROOT, env={**env, "WHISPER_PRELOAD": "false"}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Warm-up: every worker process has run an empty task and a job.
        for _ in range(args.concurrency * 2):
            current_app.send_task("bench.empty", queue="bench")
        warm = [_submit(user, -1 - i).pk for i in range(args.concurrency * 2)]
        _wait(lambda: _final_count(warm) == len(warm), timeout=120, what="the warm-up jobs")
        bad = CaptionJob.objects.filter(pk__in=warm).exclude(status=JobStatus.DONE)
        if bad.exists():
            raise SystemExit("warm-up jobs did not finish: "
                             f"{list(bad.values('status', 'error_message'))}")

        # 1. Ceiling: empty tasks.
        meter = CpuMeter(worker.pid, env["DATABASE_URL"])
        client.delete(EMPTY_TIMES)
        meter.start()
        for _ in range(n):
            current_app.send_task("bench.empty", queue="bench")
        _wait(lambda: client.llen(EMPTY_TIMES) >= n, timeout=300, what="the empty tasks")
        times = sorted(float(t) for t in client.lrange(EMPTY_TIMES, 0, -1))
        ceiling = (n - 1) / (times[-1] - times[0])
        empty_cpu = meter.stop(n)
        print(f"ceiling   {ceiling:8.1f} empty tasks/s ({n} tasks), {empty_cpu:.2f} ms CPU each "
              f"(worker {meter.split['worker']:.2f}, database {meter.split['database']:.2f})",
              flush=True)

        # 2. Capacity: N jobs queued while the worker does not consume, then released.
        stt_queue = settings.CAPTIONS_STT_QUEUE
        current_app.control.cancel_consumer(stt_queue, reply=True, timeout=10)
        started = time.perf_counter()
        with _submitters(env, user, args.submitters) as pool:
            ids = pool.map(_submit_one, range(n), chunksize=16)
        print(f"# submitted {n} jobs in {time.perf_counter() - started:.0f} s "
              f"({args.submitters} processes)", flush=True)
        client.delete(COUNTERS)
        meter.start()
        current_app.control.add_consumer(stt_queue, reply=True, timeout=10)
        _wait(lambda: _final_count(ids) == n, timeout=1800, what="the jobs")
        job_cpu = meter.stop(n)
        jobs = list(CaptionJob.objects.filter(pk__in=ids).values_list(
            "status", "started_at", "finished_at"))
        done = sum(1 for s, _, _ in jobs if s == JobStatus.DONE)
        first = min(s for _, s, _ in jobs)
        last = max(f for _, _, f in jobs)
        capacity = n / (last - first).total_seconds()
        counters = {k.decode(): int(v) for k, v in client.hgetall(COUNTERS).items()}
        per_job = {k: counters.get(f"job_{k}", 0) / max(1, counters.get("job_tasks", 0))
                   for k in ("queries", "locks", "commits")}
        print(f"capacity  {capacity:8.1f} jobs/s ({done}/{n} done)  "
              f"{100 * capacity / ceiling:.1f}% of the ceiling", flush=True)
        print(f"per job   {per_job['queries']:.1f} SQL statements, {per_job['locks']:.1f} row "
              f"locks, {per_job['commits']:.1f} commits; {job_cpu:.1f} ms CPU (worker "
              f"{meter.split['worker']:.1f}, database {meter.split['database']:.1f}), "
              f"{100 * empty_cpu / job_cpu:.1f}% of it for an empty task",
              flush=True)

        # 3. Latency at a share of capacity.
        rate = args.load * capacity
        with _submitters(env, user, args.submitters) as pool:
            warm = pool.map(_submit_one, range(-100, -100 - 2 * args.submitters, -1),
                            chunksize=1)
            _wait(lambda: _final_count(warm) == len(warm), timeout=60, what="the warm-up jobs")
            # The submitting processes, and this one (the S3 server runs in it), beside the
            # worker and the database: everything the paced jobs cost the machine.
            meter.start(submitting=[*(p.pid for p in pool._pool), os.getpid()])
            t0 = time.time() + 1.0
            paced = pool.map(_submit_paced, [(n + i, t0 + i / rate) for i in range(m)],
                             chunksize=1)
            achieved = m / (max(at for _, at in paced) - t0)
            _wait(lambda: _final_count([p for p, _ in paced]) == m, timeout=600,
                  what="the paced jobs")
            paced_cpu = meter.stop(m)
        finished = dict(CaptionJob.objects.filter(pk__in=[p for p, _ in paced])
                        .values_list("pk", "finished_at"))
        overheads = [(finished[pk].timestamp() - at) * 1000 for pk, at in paced]
        p50, p95 = harness.pct(overheads, 50), harness.pct(overheads, 95)
        print(f"latency   at {rate:.1f} jobs/s ({100 * args.load:.0f}% of capacity; "
              f"submitted at {achieved:.1f}/s): submit-to-done p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms", flush=True)
        cores = os.cpu_count() or 1
        print(f"paced CPU {paced_cpu:.1f} ms per job (submitting with the S3 server "
              f"{meter.split['submitting']:.1f}, worker {meter.split['worker']:.1f}, "
              f"database {meter.split['database']:.1f}): at {achieved:.1f} jobs/s "
              f"{achieved * paced_cpu / 1000:.2f} of {cores} cores", flush=True)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
    print(f"# worker log: {log.name}")
    print(f"RESULT jobs_per_s={capacity:.1f} ceiling_ratio={capacity / ceiling:.4f} "
          f"overhead_p50_ms={p50:.1f} queries_per_job={per_job['queries']:.1f} "
          f"cpu_ratio={empty_cpu / job_cpu:.4f} job_cpu_ms={job_cpu:.1f}")


if __name__ == "__main__":
    main()
