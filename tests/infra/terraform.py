"""Reading the Terraform by parsing it (python-hcl2): no Terraform binary here.

Only the few expression shapes the modules use are understood (a literal, a
`local.NAME`, `concat(local.A, local.B, ...)`, `jsonencode([local.containers.X, ...])`);
anything else fails loudly, so a rewrite the reader cannot follow breaks the tests
instead of passing them with an empty list.
"""

import re
from pathlib import Path

import hcl2

INFRA = Path(__file__).resolve().parent.parent.parent / "infra"
TERRAFORM = INFRA / "terraform"
COMPUTE = TERRAFORM / "modules" / "compute"


def unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def load(path: Path) -> dict:
    with open(path) as fh:
        return hcl2.load(fh)


def resources(root: Path = TERRAFORM) -> dict[str, dict]:
    """Every resource under root, keyed "type.name" (names are unique in this tree)."""
    found: dict[str, dict] = {}
    for path in sorted(root.rglob("*.tf")):
        for block in load(path).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    key = f"{unquote(rtype)}.{unquote(name)}"
                    assert key not in found, f"{key} is declared twice"
                    found[key] = body
    return found


def variable_defaults(module: Path) -> dict:
    defaults: dict = {}
    for path in sorted(module.glob("*.tf")):
        for block in load(path).get("variable", []):
            for name, body in block.items():
                if "default" in body:
                    defaults[unquote(name)] = body["default"]
    return defaults


_INTERPOLATION = re.compile(r"\$\{(?:tostring\()?([\w.\[\]\"-]+?)\)?\}")


def fake_interpolations(value: str, defaults: dict) -> str:
    """"https://${var.domain_name}" -> "https://fake-domain-name"; a variable with a
    default takes its default, as an environment that does not set it would."""

    def one(match: re.Match) -> str:
        ref = match.group(1)
        if ref.startswith("var.") and ref[4:] in defaults:
            default = defaults[ref[4:]]
            return str(default).lower() if isinstance(default, bool) else str(unquote(default))
        return "fake-" + ref.rsplit(".", 1)[-1].replace("_", "-")

    return _INTERPOLATION.sub(one, value)


def locals_of(module: Path) -> dict:
    merged: dict = {}
    for path in sorted(module.glob("*.tf")):
        for block in load(path).get("locals", []):
            merged.update({k: v for k, v in block.items() if k != "__is_block__"})
    return merged


_LOCAL = re.compile(r"^\$\{local\.(\w+)\}$")
_CONCAT = re.compile(r"^\$\{concat\(((?:local\.\w+(?:, )?)+)\)\}$")
_CONTAINERS = re.compile(r"^\$\{jsonencode\(\[((?:local\.containers\.\w+(?:, )?)+)\]\)\}$")


def _resolve_list(expr, local_values: dict) -> list:
    if isinstance(expr, list):
        return expr
    if m := _LOCAL.match(expr):
        return _resolve_list(local_values[m.group(1)], local_values)
    if m := _CONCAT.match(expr):
        names = [part.strip().removeprefix("local.") for part in m.group(1).split(",")]
        return [item for name in names for item in _resolve_list(local_values[name], local_values)]
    raise AssertionError(f"cannot read the expression {expr!r}; extend tests/infra/terraform.py")


def task_containers(module: Path = COMPUTE) -> dict[str, list[dict]]:
    """Each ECS task definition's containers, with environment and secrets resolved."""
    local_values = locals_of(module)
    containers = local_values["containers"]
    tasks: dict[str, list[dict]] = {}
    for key, body in resources(module).items():
        if not key.startswith("aws_ecs_task_definition."):
            continue
        m = _CONTAINERS.match(body["container_definitions"])
        assert m, f"{key}: container_definitions must be jsonencode([local.containers.X, ...])"
        names = [part.strip().removeprefix("local.containers.") for part in m.group(1).split(",")]
        tasks[key.split(".", 1)[1]] = [
            {
                "name": unquote(containers[name]["name"]),
                "image": unquote(containers[name]["image"]),
                "command": [unquote(c) for c in containers[name].get("command", [])],
                "environment": {
                    unquote(item["name"]): unquote(item["value"])
                    for item in _resolve_list(containers[name]["environment"], local_values)
                },
                "secrets": [unquote(item["name"])
                            for item in _resolve_list(containers[name]["secrets"], local_values)],
            }
            for name in names
        ]
    return tasks


# The two images built from this repository; any other image is a sidecar.
APP_IMAGES = {"${local.app_image}", "${local.gpu_image}"}


def app_containers(tasks: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each task's containers that run this project's code (sidecars left out)."""
    return {task: [c for c in containers if c["image"] in APP_IMAGES]
            for task, containers in tasks.items()}
