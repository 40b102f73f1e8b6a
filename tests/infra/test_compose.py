"""infra/compose.yaml runs the product as production does, with this code's commands."""

from pathlib import Path

import pytest
import yaml

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
