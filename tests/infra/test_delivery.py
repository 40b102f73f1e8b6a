"""The delivery pipeline: scanned images, a staging gate, migrations first, a canary."""

import re
from pathlib import Path

import pytest
import yaml
from django.urls import Resolver404, resolve

from tests.infra.terraform import INFRA, TERRAFORM, resources

ROOT = INFRA.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


@pytest.fixture(scope="module")
def ci() -> dict:
    return _workflow("ci.yml")


@pytest.fixture(scope="module")
def deploy() -> dict:
    return _workflow("deploy.yml")


def test_images_are_scanned_and_fail_on_critical_findings_before_push(ci):
    steps = ci["jobs"]["build"]["steps"]
    names = [s.get("name", s.get("uses", "")) for s in steps]
    scan = next(i for i, s in enumerate(steps) if "trivy-action" in s.get("uses", ""))
    push = next(i for i, n in enumerate(names) if n.startswith("Push"))
    assert scan < push
    assert steps[scan]["with"]["severity"] == "CRITICAL"
    assert steps[scan]["with"]["exit-code"] == "1"
    assert ci["jobs"]["build"]["needs"] == "test"


def test_production_comes_only_after_staging_with_the_same_image(ci):
    jobs = ci["jobs"]
    assert jobs["staging"]["needs"] == "build"
    assert jobs["production"]["needs"] == "staging"
    assert jobs["staging"]["with"]["environment"] == "staging"
    assert jobs["production"]["with"]["environment"] == "prod"
    assert jobs["production"]["with"]["image_tag"] == jobs["staging"]["with"]["image_tag"]
    for env in ("staging", "prod"):
        assert (TERRAFORM / "environments" / env / "main.tf").is_file()


def test_two_applies_never_overlap(ci, deploy):
    assert "deploy-main" in ci["concurrency"]["group"]
    assert deploy["concurrency"]["group"] == "terraform-${{ inputs.environment }}"
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_apply_waits_for_approval_and_applies_only_the_reviewed_plan(deploy):
    apply = deploy["jobs"]["apply"]
    # Required reviewers are set on the GitHub environment named here (docs/deploy.md).
    assert apply["environment"]["name"] == "${{ inputs.environment }}"
    assert apply["needs"] == "plan"
    runs = [s.get("run", "") for s in apply["steps"]]
    assert any("apply -input=false tfplan" in r for r in runs)
    text = (WORKFLOWS / "deploy.yml").read_text() + (WORKFLOWS / "ci.yml").read_text()
    assert "-auto-approve" not in text


def test_migrations_run_before_anything_rolls_then_canary_then_smoke(deploy):
    runs = [s.get("run", "") for s in deploy["jobs"]["apply"]["steps"]]

    def index(fragment: str) -> int:
        return next(i for i, r in enumerate(runs) if fragment in r)

    assert (index("migrate.sh") < index("apply -input=false tfplan")
            < index("web_deploy.sh") < index("smoke.sh"))


def test_web_deploys_are_canaried_and_roll_back_on_alarms():
    found = resources(TERRAFORM / "modules" / "compute")
    group = found["aws_codedeploy_deployment_group.web"]
    rollback = group["auto_rollback_configuration"][0]
    assert rollback["enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in str(rollback["events"])
    assert group["alarm_configuration"][0]["enabled"] is True
    variables = (TERRAFORM / "modules" / "compute" / "variables.tf").read_text()
    assert "ECSCanary10Percent5Minutes" in variables
    prod = (TERRAFORM / "environments" / "prod" / "main.tf").read_text()
    assert "web_deployment_config" not in prod  # prod keeps the canary default


SMOKE = (INFRA / "deploy" / "smoke.sh").read_text()


@pytest.mark.parametrize(("path", "status"), re.findall(r"^check (\S+) (\d+)$", SMOKE, re.M))
def test_smoke_test_asks_for_pages_this_code_serves(path, status):
    if path.startswith("/static/"):
        assert (ROOT / "static" / path.removeprefix("/static/")).is_file()
        return
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"smoke.sh checks {path}, which no URL serves")


def test_deploy_scripts_read_outputs_the_stack_has():
    outputs = (TERRAFORM / "modules" / "stack" / "outputs.tf").read_text()
    declared = set(re.findall(r'^output "(\w+)"', outputs, re.M))
    for script in ("migrate.sh", "web_deploy.sh"):
        text = Path(INFRA / "deploy" / script).read_text()
        used = set(re.findall(r"out '?\.(\w+)", text))
        assert used and used <= declared, (script, used - declared)
