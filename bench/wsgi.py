"""The benchmark's WSGI entry point: the product's, with ``harness.raise_plan_limits``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import raise_plan_limits  # noqa: E402
from config.wsgi import application  # noqa: E402,F401

raise_plan_limits()
