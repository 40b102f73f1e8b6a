"""Settings shared by every environment.

Everything comes from the environment through django-environ, with defaults that
run the whole product on one machine with no server and no cloud account:
SQLite and media files under ``var/``, a filesystem Celery transport and a
local-memory cache. Setting ``DATABASE_URL``, ``REDIS_URL`` and
``AWS_STORAGE_BUCKET_NAME`` switches the same code to Postgres, Redis and S3.
"""

import re
from pathlib import Path

from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

from .env import BASE_DIR, env  # noqa: F401

# Local state (SQLite, media, the filesystem broker) lives here; scripts/run.sh makes the
# folders. Importing settings creates nothing.
VAR_DIR = Path(env("CAPTIONS_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
SITE_NAME = env("SITE_NAME", default="Caption Generator")  # account emails: name, SITE_URL's host

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular", "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "csp",
    "django_prometheus",
    "audit",
    "accounts",
    "captions",
    "billing",
    "api",
    "operations",
]

MIDDLEWARE = [
    # Observability (issue 15): request latency by view and status around everything, and
    # a request id (the load balancer's or a new one) on every log line and task it sends.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.log_context.RequestIdMiddleware",
    # Outermost, so a database or cache outage in any view answers 503, not 500.
    "config.outages.OutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "config.cache.ReadOnceMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
# A kept connection is checked before a request uses it, so the first requests after a
# database restart reconnect instead of failing on a connection the server closed.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, checking a kept connection without a round trip (config.postgres).
    DATABASES["default"]["ENGINE"] = "config.postgres"
    # A database host that stops answering fails a request in seconds (503), rather than
    # holding it until the web server's own timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Fails open (config/cache.py): while Redis is down requests go on unthrottled,
            # each failure logged, and a stalled Redis costs a request at most a second.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": env("REDIS_CACHE_URL", default=REDIS_URL),
            "OPTIONS": {
                "CLIENT_CLASS": "config.cache.FailOpenClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CACHE_TIMEOUT", default=1.0),
                "SOCKET_TIMEOUT": env.float("REDIS_CACHE_TIMEOUT", default=1.0),
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth and accounts (django-allauth) ---------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "captions:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    # Wrong passwords slow an attacker down without locking the owner out for good.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}

EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Caption Generator <noreply@localhost>")

# --- i18n / time ----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media storage ---------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
# Where a browser reaches the store, when that is not where the app does (compose: the app
# says http://s3:9000, the browser http://localhost:9000). URLs handed to a browser are
# signed for this host, since the signature covers it. Unset: the endpoint above (AWS).
AWS_S3_PUBLIC_ENDPOINT_URL = env("AWS_S3_PUBLIC_ENDPOINT_URL", default=None)
if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {
        "BACKEND": "captions.storage.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            # Keys are generated by the server; an existing object is never replaced.
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            # No ServerSideEncryption: objects take the bucket's default (its KMS key).
            # A refusing or stalled endpoint fails in seconds, after a bounded number of tries.
            "client_config": Config(
                connect_timeout=env.int("AWS_S3_CONNECT_TIMEOUT", default=5),
                read_timeout=env.int("AWS_S3_READ_TIMEOUT", default=60),
                retries={"max_attempts": env.int("AWS_S3_MAX_ATTEMPTS", default=3),
                         "mode": "standard"},
            ),
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads larger than this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 1
# Hard ceiling for any upload; plans set lower limits.
CAPTIONS_MAX_UPLOAD_BYTES = env.int("CAPTIONS_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
CAPTIONS_MAX_MEDIA_SECONDS = env.int("CAPTIONS_MAX_MEDIA_SECONDS", default=3 * 60 * 60)

# --- Celery ---------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
else:
    # No server needed: messages are files under var/celery.
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
    _broker_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is ./control, in whatever folder the process started in.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A job is acknowledged only once it has finished, so a killed worker's job is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"workers.tasks.*": {"queue": "default"}}
# The outbox's sweep task lives beside the outbox, outside any app's tasks.py.
CELERY_IMPORTS = ["config.outbox"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=4 * 60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=4 * 60 * 60 - 60)
CELERY_TASK_ALWAYS_EAGER = False
# Celery's Django fixup closes every database connection after every task unless this
# is set, so each job paid for a new PostgreSQL connection (a backend started, the login
# checked). Set, the fixup closes them only every 2 x this many tasks; otherwise a task's
# connection is kept or closed as Django does for a request (CONN_MAX_AGE, unusable
# after an error, checked before reuse: config.celery_app), and CONN_MAX_AGE (60 s in
# production) recycles it long before the fixup would.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100_000)

# --- Pipeline engines -------------------------------------------------------------
# A Whisper model name ("tiny", "base", "large-v3", ...), a checkpoint file (.pt) or a
# CTranslate2 model folder.
WHISPER_MODEL = env("WHISPER_MODEL", default="base")
WHISPER_DEVICE = env("WHISPER_DEVICE", default="cpu")
# "faster-whisper" (CTranslate2) or "openai-whisper" (our batched windows). On a CPU,
# faster-whisper at float32 is the fastest as accurate as whisper.transcribe (bench/stt.py).
WHISPER_ENGINE = env("WHISPER_ENGINE", default="faster-whisper")
# faster-whisper only: CTranslate2's compute type and CPU threads (0: its default).
WHISPER_COMPUTE_TYPE = env("WHISPER_COMPUTE_TYPE", default="float32")
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=0)
WHISPER_DOWNLOAD_ROOT = env("WHISPER_DOWNLOAD_ROOT", default=str(VAR_DIR / "whisper"))
# Named models are fetched from OpenAI's CDN only when this is on.
WHISPER_ALLOW_DOWNLOAD = env.bool("WHISPER_ALLOW_DOWNLOAD", default=True)
# Bounds on Whisper's decoding so a hostile or noisy file cannot run forever.
WHISPER_SAMPLE_LEN = env.int("WHISPER_SAMPLE_LEN", default=224)
WHISPER_TEMPERATURES = tuple(
    float(t) for t in env.list("WHISPER_TEMPERATURES", default=["0.0", "0.2", "0.4", "0.6"])
)
FFMPEG_BINARY = env("FFMPEG_BINARY", default="ffmpeg")
FFPROBE_BINARY = env("FFPROBE_BINARY", default="ffprobe")
FFMPEG_TIMEOUT_SECONDS = env.int("FFMPEG_TIMEOUT_SECONDS", default=600)
CAPTION_WRITER = env("CAPTION_WRITER", default="local")
CAPTION_JOB_MAX_ATTEMPTS = env.int("CAPTION_JOB_MAX_ATTEMPTS", default=3)
# How often a running job's progress is written; a cancel is noticed at the next write.
CAPTION_JOB_PROGRESS_SECONDS = env.float("CAPTION_JOB_PROGRESS_SECONDS", default=1.0)

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Sessions stay in PostgreSQL and are read through the cache: a page's status poll
# does not query the session table (with the cache down, reads fall back to the table).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Security defaults that hold everywhere ----------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy on every response (django-csp). Pages, the admin and the API
# load scripts, styles and images from this origin only: no inline <script>, no onclick=,
# no inline style (templates/ and static/ have none; tests/test_security_headers.py keeps
# it so), so an injected tag or attribute cannot run or restyle the page. The API docs get
# their own policy in config/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # No form-action: Chromium applies it to the redirect after a POST, and checkout
        # and the billing portal answer their POST with a redirect to Stripe.
    },
}

# JSON lines (LOG_FORMAT=plain for a person at a terminal), each with the request id, job
# id and user id bound when it was written (config/log_context.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.log_context.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.log_context.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(job_id)s] "
                            "%(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"],
                             "formatter": env("LOG_FORMAT", default="json")}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
