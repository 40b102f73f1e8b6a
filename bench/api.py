"""The web tier under load, as shares of a bare Django view measured in the same run.

    python bench/api.py            # 3 alternating rounds of 10 s per endpoint
    python bench/api.py --quick    # 2 rounds of 4 s (under three minutes with set-up)

Starts gunicorn (sync workers, ``config.settings.bench`` = production settings on
loopback) against a fresh PostgreSQL database (``cg_bench_api``), Redis db 13 (cleared)
and a moto S3 server, seeds a Studio customer with an API key, a browser session and
10,000 jobs, warms every endpoint up, then drives ``wrk`` against, in turn:

* ``bare``   ``GET /healthz``: the baseline, a view that touches nothing;
* ``detail`` ``GET /api/v1/jobs/<id>/`` with the API key;
* ``list``   ``GET /api/v1/jobs/`` (20 per page) with the API key;
* ``status`` ``GET /jobs/<id>/status.json`` with the session cookie (the page's poll);
* ``upload`` ``POST /api/v1/jobs/`` with a 1 MB WAV: checked, stored in S3, queued.

Besides requests/s it measures the CPU time each request costs the gunicorn workers and
the PostgreSQL backends serving them (from /proc), and the same share computed from
CPU time ("CPU ratio"): the machine these run on is shared, and CPU per request does
not move when other work takes the processors away, where requests/s does.

Each round runs every endpoint once (alternating, so drift hits them all alike). For
each endpoint it prints requests/s and p50/p95/p99 latency (medians over rounds) and
the ratio of its requests/s to the bare view's in the same round (median over rounds).
The last line is ``RESULT detail=… list=… status=… upload=… detail_p99x=… upload_p95_ms=…``.
``--json PATH`` keeps the raw figures and latency curves (``bench/plot.py`` draws them).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

ENDPOINTS = ("bare", "detail", "list", "status", "upload")
PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9]
BOUNDARY = "----benchboundary7MA4YWxkTrZu0gW"

LUA = r"""
wrk.method = "%(method)s"
wrk.path = "%(path)s"
%(headers)s
%(body)s
function done(summary, latency, requests)
  local out = {}
  for _, p in ipairs({%(percentiles)s}) do
    out[#out + 1] = string.format('"%%s": %%.3f', tostring(p), latency:percentile(p) / 1000)
  end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "errors": %%d, ' ..
    '"timeouts": %%d, "mean_ms": %%.3f, "max_ms": %%.3f, "percentiles_ms": {%%s}}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency.mean / 1000, latency.max / 1000,
    table.concat(out, ", ")))
