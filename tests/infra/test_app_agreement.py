"""The application and the infrastructure agree.

The ECS task definitions' environment and secret names are read from the parsed
Terraform, and the production settings are booted with exactly those names (fake
values): a variable that production requires but the Terraform does not give fails
here, before an apply would leave tasks crash-looping.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.infra.commands import settings_env_names
from tests.infra.terraform import (
    APP_IMAGES,
    COMPUTE,
    app_containers,
    fake_interpolations,
    locals_of,
    resources,
    task_containers,
    unquote,
    variable_defaults,
)

ROOT = Path(__file__).resolve().parent.parent.parent

# Values that must have a shape; everything else a task is given gets a plain fake.
FAKE_VALUES = {
    "DJANGO_SECRET_KEY": "fake-" + "q7w8e9r0t1y2u3i4o5p6" * 3,
    "REDIS_URL": "rediss://:fake-token@cache.internal:6379/0?ssl_cert_reqs=required",
    "DATABASE_PORT": "5432",
    "DATABASE_PASSWORD": "fake-password",
    "STRIPE_SECRET_KEY": "sk_test_fake",
    "STRIPE_WEBHOOK_SECRET": "whsec_fake",
}


def _task_env(container: dict, module: Path = COMPUTE) -> dict[str, str]:
    """What ECS would give the container: its literals as written, references to other
    resources faked, variables at their defaults, and a fake value for each secret."""
    defaults = variable_defaults(module)
    env = {name: fake_interpolations(value, defaults)
           for name, value in container["environment"].items()}
    env.update({name: value for name, value in FAKE_VALUES.items() if name in env})
    env.update({name: FAKE_VALUES.get(name, f"fake-{name.lower()}")
                for name in container["secrets"]})
    return env


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
            "CAPTIONS_VAR_DIR": str(tmp_path / "var")}
    env = dict(env)
    if "PROMETHEUS_MULTIPROC_DIR" in env:
        # The task's own folder (/tmp/prometheus), moved under this test's: the process
        # still has to create it, as a container starting with an empty /tmp does.
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / env["PROMETHEUS_MULTIPROC_DIR"].strip("/"))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=180)


def _boot(container: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    return _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                _task_env(container), tmp_path)


@pytest.fixture(scope="module")
def all_tasks() -> dict[str, list[dict]]:
    return task_containers()


@pytest.fixture(scope="module")
def tasks(all_tasks) -> dict[str, list[dict]]:
    """The containers that run this project's code; sidecars have their own tests."""
    return app_containers(all_tasks)


def test_every_service_and_one_off_task_is_defined(tasks):
    assert set(tasks) == {"web", "cpu_worker", "gpu_worker", "beat", "migrate"}
    commands = {c["name"]: c["command"] for containers in tasks.values() for c in containers}
    assert commands["migrate"] == ["python", "manage.py", "migrate", "--noinput"]
    assert commands["beat"][:4] == ["celery", "-A", "config", "beat"]
    assert commands["queue-metrics"][:3] == ["python", "manage.py", "publish_queue_metrics"]
    assert "--queues=gpu" in commands["gpu-worker"]


def test_production_settings_start_with_exactly_what_each_task_is_given(tasks, tmp_path):
    booted = set()
    for task, containers in tasks.items():
        for container in containers:
            env = _task_env(container)
            assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
            key = tuple(sorted(env))
            if key in booted:
                continue
            booted.add(key)
            result = _boot(container, tmp_path)
            assert result.returncode == 0, f"{task}/{container['name']}: {result.stderr[-2000:]}"
            assert "no issues" in result.stdout
    assert len(booted) >= 2  # the app containers and the GPU worker differ


def test_gpu_worker_waits_for_its_model_and_downloads_nothing(tasks):
    [gpu] = tasks["gpu_worker"]
    assert gpu["environment"]["WHISPER_PRELOAD"] == "true"
    assert gpu["environment"]["WHISPER_ALLOW_DOWNLOAD"] == "false"
    assert gpu["environment"]["WHISPER_READY_FILE"]
    ecs_tf = (COMPUTE / "ecs.tf").read_text()
    assert f'test -f {gpu["environment"]["WHISPER_READY_FILE"]}' in ecs_tf


def test_every_name_a_task_is_given_is_read_by_the_settings(tasks):
    # A misspelt name (DATABSE_HOST) would be ignored, and the setting left at its default.
    given = {name for containers in tasks.values() for c in containers
             for name in (*c["environment"], *c["secrets"])}
    assert given - settings_env_names() == set()