# Celery workers keep this configuration instead of installing their own plain format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Worker processes write their metrics into this folder (prometheus_client's multiprocess
# mode) and /metrics reads them all; empty means this process's own registry only.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
# Where web and workers cannot share that folder (separate containers), each worker serves
# its own on this port (0: off) for Prometheus to scrape on the private network.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
# /metrics answers staff sessions, and scrapers sending "Authorization: Bearer <token>".
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")

from .billing import *  # noqa: E402,F401,F403
from .burn_in import *  # noqa: E402,F401,F403
from .llm import *  # noqa: E402,F401,F403

# Rows whose task was lost (jobs, overage reports, webhook deliveries) are sent again by
# the outbox sweep; lost cost reservations are released (the worker runs `celery beat`,
# see scripts/run.sh).
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "config.outbox.outbox_sweep",
        "schedule": 60.0,
    },
    "cost-reservations-sweep": {
        "task": "workers.tasks.cost_reservations_sweep",
        "schedule": 60.0,
    },
    "caption-retention-purge": {
        "task": "workers.tasks.caption_retention_purge",
        "schedule": 15 * 60,
    },
    "direct-uploads-sweep": {
        "task": "workers.tasks.direct_uploads_sweep",
        "schedule": 15 * 60,
    },
}

# --- Public API, API keys and outgoing webhooks (issue 7) --------------------------------
INSTALLED_APPS += ["webhooks"]
REST_FRAMEWORK.update(
    {
        # Bearer keys first, so a request without credentials gets 401 with WWW-Authenticate.
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "accounts.authentication.ApiKeyAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        "DEFAULT_PERMISSION_CLASSES": [
            "rest_framework.permissions.IsAuthenticated",
            "api.permissions.HasApiKeyScope",
            "api.permissions.PlanIncludesApi",
        ],
        "DEFAULT_THROTTLE_CLASSES": [
            "api.throttles.ApiReadThrottle",
            "api.throttles.ApiWriteThrottle",
        ],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": [
            "rest_framework.parsers.JSONParser",
            "rest_framework.parsers.MultiPartParser",
        ],
        "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.errors.JsonErrorsNegotiation",
        "EXCEPTION_HANDLER": "api.errors.exception_handler",
        "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    }
)
SPECTACULAR_SETTINGS = {
    "TITLE": "Caption Generator API", "VERSION": "1.0.0", "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR",
    "DESCRIPTION": (
        "Submit audio, video or images and get transcripts, subtitles and captions. "
        "Authenticate with `Authorization: Bearer <API key>`. Every error is "
        '`{"code", "message", "details"}`. POSTs accept an `Idempotency-Key` header. '
        "Webhooks are signed: `Caption-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
        "'<t>.<raw body>' with the endpoint secret>`."
    ),
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "captions.models.JobStatus"},
}
# Requests per minute (or "N/s", "N/h") for each API key, counted in the Redis cache.
API_THROTTLE_READ_RATE = env("API_THROTTLE_READ_RATE", default="600/min")
API_THROTTLE_WRITE_RATE = env("API_THROTTLE_WRITE_RATE", default="120/min")
API_IDEMPOTENCY_TTL_SECONDS = env.int("API_IDEMPOTENCY_TTL_SECONDS", default=24 * 60 * 60)
CAPTIONS_DIRECT_UPLOAD_EXPIRES_SECONDS = env.int(
    "CAPTIONS_DIRECT_UPLOAD_EXPIRES_SECONDS", default=15 * 60
)
# The job page's player URL (a presigned GET, or our signed one) works this long.
CAPTIONS_PLAYBACK_EXPIRES_SECONDS = env.int("CAPTIONS_PLAYBACK_EXPIRES_SECONDS", default=3600)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# Retries double from the base delay up to the cap, and stop after the attempt limit
# or once the window since the event has passed (then the delivery is failed).
WEBHOOKS_BACKOFF_BASE_SECONDS = env.float("WEBHOOKS_BACKOFF_BASE_SECONDS", default=30.0)
# Kept below the Redis broker's visibility timeout (1 h), past which a waiting retry
# would be redelivered and sent twice.
WEBHOOKS_BACKOFF_MAX_SECONDS = env.float("WEBHOOKS_BACKOFF_MAX_SECONDS", default=30 * 60.0)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=15)
WEBHOOKS_RETRY_WINDOW_SECONDS = env.int("WEBHOOKS_RETRY_WINDOW_SECONDS", default=24 * 60 * 60)
# Only the test suite may send webhooks to 127.0.0.1; never turn this on elsewhere.
WEBHOOKS_ALLOW_LOOPBACK = False

