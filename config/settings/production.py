"""Production: refuses to start without its secrets, its hosts and its backing services.

Every backing service is required by name; nothing falls back to the local defaults of
base.py (SQLite, the filesystem broker, media on local disk, mail to files). The
variables are the ones the ECS task definitions in infra/terraform/modules/compute set,
and tests/test_infra_app_agreement.py boots these settings with exactly those names.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = False


def _required(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set in production (see the configuration table in README.md)."
        )
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
if SECRET_KEY.startswith("insecure") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a random string of at least 50 characters."
    )
ALLOWED_HOSTS = [h for h in _required("DJANGO_ALLOWED_HOSTS").split(",") if h]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
WHISPER_DEVICE = env("WHISPER_DEVICE", default="cuda")
# GPU workers batch 30-second windows across the whole recording (our engine); a CPU
# deployment sets WHISPER_ENGINE=faster-whisper, as the local default does.
WHISPER_ENGINE = env("WHISPER_ENGINE", default="openai-whisper")
WHISPER_COMPUTE_TYPE = env("WHISPER_COMPUTE_TYPE", default="float16")

# The load balancer's health checks carry the target's private IP as Host, which no
# ALLOWED_HOSTS entry can name in advance. The probes are answered before anything reads
# the Host header (config/health.py); every other path still validates it.
MIDDLEWARE = ["config.health.HealthProbeMiddleware", *MIDDLEWARE]  # noqa: F405

# --- Database: DATABASE_URL, or the parts of the RDS-managed secret -------------------
# ECS injects the secret's `username` and `password` keys at task start; host, port and
# name are plain environment. RDS rotates the password: when PostgreSQL refuses the one
# a task started with, config.postgres reads the secret (DATABASE_SECRET_ARN) again.
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "config.postgres",
            "PASSWORD_SECRET_ARN": _required("DATABASE_SECRET_ARN"),
            "HOST": _required("DATABASE_HOST"),
            "PORT": env.int("DATABASE_PORT", default=5432),
            "NAME": _required("DATABASE_NAME"),
            "USER": _required("DATABASE_USER"),
            "PASSWORD": _required("DATABASE_PASSWORD"),
            # RDS's parameter group sets rds.force_ssl.
            "OPTIONS": {"sslmode": env("DATABASE_SSLMODE", default="require")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "config.postgres"  # the same backend either way
if DATABASES["default"]["ENGINE"] != "config.postgres":
    raise ImproperlyConfigured("Production runs on PostgreSQL; DATABASE_URL names another engine.")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
)

# --- Redis (broker and cache) and the media bucket: base.py switches on these names ----
_required("REDIS_URL")
_required("AWS_STORAGE_BUCKET_NAME")
if CELERY_BROKER_URL.startswith("filesystem"):  # noqa: F405
    raise ImproperlyConfigured("CELERY_BROKER_URL must name Redis in production.")

# --- Static files: served by the app (WhiteNoise) behind CloudFront --------------------
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(STATIC_ROOT))  # noqa: F405
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}

# --- Email through Amazon SES (the task role signs; no SMTP password) -------------------
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="config.email_ses.SesEmailBackend")
if EMAIL_BACKEND != "config.email_ses.SesEmailBackend":
    raise ImproperlyConfigured(
        "DJANGO_EMAIL_BACKEND must be config.email_ses.SesEmailBackend in production; "
        "sign-up needs verification mail to leave the building."
    )
DEFAULT_FROM_EMAIL = _required("DEFAULT_FROM_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
AWS_SES_REGION_NAME = _required("AWS_SES_REGION_NAME")

# --- Billing: Stripe's secrets are required while billing is on -------------------------
BILLING_ENABLED = env.bool("BILLING_ENABLED", default=True)
if BILLING_ENABLED:
    _required("STRIPE_SECRET_KEY")
    _required("STRIPE_WEBHOOK_SECRET")

# --- Caption writer (issue 4): a misconfigured writer would fail every job; refuse to start.
# Production never writes offline drafts, and current Claude models on Bedrock are only
# callable through an inference profile ("us.anthropic...", "global.anthropic...").
CAPTION_WRITER = _required("CAPTION_WRITER")
if CAPTION_WRITER not in ("bedrock", "anthropic"):
    raise ImproperlyConfigured(
        "CAPTION_WRITER must be bedrock or anthropic in production (local writes offline drafts)."
    )
if CAPTION_WRITER == "anthropic":
    _required("ANTHROPIC_API_KEY")
else:
    BEDROCK_MODEL_ID = _required("BEDROCK_MODEL_ID")
    _profile = BEDROCK_MODEL_ID.split(".", 1)[0]
    if _profile not in ("us", "eu", "apac", "jp", "au", "global") and (
        ":inference-profile/" not in BEDROCK_MODEL_ID
        and ":application-inference-profile/" not in BEDROCK_MODEL_ID
    ):
        raise ImproperlyConfigured(
            f"BEDROCK_MODEL_ID '{BEDROCK_MODEL_ID}' is a bare model id; current Claude models "
            "need an inference profile id (e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0)."
        )
_writer_model = {"bedrock": BEDROCK_MODEL_ID, "anthropic": ANTHROPIC_MODEL}[  # noqa: F405
    CAPTION_WRITER
]
if _writer_model.split(".", 1)[-1] not in LLM_PRICES and (  # noqa: F405
    _writer_model not in LLM_PRICES  # noqa: F405
):
    raise ImproperlyConfigured(
        f"The caption model '{_writer_model}' has no row in the price table; add it with "
        "LLM_PRICES_JSON so its cost can be recorded."
    )
