#!/usr/bin/env bash
# Regenerates the three lock files under requirements/ from pyproject.toml, with hashes.
# Each is one view of the same resolution, for Linux x86_64 and CPython 3.11:
#   dev.lock      the project, dev and offline-models extras, CPU torch: .venv (scripts/, CI)
#   app-cpu.lock  the project only, CPU torch: infra/docker/Dockerfile (web, CPU workers)
#   app-gpu.lock  the project only, CUDA torch from PyPI: infra/docker/Dockerfile.gpu
# dev.lock is resolved first; the two image locks take its versions as constraints, so
# every package but torch and its CUDA libraries is the same version everywhere.
# torch's version is declared once, in pyproject.toml; only its build differs by lock.
#
#   bash scripts/lock.sh                          keep current pins where they still fit
#   bash scripts/lock.sh --upgrade                newest versions of everything
#   bash scripts/lock.sh --upgrade-package django one package (extra args go to pip-compile)
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_TOOLS_VERSION=7.6.2
tools=.venv-lock
if [ ! -x "$tools/bin/pip-compile" ]; then
  python3.11 -m venv "$tools"
  "$tools/bin/pip" install --quiet "pip-tools==$PIP_TOOLS_VERSION"
fi

# Only PyPI and one torch source: no machine's own mirror or pip config ends up deciding
# a pin, so the locks install the same on a laptop, in CI and in an image build. The CPU
# build of torch comes from a folder holding its wheel (TORCH_CPU_WHEELS; this machine's
# /opt/wheels) or else from PyTorch's CPU index.
export PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= PIP_CONSTRAINT=
export CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
if [ -n "${TORCH_CPU_WHEELS:-}" ] || ls /opt/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then
  cpu_source=(--find-links "${TORCH_CPU_WHEELS:-/opt/wheels}")
else
  cpu_source=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --newline LF
        --no-emit-index-url --no-emit-find-links)
compile() { "$tools/bin/pip-compile" "${common[@]}" "$@"; }

mkdir -p requirements
compile "${cpu_source[@]}" --extra dev --extra offline-models \
  --output-file requirements/dev.lock "$@" pyproject.toml

# dev.lock's pins (no hashes) as constraints for the image locks; the GPU one leaves out
# torch and triton, whose CUDA build pins them itself.
pins=var/lock
mkdir -p "$pins"
grep -E '^[A-Za-z0-9_.-]+==' requirements/dev.lock | sed 's/ .*//' >"$pins/cpu.txt"
grep -vE '^(torch|triton)==' "$pins/cpu.txt" >"$pins/gpu.txt"

compile "${cpu_source[@]}" --constraint "$pins/cpu.txt" \
  --output-file requirements/app-cpu.lock "$@" pyproject.toml
compile --constraint "$pins/gpu.txt" \
  --output-file requirements/app-gpu.lock "$@" pyproject.toml
