# Creates .venv from the lock file, once; later calls only re-sync when pyproject.toml or
# requirements/dev.lock changed. Every file pip installs is checked against the lock's
# hashes; the lock's torch is the CPU build (2.13.0+cpu), so openai-whisper cannot pull a
# CUDA one. The lock is made by scripts/lock.sh (README: "Dependencies").
LOCK_FILE=requirements/dev.lock

ensure_venv() {
  local stamp
  stamp=.venv/.installed-$(cat pyproject.toml "$LOCK_FILE" | sha256sum | cut -c1-16)
  if [ -f "$stamp" ]; then return 0; fi
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3.11}" -m venv .venv 2>/dev/null || python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --require-hashes -r "$LOCK_FILE"
  # The project itself: its dependencies are all in the lock, and the build uses the
  # lock's setuptools instead of fetching one.
  .venv/bin/pip install --quiet --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-* && touch "$stamp"
}