end
"""


def _wav_bytes(size: int) -> bytes:
    """A mono 16 kHz 16-bit WAV of ``size`` bytes: a tone, so ffprobe sees real audio."""
    frames = (size - 44) // 2
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000)))
            for i in range(frames)))
    return buf.getvalue()


def _multipart(wav: bytes) -> bytes:
    # fresh: always a real submission (stored and queued), never the result cache.
    parts = [
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"tone\"\r\n\r\ncasual\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fresh\"\r\n\r\ntrue\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"bench.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
    ]
    return "".join(parts).encode() + wav + f"\r\n--{BOUNDARY}--\r\n".encode()


def _seed(n_jobs: int) -> dict:
    """The customer, their key and session, and ``n_jobs`` finished jobs (bulk inserts)."""
    import uuid
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import connection
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from captions.models import CaptionJob, JobStage, JobStatus, MediaAsset

    user, secret = harness.seed_customer()
    now = timezone.now()
    assets, jobs = [], []
    for i in range(n_jobs):
        asset = MediaAsset(id=uuid.uuid4(), owner=user, file=f"media/{user.pk}/{i}.wav",
                           original_name=f"episode-{i}.wav", content_type="audio/wav",
                           kind="audio", size_bytes=1_000_000, duration_seconds=31.2,
                           sha256=f"{i:064x}")
        assets.append(asset)
        failed = i % 10 == 0
        jobs.append(CaptionJob(
            id=uuid.uuid4(), owner=user, asset=asset,
            status=JobStatus.FAILED if failed else JobStatus.DONE,
            stage=JobStage.FINISHED,
            progress=100, attempts=1,
            error_code="media_unreadable" if failed else "",
            error_message="The file could not be decoded." if failed else "",
            stage_seconds={"transcribe": 4.2, "captions": 1.1},
            input_tokens=812, output_tokens=240, cost_micro_usd=6300,
            started_at=now - timedelta(seconds=n_jobs - i + 30),
            finished_at=now - timedelta(seconds=n_jobs - i),
        ))
    MediaAsset.objects.bulk_create(assets, batch_size=2000)
    CaptionJob.objects.bulk_create(jobs, batch_size=2000)
    # created_at is auto_now_add: spread it so the list's cursor order is realistic.
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE captions_captionjob SET created_at = finished_at - interval '40 seconds'")
        cur.execute("ANALYZE")
    session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    target = jobs[-2]  # a recent, finished job
    connection.close()
    return {"secret": secret, "session": session.session_key, "job": str(target.id),
            "user": user.pk}


def _lua(endpoint: str, seed: dict, body_path: str) -> str:
    auth = f'wrk.headers["Authorization"] = "Bearer {seed["secret"]}"'
    proxy = 'wrk.headers["X-Forwarded-Proto"] = "https"'
    spec = {
        "bare": ("GET", "/healthz", [proxy], ""),
        "detail": ("GET", f"/api/v1/jobs/{seed['job']}/", [proxy, auth], ""),
        "list": ("GET", "/api/v1/jobs/", [proxy, auth], ""),
        "status": ("GET", f"/jobs/{seed['job']}/status.json",
                   [proxy, f'wrk.headers["Cookie"] = "sessionid={seed["session"]}"',
                    'wrk.headers["X-Requested-With"] = "XMLHttpRequest"'], ""),
        "upload": ("POST", "/api/v1/jobs/",
                   [proxy, auth, 'wrk.headers["Content-Type"] = '
                    f'"multipart/form-data; boundary={BOUNDARY}"'],
                   f'local f = io.open("{body_path}", "rb")\nwrk.body = f:read("*a")\nf:close()'),
    }[endpoint]
    method, path, headers, body = spec
    return LUA % {"method": method, "path": path, "headers": "\n".join(headers), "body": body,
                  "percentiles": ", ".join(str(p) for p in PERCENTILES)}


def _wrk(url: str, script: str, *, seconds: float, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", script,
         url], capture_output=True, text=True, check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON "):])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def _settle(server_pid: int, timeout: float = 10.0) -> None:
    """Wait until the gunicorn workers are idle: requests still running when wrk stopped
    (an upload, its ffprobe) must not be billed to the next endpoint."""
    deadline = time.monotonic() + timeout
    before = harness.cpu(harness.children(server_pid))
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = harness.cpu(harness.children(server_pid))
        if sum(now.values()) - sum(before.values()) < 0.02:
            return
        before = now


class CpuMeter:
    """CPU time of the gunicorn workers, the database backends serving them and this
    process (the moto S3 server), per request: unlike requests/s, it does not change
    when other work on the machine takes the CPU away (the machine is shared)."""

    def __init__(self, server_pid: int, db_url: str):
        self.server_pid, self.db_url = server_pid, db_url

    def start(self):
        self.web = harness.cpu(harness.children(self.server_pid))
        self.db = harness.cpu(harness.db_backends(self.db_url))
        self.own = os.times()

    def stop(self, requests: int) -> dict:
        web, db, own = harness.cpu(list(self.web)), harness.cpu(list(self.db)), os.times()
        per = 1000 / max(1, requests)
        return {
            "web_cpu_ms": per * sum(web[p] - self.web[p] for p in web),
            "db_cpu_ms": per * sum(db[p] - self.db[p] for p in db),
            "s3_cpu_ms": per * (own.user + own.system - self.own.user - self.own.system),
        }


def _wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /healthz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=int, help="per endpoint and round (whole seconds)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", help="comma-separated endpoints (bare always runs)")
    parser.add_argument("--json", help="write raw figures and latency curves here")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (4 if args.quick else 10)
    endpoints = ENDPOINTS if not args.only else (
        ("bare",) + tuple(e for e in args.only.split(",") if e != "bare"))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    print(f"# machine: {harness.machine()}", flush=True)
    env = harness.prepare(name="api")
    started = time.perf_counter()
    seed = _seed(args.jobs)
    print(f"# seeded {args.jobs} jobs in {time.perf_counter() - started:.0f} s", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    body = tmp / "upload.bin"
    body.write_bytes(_multipart(_wav_bytes(1_000_000)))
    port = harness.free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [harness.PYTHON, "-m", "gunicorn", "bench.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "sync", "--backlog", "2048",
         "--timeout", "60"],
        cwd=harness.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    results: dict[str, list[dict]] = {e: [] for e in endpoints}
    try:
        _wait_up(url)
        scripts = {}
        for e in endpoints:
            scripts[e] = str(tmp / f"{e}.lua")
            Path(scripts[e]).write_text(_lua(e, seed, str(body)))
        for e in endpoints:  # warm-up: connections, imports, caches, query plans
            _wrk(url, scripts[e], seconds=2, connections=args.connections)
        meter = CpuMeter(server.pid, env["DATABASE_URL"])
        for r in range(rounds):
            for e in endpoints:
                _settle(server.pid)
                meter.start()
                res = _wrk(url, scripts[e], seconds=seconds, connections=args.connections)
                res.update(meter.stop(res["requests"]))
                results[e].append(res)
                p = res["percentiles_ms"]
                print(f"round {r + 1} {e:7s} {res['rps']:8.1f} req/s  p50 {p['50']:7.1f} ms"
                      f"  p95 {p['95']:7.1f} ms  p99 {p['99']:7.1f} ms"
                      f"  CPU/request web {res['web_cpu_ms']:.2f} db {res['db_cpu_ms']:.2f}"
                      f" s3 {res['s3_cpu_ms']:.2f} ms"
                      f"  non-2xx {res['non2xx']}  errors {res['errors'] + res['timeouts']}",
                      flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    bad = {e: sum(r["non2xx"] + r["errors"] for r in rs) for e, rs in results.items()}
    if any(bad.values()):
        print(f"# WARNING non-2xx or socket errors: {bad}; see {tmp / 'gunicorn.log'}")

    summary = {}
    print(f"\n{'endpoint':8s} {'req/s':>9s} {'ratio':>7s} {'p50 ms':>8s} {'p95 ms':>8s}"
          f" {'p99 ms':>8s} {'p99/bare':>8s} {'web CPU ms':>10s} {'db CPU ms':>9s}"
          f" {'CPU ratio':>9s}")
    bare = results["bare"]
    for e in endpoints:
        rs = results[e]
        ratio = harness.median([r["rps"] / b["rps"] for r, b in zip(rs, bare, strict=True)])
        p99x = harness.median([r["percentiles_ms"]["99"] / b["percentiles_ms"]["99"]
                               for r, b in zip(rs, bare, strict=True)])
        row = {"rps": harness.median([r["rps"] for r in rs]), "ratio": ratio,
               "p50": harness.median([r["percentiles_ms"]["50"] for r in rs]),
               "p95": harness.median([r["percentiles_ms"]["95"] for r in rs]),
               "p99": harness.median([r["percentiles_ms"]["99"] for r in rs]), "p99x": p99x,
               "web_cpu_ms": harness.median([r["web_cpu_ms"] for r in rs]),
               "db_cpu_ms": harness.median([r["db_cpu_ms"] for r in rs])}
        # The bare view's CPU per request over this endpoint's: the requests/s share the
        # endpoint would get on an otherwise idle machine where the web tier is the limit.
        row["cpu_ratio"] = harness.median([
            (b["web_cpu_ms"] + b["db_cpu_ms"]) / max(1e-9, r["web_cpu_ms"] + r["db_cpu_ms"])
            for r, b in zip(rs, bare, strict=True)])
        summary[e] = row
        print(f"{e:8s} {row['rps']:9.1f} {100 * ratio:6.1f}% {row['p50']:8.1f} "
              f"{row['p95']:8.1f} {row['p99']:8.1f} {p99x:7.1f}x {row['web_cpu_ms']:10.2f}"
              f" {row['db_cpu_ms']:9.2f} {100 * row['cpu_ratio']:8.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": harness.machine(), "rounds": rounds, "seconds": seconds,
             "connections": args.connections, "workers": args.workers,
             "summary": summary, "runs": results}, indent=1))
    if not any(bad.values()):
        shutil.rmtree(tmp, ignore_errors=True)

    def fmt(e, key="ratio"):
        return f"{summary[e][key]:.4f}" if e in summary else "nan"

    print(f"RESULT detail={fmt('detail')} list={fmt('list')} status={fmt('status')} "
          f"upload={fmt('upload')} detail_p99x={fmt('detail', 'p99x')} "
          f"upload_p95_ms={summary['upload']['p95'] if 'upload' in summary else float('nan'):.1f}")


if __name__ == "__main__":
    main()