@pytest.mark.parametrize(
    "name",
    ["REDIS_URL", "DATABASE_PASSWORD", "DATABASE_SECRET_ARN", "DATABASE_HOST",
     "AWS_STORAGE_BUCKET_NAME",
     "DEFAULT_FROM_EMAIL", "CAPTION_WRITER", "STRIPE_SECRET_KEY", "DJANGO_SECRET_KEY"],
)
def test_removing_a_required_variable_from_the_terraform_fails(tmp_path, name):
    module = tmp_path / "compute"
    shutil.copytree(COMPUTE, module)
    ecs_tf = module / "ecs.tf"
    lines = ecs_tf.read_text().splitlines(keepends=True)
    kept = [line for line in lines if f'name = "{name}"' not in line]
    assert len(kept) == len(lines) - 1, f"{name} is not one line of ecs.tf"
    ecs_tf.write_text("".join(kept))

    [web] = task_containers(module)["web"]
    assert name not in web["environment"] and name not in web["secrets"]
    result = _run(["manage.py", "check", "--deploy"], _task_env(web, module), tmp_path)
    assert result.returncode != 0
    # Refused with a message naming the variable (production's own check, or an earlier
    # one in base.py such as Transcribe's need for the bucket).
    [message] = [line for line in result.stderr.splitlines()
                 if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert name in message


PROBE = """
import json, django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", "--noinput", verbosity=0)
client = Client()
target_ip = "10.40.11.23"  # the load balancer sends the target's IP as Host
print(json.dumps({
    "healthz": client.get("/healthz", HTTP_HOST=target_ip).status_code,
    "readyz": client.get("/readyz", HTTP_HOST=target_ip).status_code,
    "other_path_by_ip": client.get("/accounts/login/", HTTP_HOST=target_ip,
                                   secure=True).status_code,
    "static": client.get("/static/css/app.css", HTTP_HOST="captions.example.com",
                         secure=True).status_code,
}))
"""


def test_load_balancer_probes_pass_and_static_files_are_served(tasks, tmp_path):
    [web] = tasks["web"]
    db = settings.DATABASES["default"]
    env = {
        **_task_env(web),
        # The suite's real PostgreSQL and Redis stand in for RDS and ElastiCache.
        "DATABASE_HOST": db["HOST"] or "127.0.0.1", "DATABASE_PORT": str(db["PORT"] or 5432),
        "DATABASE_NAME": "postgres", "DATABASE_USER": db["USER"] or "postgres",
        "DATABASE_SSLMODE": "prefer", "REDIS_URL": settings.REDIS_URL,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    result = _run(["-c", PROBE], env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["healthz"] == 200
    assert answers["readyz"] == 200
    # Only the probes skip host validation.
    assert answers["other_path_by_ip"] == 400
    assert answers["static"] == 200


SETTINGS_PROBE = """
import json, os, django
django.setup()
from django.conf import settings
folder = settings.PROMETHEUS_MULTIPROC_DIR
print(json.dumps({
    "STT_ROUTING_POLICY": settings.STT_ROUTING_POLICY,
    "TRANSCRIBE_REGION": settings.TRANSCRIBE_REGION,
    "TRANSCRIBE_OUTPUT_PREFIX": settings.TRANSCRIBE_OUTPUT_PREFIX,
    "WORKER_METRICS_PORT": settings.WORKER_METRICS_PORT,
    "metrics_files": sorted(os.listdir(folder)) if folder else None,
}))
"""


def _settings_seen(container: dict, tmp_path: Path) -> dict:
    result = _run(["-c", SETTINGS_PROBE], _task_env(container), tmp_path)
    assert result.returncode == 0, f"{container['name']}: {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_app_container_routes_speech_to_text_as_the_terraform_says(tasks, tmp_path):
    # The web decides each job's engine when it is created; the workers call Transcribe.
    defaults = variable_defaults(COMPUTE)
    for task in ("web", "cpu_worker", "gpu_worker"):
        [container] = tasks[task]
        env = _task_env(container)
        seen = _settings_seen(container, tmp_path / task)
        assert seen["STT_ROUTING_POLICY"] == unquote(defaults["stt_routing_policy"]) == "overflow"
        assert seen["TRANSCRIBE_REGION"] == env["TRANSCRIBE_REGION"] == env["AWS_S3_REGION_NAME"]
        assert seen["TRANSCRIBE_OUTPUT_PREFIX"] == env["TRANSCRIBE_OUTPUT_PREFIX"]


def test_each_worker_serves_merged_metrics_to_a_collector_in_its_task(all_tasks, tmp_path):
    defaults = variable_defaults(COMPUTE)
    for task in ("cpu_worker", "gpu_worker"):
        [worker] = app_containers(all_tasks)[task]
        [collector] = [c for c in all_tasks[task] if c["image"] not in APP_IMAGES]
        port = worker["environment"]["WORKER_METRICS_PORT"]
        assert port == "${tostring(var.worker_metrics_port)}"
        seen = _settings_seen(worker, tmp_path / task)
        # The port the collector scrapes, and a multiprocess folder the worker made itself
        # and wrote its samples into (a pool process's counters reach the exporter).
        assert seen["WORKER_METRICS_PORT"] == defaults["worker_metrics_port"] == 9101
        assert seen["metrics_files"], f"{task}: nothing written to PROMETHEUS_MULTIPROC_DIR"
        assert collector["image"] == "${var.metrics_collector_image}"
        assert ":latest" not in unquote(defaults["metrics_collector_image"])
        config_ref = "${local.metrics_collector_config}"
        assert collector["environment"] == {"AOT_CONFIG_CONTENT": config_ref}
    # The collector's configuration: scrape that port on the task's own loopback, write to
    # the environment's Prometheus workspace with the task role, which may do exactly that.
    config = locals_of(COMPUTE)["metrics_collector_config"]
    assert '"localhost:${var.worker_metrics_port}"' in config
    assert "${aws_prometheus_workspace.main.prometheus_endpoint}api/v1/remote_write" in config
    found = resources(COMPUTE)
    assert "aws_prometheus_workspace.main" in found
    policy = found["aws_iam_role_policy.metrics_remote_write"]
    assert policy["role"] == "${aws_iam_role.task.id}"
    assert "aps:RemoteWrite" in policy["policy"]
    assert "aws_prometheus_workspace.main.arn" in policy["policy"]
    # Not essential: a collector that stops leaves the worker running.
    container_locals = locals_of(COMPUTE)["containers"]["metrics_collector"]
    assert container_locals["essential"] is False
