"""The house's shape, read from the source: where the arrows point.

engines <- services (models, selectors, services, gateways) <- tasks, views, admin, API.
Apps lean on each other in one order (config, audit, accounts, billing, webhooks,
captions, operations): below the pages and the API, an app imports only apps before it.
Every import counts, the ones inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engines", "config", "audit", "accounts", "billing", "webhooks", "captions", "api",
            "operations")
APP_ORDER = {"config": 0, "audit": 1, "accounts": 2, "billing": 3, "webhooks": 4, "captions": 5,
             "operations": 6}
TOP_NAMES = {"views", "admin", "tasks", "urls", "apps", "forms", "adapters", "templatetags",
             "management",
             "api", "celery_app", "wsgi", "asgi", "health"}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, resolved to the project's modules where it can be."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    return targets


GRAPH = {name: {t for t in _imports(name, path) if t in MODULES} for name, path in MODULES.items()}
RAW = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_top(name: str) -> bool:
    """Pages, API, admin, tasks and the wiring (``config``'s package loads the Celery app)."""
    parts = name.split(".")
    return name == "config" or parts[0] == "api" or any(p in TOP_NAMES for p in parts[1:])


def test_engines_import_nothing_from_django_or_the_apps():
    offenders = {
        name: sorted(t for t in RAW[name] if t.split(".")[0] in {"django", *PACKAGES} - {"engines"})
        for name in MODULES if name.startswith("engines")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_import_graph_has_no_circles():
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if target == node:
                continue
            if state.get(target) == 1:
                circles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert circles == []


def test_services_and_below_never_import_pages_tasks_admin_or_the_api():
    upward = {
        name: sorted(t for t in GRAPH[name] if _is_top(t))
        for name in MODULES if not _is_top(name)
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_below_the_pages_an_app_imports_only_the_apps_before_it():
    wrong = {}
    for name in MODULES:
        app = name.split(".")[0]
        if app not in APP_ORDER or _is_top(name):
            continue
        later = sorted(t for t in GRAPH[name]
                       if APP_ORDER.get(t.split(".")[0], -1) > APP_ORDER[app] or
                       t.split(".")[0] == "api")
        if later:
            wrong[name] = later
    assert wrong == {}


def test_no_module_is_longer_than_the_house_allows():
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
