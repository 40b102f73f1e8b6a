"""What both service benchmarks share: production settings on loopback, a throwaway database.

``prepare()`` sets the environment ``config.settings.bench`` needs, recreates the
benchmark's own database on the shared PostgreSQL, migrates it, starts a moto S3
server on 127.0.0.1 with an empty bucket and sets Django up in this process (for
seeding and for reading results). Nothing here is used by the product or the tests.
"""

from __future__ import annotations

import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.machine()}, {cpus} CPUs ({model}), "
            f"Python {platform.python_version()}, load average {load:.2f} at start")


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if not name.startswith(("cg_bench", "bench")):
        raise SystemExit(f"refusing to recreate '{name}': a benchmark database name starts "
                         "with cg_bench")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(*, name: str) -> dict:
    """Environment, fresh database, migrations, S3 server; returns the child environment."""
    db_url = os.environ.get("BENCH_DATABASE_URL",
                            f"postgres://postgres@127.0.0.1:5432/cg_bench_{name}")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    s3_port = free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "AWS_STORAGE_BUCKET_NAME": "caption-generator-bench",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        # What production settings refuse to start without; nothing here reaches Stripe,
        # SES or Bedrock (config.settings.bench switches the writer to the offline one).
        "CAPTION_WRITER": "bedrock",
        "BEDROCK_MODEL_ID": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
        "DEFAULT_FROM_EMAIL": "bench@localhost",
        "AWS_SES_REGION_NAME": "us-east-1",
        "CONN_MAX_AGE": "600",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import redis

    redis.Redis.from_url(redis_url).flushdb()
    _recreate_database(db_url)
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                   check=True, env={**os.environ})
    print(f"# migrated {db_url} in {time.perf_counter() - started:.0f} s", flush=True)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    server.start()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    import django

    django.setup()
    raise_plan_limits()
    import boto3

    boto3.client("s3", endpoint_url=env["AWS_S3_ENDPOINT_URL"],
                 region_name="us-east-1").create_bucket(Bucket=env["AWS_STORAGE_BUCKET_NAME"])
    return {**os.environ}


def raise_plan_limits() -> None:
    """The Studio plan's jobs per hour out of a load generator's reach (still checked)."""
    import dataclasses

    from billing import plans

    plans.PLANS["studio"] = dataclasses.replace(plans.STUDIO, jobs_per_hour=10_000_000)


def seed_customer(*, email: str = "bench@example.com"):
    """A verified customer on the Studio plan (API access) with a read/write API key."""
    from datetime import timedelta

    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import api_key_create
    from billing.models import BillingAccount, Subscription

    user = User.objects.create_user(email=email, password=secrets.token_urlsafe(16))
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    now = timezone.now()
    BillingAccount.objects.create(user=user, stripe_customer_id="cus_bench")
    Subscription.objects.create(
        user=user, stripe_subscription_id="sub_bench", stripe_customer_id="cus_bench",
        plan_code="studio", stripe_price_id="price_bench", status="active",
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29), stripe_created=now, state_as_of=now,
    )
    _key, secret = api_key_create(user=user, name="bench", scopes=["read", "write"])
    return user, secret


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return pct(values, 50)


def children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(stat.parent.name))
    return pids


def db_backends(db_url: str) -> list[int]:
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                            (name,)).fetchall()
    return [r[0] for r in rows]


def cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each process has used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and those of waited-for children (ffprobe, for uploads).
        out[pid] = sum(int(f) for f in fields[11:15]) / tick
    return out
