#!/usr/bin/env bash
# The first README command: install everything, provision the model, load corpus/ and serve the API.
# PEDKB_DATA (default ./data), PEDKB_HOST (127.0.0.1) and PEDKB_PORT (8000) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PEDKB_DATA=${PEDKB_DATA:-data}
echo "run: loading corpus/ into $PEDKB_DATA (technology classification, sample experiences, documents)"
.venv/bin/pedkb -q kb load
.venv/bin/pedkb -q ingest corpus/documents || echo "run: some corpus files failed (listed above); serving the rest"
echo "run: serving on http://${PEDKB_HOST:-127.0.0.1}:${PEDKB_PORT:-8000}/ (Ctrl+C stops)"
exec .venv/bin/pedkb serve