# --- Hourly cost caps in the worker (issue 6) ---------------------------------------------
# What speech-to-text costs us per audio second, integer micro-dollars (GPU time): it is
# reserved against the owner's hourly cap before transcription like an LLM call.
STT_PRICE_MICROS_PER_SECOND = env.int("STT_PRICE_MICROS_PER_SECOND", default=100)
# How many times a job waits for its owner's hourly cap to reset before it fails.
CAPTION_JOB_MAX_DEFERRALS = env.int("CAPTION_JOB_MAX_DEFERRALS", default=6)
# A running job's lease, renewed every third of it by the worker; a duplicate delivery
# of its task that finds the lease alive does nothing.
CAPTION_JOB_LEASE_SECONDS = env.int("CAPTION_JOB_LEASE_SECONDS", default=120)

# --- Speech to text on GPU workers (batched Whisper, queues, subtitles) ---------------
# Jobs with sound run on CAPTIONS_STT_QUEUE, served by one worker process per GPU
# (`--pool=solo --prefetch-multiplier=1`); image jobs run on CAPTIONS_DEFAULT_QUEUE.
# A CPU worker may consume both.
CAPTIONS_STT_QUEUE = env("CAPTIONS_STT_QUEUE", default="gpu")
CAPTIONS_DEFAULT_QUEUE = env("CAPTIONS_DEFAULT_QUEUE", default="default")
# 30-second windows encoded and decoded together; raise it on a large GPU.
WHISPER_BATCH_SIZE = env.int("WHISPER_BATCH_SIZE", default=16)
# Load the model when the worker starts instead of on its first job, and then report
# readiness in the log and by writing WHISPER_READY_FILE (for a container probe).
WHISPER_PRELOAD = env.bool("WHISPER_PRELOAD", default=False)
WHISPER_READY_FILE = env("WHISPER_READY_FILE", default="")
# A row left pending this long (a queued job no worker picked up, an unsent overage
# report, a webhook delivery past its due time) has its task sent again by the outbox
# sweep: its message was lost, e.g. the broker was down when it was sent.
OUTBOX_RESEND_AFTER_SECONDS = env.int("OUTBOX_RESEND_AFTER_SECONDS", default=600)

