#!/usr/bin/env bash
# Runs the whole test suite: lint, then pytest against the machine's PostgreSQL and
# Redis and a moto S3 server that the suite starts on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv
.venv/bin/ruff check .
# Temporary files live in this checkout: pytest otherwise shares /tmp/pytest-of-$USER
# with every other session on the machine and deletes all but the newest three.
mkdir -p var
exec .venv/bin/python -m pytest --basetemp=var/pytest "$@"
