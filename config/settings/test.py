"""Test settings: real PostgreSQL, real Redis, and S3 through a moto server on loopback.

The moto server itself is started by ``tests/conftest.py`` on the port chosen here.
"""

import os
import socket

# The real servers are the defaults here; a variable set by the caller still wins.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caption_generator")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("AWS_STORAGE_BUCKET_NAME", "caption-generator-test")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
if "AWS_S3_ENDPOINT_URL" not in os.environ:
    with socket.socket() as _s:
        _s.bind(("127.0.0.1", 0))
        _port = _s.getsockname()[1]
    os.environ["AWS_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{_port}"
    MOTO_SERVER_PORT = _port
else:
    MOTO_SERVER_PORT = None

from .base import *  # noqa: E402,F401,F403
from .base import env  # noqa: E402

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHISPER_DEVICE = "cpu"
# The suite's models are random-weight openai-whisper checkpoints (odd shapes, fast);
# tests of faster-whisper and of real weights choose their engine and model themselves.
WHISPER_ENGINE = "openai-whisper"
WHISPER_ALLOW_DOWNLOAD = False
# Random-weight models never stop on their own: keep each window's decoding short.
WHISPER_SAMPLE_LEN = env.int("WHISPER_SAMPLE_LEN", default=24)
WHISPER_TEMPERATURES = (0.0,)
LOGGING["loggers"] = {"werkzeug": {"level": "WARNING"}}  # noqa: F405 - moto's access log
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "1000/m/ip",
    "reset_password": "1000/m/ip,1000/m/key",
}

# Caption writer: keep the offline writer as the suite's default; the Bedrock tests
# switch to it per test. Backoff stays real but tiny so retry tests run in milliseconds.
LLM_BACKOFF_BASE_SECONDS = 0.01
LLM_BACKOFF_MAX_SECONDS = 0.05
LLM_TIMEOUT_SECONDS = 5.0

# --- Public API and webhooks (issue 7) ----------------------------------------------------
# Webhook receivers in the suite listen on 127.0.0.1, and retries must come quickly.
WEBHOOKS_ALLOW_LOOPBACK = True
WEBHOOKS_BACKOFF_BASE_SECONDS = 0.2
WEBHOOKS_BACKOFF_MAX_SECONDS = 1.0
WEBHOOKS_TIMEOUT_SECONDS = 5.0
API_THROTTLE_READ_RATE = "100000/min"
API_THROTTLE_WRITE_RATE = "100000/min"

# --- Managed speech to text (issue 17) ---------------------------------------------------
# The suite's fake Transcribe answers at once; polls and retries come in milliseconds.
TRANSCRIBE_BACKOFF_BASE_SECONDS = 0.01
TRANSCRIBE_BACKOFF_MAX_SECONDS = 0.05
TRANSCRIBE_POLL_FIRST_SECONDS = 0.05
TRANSCRIBE_POLL_MAX_SECONDS = 0.2
TRANSCRIBE_TIMEOUT_SECONDS = 5.0
# Tests write GPU heartbeats themselves: a model loaded in a test must not beat for ever.
STT_GPU_HEARTBEAT_SECONDS = 0
