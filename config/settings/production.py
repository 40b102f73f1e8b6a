"""Production: refuses to start without its secrets and hosts."""

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
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
WHISPER_DEVICE = env("WHISPER_DEVICE", default="cuda")
# GPU workers batch 30-second windows across the whole recording (our engine); a CPU
# deployment sets WHISPER_ENGINE=faster-whisper, as the local default does.
WHISPER_ENGINE = env("WHISPER_ENGINE", default="openai-whisper")
WHISPER_COMPUTE_TYPE = env("WHISPER_COMPUTE_TYPE", default="float16")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)  # noqa: F405

# --- Caption writer (issue 4): a misconfigured writer would fail every job; refuse to start.
if CAPTION_WRITER not in ("local", "bedrock", "anthropic"):  # noqa: F405
    raise ImproperlyConfigured("CAPTION_WRITER must be local, bedrock or anthropic.")
if CAPTION_WRITER == "anthropic":  # noqa: F405
    _required("ANTHROPIC_API_KEY")
_writer_model = {"bedrock": BEDROCK_MODEL_ID, "anthropic": ANTHROPIC_MODEL}.get(  # noqa: F405
    CAPTION_WRITER, ""  # noqa: F405
)
if _writer_model and _writer_model.split(".", 1)[-1] not in LLM_PRICES and (  # noqa: F405
    _writer_model not in LLM_PRICES  # noqa: F405
):
    raise ImproperlyConfigured(
        f"The caption model '{_writer_model}' has no row in the price table; add it with "
        "LLM_PRICES_JSON so its cost can be recorded."
    )
