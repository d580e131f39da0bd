#!/usr/bin/env bash
# Set up pedkb on a fresh Debian machine: system packages, a virtual environment, the project and the model.
# Idempotent: re-running skips what is already there. Usage: bash scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PYTHON=${PYTHON:-python3}
VENV=${PEDKB_VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_apt=()
command -v "$PYTHON" >/dev/null || need_apt+=(python3)
"$PYTHON" -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
# OCR of scanned pages (both modes): Tesseract and its Kazakh, Kyrgyz and Russian models.
command -v tesseract >/dev/null || need_apt+=(tesseract-ocr)
for model in kaz kir rus; do
  ls /usr/share/tesseract-ocr/*/tessdata/$model.traineddata >/dev/null 2>&1 || need_apt+=("tesseract-ocr-$model")
done
if [ "$DEV" = 1 ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
  # tests/test_ocr.py typesets its scans in DejaVu Serif.
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || need_apt+=(fonts-dejavu-core)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
stamp="$VENV/.pedkb-installed"
want="$(sha1sum pyproject.toml | cut -c1-12)-$DEV"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages (torch is pinned to the local CPU build)"
  $PIP install -q --upgrade pip >/dev/null
  $PIP install -q "torch==2.13.0"
  if [ "$DEV" = 1 ]; then $PIP install -q -e ".[model,pg,dev]"; else $PIP install -q -e ".[model,pg]"; fi
  echo "$want" > "$stamp"
fi

echo "setup: provisioning the embedding model (offline, cached)"
"$VENV/bin/pedkb" -q model install
