# Creates .venv with the project installed, once; later calls only re-sync when
# pyproject.toml changed. torch goes first so openai-whisper does not pull a CUDA build.
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

ensure_venv() {
  local stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
  if [ -f "$stamp" ]; then return 0; fi
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3.11}" -m venv .venv 2>/dev/null || python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet "$TORCH_SPEC"
  .venv/bin/pip install --quiet -e ".[dev,offline-models]"
  rm -f .venv/.installed-* && touch "$stamp"
}
