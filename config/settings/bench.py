"""Benchmarks only (``bench/api.py``, ``bench/pipeline.py``): production settings on loopback.

Everything production does stays on (sync gunicorn workers, Postgres, Redis cache and
broker, S3 through django-storages, throttles, the quota ledger); the benchmark
processes set the required variables and point S3 at a moto server on 127.0.0.1. Two
things differ, each so that a load generator measures the code instead of a limit:

* the throttles' rates are raised out of reach (still checked on every request), and
  ``bench.harness.raise_plan_limits`` (run by ``bench/wsgi.py`` and the benchmark
  processes) does the same for the Studio plan's jobs per hour;
* the pipeline benchmark's worker (``bench/worker.py``) swaps ffprobe, ffmpeg and
  Whisper for instant functions in its own process, so a job costs only its
  bookkeeping; the product's code has no switch for it.

Never used by tests or deployments.
"""

from .production import *  # noqa: F401,F403

# Production refuses the offline writer; the benchmark measures everything around the model.
CAPTION_WRITER = "local"

API_THROTTLE_READ_RATE = "10000000/min"
API_THROTTLE_WRITE_RATE = "10000000/min"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler"}},
           "root": {"level": "WARNING", "handlers": ["stderr"]}}
