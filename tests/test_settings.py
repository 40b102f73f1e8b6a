"""The same code runs on embedded defaults or on real servers, chosen by the environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": {k: str(v) for k, v in settings.STORAGES["default"]["OPTIONS"].items()},
    "broker": settings.CELERY_BROKER_URL,
    "broker_options": getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
}))
"""


def settings_in_subprocess(module: str, extra_env: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": module,
           "CAPTIONS_VAR_DIR": str(tmp_path / "var"), **extra_env}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_no_variables_means_sqlite_local_files_filesystem_broker_and_local_memory(tmp_path):
    result = settings_in_subprocess("config.settings.local", {}, tmp_path)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["db"] == "django.db.backends.sqlite3"
    assert conf["db_name"] == str(tmp_path / "var" / "db.sqlite3")
    assert conf["cache"].endswith("LocMemCache")
    assert conf["storage"] == "django.core.files.storage.FileSystemStorage"
    assert conf["storage_options"]["location"] == str(tmp_path / "var" / "media")
    assert conf["broker"] == "filesystem://"
    # kombu would otherwise keep its exchange tables in ./control of whatever folder
    # the process started in.
    assert conf["broker_options"]["control_folder"] == str(tmp_path / "var" / "celery" / "control")


def test_importing_settings_creates_no_folders(tmp_path):
    result = settings_in_subprocess("config.settings.local", {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == [], "scripts/run.sh makes the folders, not the settings"


def test_environment_switches_to_postgres_redis_and_s3(tmp_path):
    result = settings_in_subprocess(
        "config.settings.local",
        {"DATABASE_URL": "postgres://u:p@db.internal:5432/captions",
         "REDIS_URL": "redis://cache.internal:6379/0",
         "AWS_STORAGE_BUCKET_NAME": "media-bucket",
         "AWS_S3_ENDPOINT_URL": "http://s3.internal:9000"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["db"] == "config.postgres"  # Django's PostgreSQL backend, our health check
    assert conf["cache"] == "django_redis.cache.RedisCache"
    assert conf["storage"] == "captions.storage.MediaS3Storage"
    assert conf["storage_options"]["bucket_name"] == "media-bucket"
    assert conf["storage_options"]["file_overwrite"] == "False"
    assert conf["broker"] == "redis://cache.internal:6379/0"


# Everything production needs, as the ECS task definitions give it (fake values);
# tests/test_infra_app_agreement.py derives the same set from the Terraform itself.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
    "DJANGO_ALLOWED_HOSTS": "captions.example.com",
    "DATABASE_HOST": "db.internal", "DATABASE_PORT": "5432", "DATABASE_NAME": "captions",
    "DATABASE_USER": "captions", "DATABASE_PASSWORD": "from-the-rds-secret",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1",
    "REDIS_URL": "rediss://:token@cache.internal:6379/0?ssl_cert_reqs=required",
    "AWS_STORAGE_BUCKET_NAME": "media-bucket",
    "AWS_SES_REGION_NAME": "us-east-1", "DEFAULT_FROM_EMAIL": "noreply@captions.example.com",
    "CAPTION_WRITER": "bedrock", "BEDROCK_MODEL_ID": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "BILLING_ENABLED": "true", "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x",
}


@pytest.mark.parametrize(
    ("env", "missing"),
    [({}, "DJANGO_SECRET_KEY"),
     ({"DJANGO_SECRET_KEY": "x" * 64}, "DJANGO_ALLOWED_HOSTS")]
    + [({k: v for k, v in PRODUCTION_ENV.items() if k != name}, name)
       for name in ("DATABASE_HOST", "DATABASE_PASSWORD", "DATABASE_SECRET_ARN", "REDIS_URL",
                    "AWS_STORAGE_BUCKET_NAME",
                    "DEFAULT_FROM_EMAIL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                    "CAPTION_WRITER")],
)
def test_production_refuses_to_start_without_its_secrets(tmp_path, env, missing):
    result = settings_in_subprocess("config.settings.production", env, tmp_path)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_never_falls_back_to_local_defaults(tmp_path):
    result = settings_in_subprocess("config.settings.production", PRODUCTION_ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["db"] == "config.postgres"  # PostgreSQL, re-reading a rotated password
    assert conf["db_name"] == "captions"
    assert conf["cache"] == "django_redis.cache.RedisCache"
    assert conf["storage"] == "captions.storage.MediaS3Storage"
    assert conf["broker"].startswith("rediss://")
    # Objects take the bucket's default encryption (the project's KMS key).
    assert "ServerSideEncryption" not in conf["storage_options"].get("object_parameters", "")


def test_production_with_billing_off_needs_no_stripe_keys(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if not k.startswith("STRIPE_")}
    result = settings_in_subprocess("config.settings.production",
                                    {**env, "BILLING_ENABLED": "false"}, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [({"CAPTION_WRITER": "local"}, "CAPTION_WRITER must be bedrock or anthropic"),
     ({"BEDROCK_MODEL_ID": "anthropic.claude-haiku-4-5-20251001-v1:0"}, "inference profile"),
     ({"DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"},
      "SesEmailBackend"),
     ({"DATABASE_URL": "sqlite:///var/db.sqlite3"}, "PostgreSQL")],
)
def test_production_refuses_a_setting_that_would_quietly_degrade(tmp_path, override, message):
    result = settings_in_subprocess("config.settings.production",
                                    {**PRODUCTION_ENV, **override}, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_passes_the_deploy_checklist(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "CAPTIONS_VAR_DIR": str(tmp_path / "var"), **PRODUCTION_ENV}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level",
                             "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_language_list_matches_whisper():
    from whisper.tokenizer import LANGUAGES as WHISPER_LANGUAGES

    from captions.languages import LANGUAGES

    assert LANGUAGES == WHISPER_LANGUAGES


@pytest.mark.parametrize(
    ("env", "message"),
    [({"STT_ROUTING_POLICY": "cheapest"}, "STT_ROUTING_POLICY must be one of"),
     ({"STT_ROUTING_POLICY": "overflow"}, "needs media in S3"),
     ({"TRANSCRIBE_LANGUAGE_CODE": "english"}, "'english' is not a Transcribe language code"),
     ({"TRANSCRIBE_LANGUAGE_OPTIONS": "en-US,fr"}, "'fr' is not a Transcribe language code")],
)
def test_a_wrong_speech_to_text_routing_setting_stops_the_start_with_its_reason(
    tmp_path, env, message
):
    result = settings_in_subprocess("config.settings.local", env, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_managed_engine_can_be_chosen_where_media_is_in_s3(tmp_path):
    result = settings_in_subprocess("config.settings.local", {
        "STT_ROUTING_POLICY": "managed", "AWS_STORAGE_BUCKET_NAME": "media",
        "TRANSCRIBE_LANGUAGE_OPTIONS": "en-US,es-US"}, tmp_path)
    assert result.returncode == 0, result.stderr
