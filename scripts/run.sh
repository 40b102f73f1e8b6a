#!/usr/bin/env bash
# Runs the product on this machine with the embedded defaults: SQLite and media
# files under var/, a filesystem Celery broker, one local worker. No server or cloud
# account is needed. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv

export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
VAR_DIR="${CAPTIONS_VAR_DIR:-var}"
# Settings create no folders; the embedded defaults' folders are made here (the database,
# logs, and the filesystem broker's messages and control files).
mkdir -p "$VAR_DIR/log" "$VAR_DIR/celery/out" "$VAR_DIR/celery/processed" "$VAR_DIR/celery/control"

# The web server and the worker write their metrics here and /metrics merges them
# (prometheus_client's multiprocess mode); it starts empty on every run.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$VAR_DIR/metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

.venv/bin/python manage.py migrate --noinput >"$VAR_DIR/log/migrate.log"

# One local worker serves every queue ("default" and the speech-to-text queue "gpu")
# and runs the periodic sweeps (celery beat).
.venv/bin/celery -A config worker --beat --schedule "$VAR_DIR/celerybeat-schedule" \
  --pool=solo --queues=default,gpu --loglevel=INFO \
  >"$VAR_DIR/log/worker.log" 2>&1 &
worker_pid=$!
trap 'kill $worker_pid 2>/dev/null || true; wait $worker_pid 2>/dev/null || true' EXIT INT TERM

cat <<MSG
Caption Generator is running at http://$HOST:$PORT/
  - sign up there; verification emails are written to $VAR_DIR/outbox/
  - worker log: $VAR_DIR/log/worker.log
  - Whisper model: ${WHISPER_MODEL:-base} on ${WHISPER_ENGINE:-faster-whisper} (WHISPER_MODEL: a model
    name, a .pt checkpoint or a CTranslate2 folder; WHISPER_ENGINE: faster-whisper or openai-whisper)
MSG
.venv/bin/python manage.py runserver --noreload "$HOST:$PORT"
