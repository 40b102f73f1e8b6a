"""infra/compose.yaml runs the product as production does, with this code's commands."""

import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.files.base import ContentFile

from captions import storage
from tests.infra.commands import command_problems, settings_env_names
from tests.infra.terraform import INFRA, task_containers

ROOT = INFRA.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def test_the_full_stack_is_there(compose):
    services = compose["services"]
    assert {"postgres", "redis", "s3", "web", "worker", "beat", "migrate"} <= set(services)
    commands = {name: s.get("command") for name, s in services.items()}
    assert commands["beat"][:4] == ["celery", "-A", "config", "beat"]


@pytest.mark.parametrize("service", ["migrate", "web", "worker", "beat"])
def test_app_commands_exist_in_this_code(compose, service):
    assert command_problems(compose["services"][service]["command"]) == []


def test_app_services_wait_for_migrations_and_the_bucket(compose):
    for name in ("web", "worker", "beat"):
        deps = compose["services"][name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["bucket"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"


def test_app_environment_names_are_read_by_the_settings(compose):
    env = compose["services"]["web"]["environment"]
    assert set(env) - settings_env_names() == set()
    module = env["DJANGO_SETTINGS_MODULE"].replace(".", "/") + ".py"
    assert (ROOT / module).is_file()
    bucket_cmd = " ".join(compose["services"]["bucket"]["command"])
    assert f"local/{env['AWS_STORAGE_BUCKET_NAME']}" in bucket_cmd
    assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:9000"


def test_every_ecs_container_command_exists_in_this_code():
    for task, containers in task_containers().items():
        for container in containers:
            if container["command"]:
                assert command_problems(container["command"]) == [], (task, container["name"])


def test_image_default_commands_exist_in_this_code():
    for name in ("Dockerfile", "Dockerfile.gpu"):
        lines = Path(INFRA / "docker" / name).read_text().splitlines()
        [cmd] = [line for line in lines if line.startswith("CMD ")]
        assert command_problems(yaml.safe_load(cmd[4:])) == [], name


def test_signed_urls_name_the_store_as_the_browser_reaches_it(compose):
    # The app reaches MinIO as "s3" on compose's network; a browser on this machine only by
    # a port the s3 service publishes. The public endpoint must be that port, on a host
    # name the browser resolves.
    env = compose["services"]["web"]["environment"]
    internal = urlsplit(env["AWS_S3_ENDPOINT_URL"])
    public = urlsplit(env["AWS_S3_PUBLIC_ENDPOINT_URL"])
    assert internal.hostname == "s3" and "s3" in compose["services"]
    assert public.hostname in {"localhost", "127.0.0.1"}
    published = {tuple(p.split(":")) for p in compose["services"]["s3"]["ports"]}
    assert (str(public.port), str(internal.port)) in published
    for name in ("worker", "beat", "migrate"):
        assert compose["services"][name]["environment"] == env


def test_a_url_signed_for_the_public_endpoint_opens_the_object(s3_server, settings):
    # The suite's S3 server reached by another name than the app's (localhost, not
    # 127.0.0.1), as the browser reaches MinIO: the URL names that host and still works.
    internal = urlsplit(settings.AWS_S3_ENDPOINT_URL)
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = f"http://localhost:{internal.port}"
    key = f"tests/public-endpoint/{uuid.uuid4().hex}.mp3"
    storage.file_save(key, ContentFile(b"ID3 public endpoint"))
    url = storage.playback_url_presigned(key, content_type="audio/mpeg", expires_seconds=60)
    assert urlsplit(url).netloc == f"localhost:{internal.port}"
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own loopback
        assert response.read() == b"ID3 public endpoint"
    put = storage.presigned_put_url(key + ".next", expires_seconds=60)
    assert urlsplit(put).netloc == f"localhost:{internal.port}"
