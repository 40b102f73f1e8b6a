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
    assert conf["db"] == "django.db.backends.postgresql"
    assert conf["cache"] == "django_redis.cache.RedisCache"
    assert conf["storage"] == "storages.backends.s3.S3Storage"
    assert conf["storage_options"]["bucket_name"] == "media-bucket"
    assert conf["storage_options"]["file_overwrite"] == "False"
    assert conf["broker"] == "redis://cache.internal:6379/0"


@pytest.mark.parametrize(
    ("env", "missing"),
    [({}, "DJANGO_SECRET_KEY"),
     ({"DJANGO_SECRET_KEY": "x" * 64}, "DJANGO_ALLOWED_HOSTS")],
)
def test_production_refuses_to_start_without_its_secrets(tmp_path, env, missing):
    result = settings_in_subprocess("config.settings.production", env, tmp_path)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_passes_the_deploy_checklist(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "CAPTIONS_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
           "DJANGO_ALLOWED_HOSTS": "captions.example.com"}
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