# --- Outages (the database, Redis or storage not answering) ------------------------------
# Requests that meet one answer 503 with this Retry-After (config/outages.py).
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=30)
# A task that met one is sent again after base * 2^retries seconds (with jitter), at most
# the maximum, kept well below the Redis broker's visibility timeout (1 h).
TASK_RETRY_BACKOFF_BASE_SECONDS = env.float("TASK_RETRY_BACKOFF_BASE_SECONDS", default=2.0)
TASK_RETRY_BACKOFF_MAX_SECONDS = env.float("TASK_RETRY_BACKOFF_MAX_SECONDS", default=60.0)

# --- Managed speech to text (Amazon Transcribe) and routing (issue 17) ---------------------
# Which engine transcribes a job with sound, decided per job when it is created:
# "self_hosted" (the GPU queue), "managed" (Amazon Transcribe), or "overflow": managed
# when no GPU worker is ready or the GPU queue's oldest job has waited longer than
# STT_OVERFLOW_QUEUE_WAIT_SECONDS, else the GPU queue. Staff can force a job's engine.
STT_ROUTING_POLICIES = ("self_hosted", "managed", "overflow")
STT_ROUTING_POLICY = env("STT_ROUTING_POLICY", default="self_hosted")
STT_OVERFLOW_QUEUE_WAIT_SECONDS = env.int("STT_OVERFLOW_QUEUE_WAIT_SECONDS", default=120)
# A GPU worker with its model loaded says so in Redis this often; it counts as ready
# until three beats are missed (0: no heartbeat, as in the test suite).
STT_GPU_HEARTBEAT_SECONDS = env.int("STT_GPU_HEARTBEAT_SECONDS", default=15)
TRANSCRIBE_REGION = env("TRANSCRIBE_REGION", default=AWS_S3_REGION_NAME)
TRANSCRIBE_ENDPOINT_URL = env("TRANSCRIBE_ENDPOINT_URL", default="")
# Results (and audio converted for Transcribe) go under this prefix of the media bucket;
# the worker role may write only there (infra/terraform/transcribe.tf).
TRANSCRIBE_OUTPUT_PREFIX = env("TRANSCRIBE_OUTPUT_PREFIX", default="transcribe/")
# A Transcribe language code ("en-US"); empty: Transcribe identifies the language,
# among TRANSCRIBE_LANGUAGE_OPTIONS when given.
TRANSCRIBE_LANGUAGE_CODE = env("TRANSCRIBE_LANGUAGE_CODE", default="")
TRANSCRIBE_LANGUAGE_OPTIONS = tuple(env.list("TRANSCRIBE_LANGUAGE_OPTIONS", default=[]))
TRANSCRIBE_VOCABULARY_NAME = env("TRANSCRIBE_VOCABULARY_NAME", default="")
# Throttling, 5xx and connection errors: tries per call, backoff with full jitter.
TRANSCRIBE_MAX_TRIES = env.int("TRANSCRIBE_MAX_TRIES", default=5)
TRANSCRIBE_BACKOFF_BASE_SECONDS = env.float("TRANSCRIBE_BACKOFF_BASE_SECONDS", default=1.0)
TRANSCRIBE_BACKOFF_MAX_SECONDS = env.float("TRANSCRIBE_BACKOFF_MAX_SECONDS", default=20.0)
TRANSCRIBE_TIMEOUT_SECONDS = env.float("TRANSCRIBE_TIMEOUT_SECONDS", default=30.0)
# Polls of a running Transcribe job start after the first interval and slow down to the
# maximum (kept under half of CAPTION_JOB_LEASE_SECONDS: each poll renews the lease).
TRANSCRIBE_POLL_FIRST_SECONDS = env.float("TRANSCRIBE_POLL_FIRST_SECONDS", default=5.0)
TRANSCRIBE_POLL_MAX_SECONDS = env.float("TRANSCRIBE_POLL_MAX_SECONDS", default=30.0)
# A Transcribe job still running after this long fails the caption job.
TRANSCRIBE_JOB_TIMEOUT_SECONDS = env.int("TRANSCRIBE_JOB_TIMEOUT_SECONDS", default=2 * 60 * 60)
# What Transcribe costs us per audio second, integer micro-dollars, through the same
# reserve/settle ledger as every paid step. Source: AWS list price, standard batch
# transcription, tier 1 (first 250,000 minutes a month), $0.024 a minute = 400 µ$ a
# second, billed per second with a 15-second minimum:
# https://aws.amazon.com/transcribe/pricing/
TRANSCRIBE_PRICE_MICROS_PER_SECOND = env.int("TRANSCRIBE_PRICE_MICROS_PER_SECOND", default=400)
TRANSCRIBE_PRICE_SOURCE = "https://aws.amazon.com/transcribe/pricing/"
# Under the overflow policy, jobs already waiting too long in the GPU queue move too.
CELERY_BEAT_SCHEDULE["stt-overflow-sweep"] = {
    "task": "captions.tasks.stt_overflow_sweep", "schedule": 60.0,
}
if STT_ROUTING_POLICY not in STT_ROUTING_POLICIES:
    raise ImproperlyConfigured(
        f"STT_ROUTING_POLICY must be one of {', '.join(STT_ROUTING_POLICIES)}, "
        f"not {STT_ROUTING_POLICY!r}."
    )
