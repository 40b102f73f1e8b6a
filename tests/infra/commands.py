"""Checking a container's command against the project: is it a command this code has?"""

import importlib
import re
import shlex
from pathlib import Path

from celery.app.utils import find_app
from django.conf import settings
from django.core.management import get_commands

CELERY_SUBCOMMANDS = {"worker", "beat"}
SETTINGS_DIR = Path(__file__).resolve().parent.parent.parent / "config" / "settings"
# Read by Django and boto3 themselves rather than by our settings modules.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                  "AWS_DEFAULT_REGION"}


def settings_env_names() -> set[str]:
    """Every environment variable config/settings reads (a name nobody reads is a typo)."""
    text = "".join(p.read_text() for p in SETTINGS_DIR.glob("*.py"))
    return set(re.findall(r'(?:env(?:\.\w+)?|_required)\(\s*"([A-Z0-9_]+)"', text)) | READ_ELSEWHERE


def command_problems(command: list[str] | str) -> list[str]:
    """What is wrong with a container command (empty when it would start)."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] == ["python", "manage.py"]:
        name = argv[2]
        return [] if name in get_commands() else [f"manage.py has no command '{name}'"]
    if argv[:1] == ["celery"]:
        problems = []
        app_path = argv[argv.index("-A") + 1]
        app = find_app(app_path)
        if app.main != "caption_generator":
            problems.append(f"celery -A {app_path} is not the project's Celery app")
        sub = next((a for a in argv[argv.index("-A") + 2:] if not a.startswith("-")), "")
        if sub not in CELERY_SUBCOMMANDS:
            problems.append(f"unexpected celery subcommand '{sub}'")
        for arg in argv:
            if arg.startswith("--queues="):
                known = {settings.CAPTIONS_STT_QUEUE, settings.CAPTIONS_DEFAULT_QUEUE}
                unknown = set(arg.split("=", 1)[1].split(",")) - known
                if unknown:
                    problems.append(f"no task is routed to queue(s) {sorted(unknown)}")
        return problems
    if argv[:1] == ["gunicorn"]:
        module, _, attr = argv[1].partition(":")
        wsgi = importlib.import_module(module)
        return [] if hasattr(wsgi, attr or "application") else [f"{argv[1]} has no WSGI app"]
    return [f"unrecognised command {argv}"]
