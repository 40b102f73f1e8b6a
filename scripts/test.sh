#!/usr/bin/env bash
# Runs the whole test suite: lint, then pytest against the machine's PostgreSQL and
# Redis and a moto S3 server that the suite starts on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