for _code in (TRANSCRIBE_LANGUAGE_CODE, *TRANSCRIBE_LANGUAGE_OPTIONS):
    if _code and not re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}", _code):
        raise ImproperlyConfigured(
            f"{_code!r} is not a Transcribe language code: use the form en-US "
            "(TRANSCRIBE_LANGUAGE_CODE, TRANSCRIBE_LANGUAGE_OPTIONS)."
        )
if STT_ROUTING_POLICY != "self_hosted" and not AWS_STORAGE_BUCKET_NAME:
    raise ImproperlyConfigured(
        f"STT_ROUTING_POLICY={STT_ROUTING_POLICY} needs media in S3 "
        "(AWS_STORAGE_BUCKET_NAME): Amazon Transcribe reads recordings from the bucket."
    )

# --- Operations: the capacity planner (operations/capacity.py, issue 15) -------------------
# Throughput comes from bench/stt.py's stored results; list prices are in
# operations/prices.py, with more instance types as a JSON object here.
CAPACITY_BENCH_RESULTS_DIR = env("CAPACITY_BENCH_RESULTS_DIR",
                                 default=str(BASE_DIR / "bench" / "results"))
CAPACITY_GPU_TYPES_OVERRIDES = env.json("CAPACITY_GPU_TYPES_JSON", default={})
