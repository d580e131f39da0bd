.PHONY: run test test-fast lint bench bench-ocr setup

run:        ## install, provision the model, load corpus/, serve the API
	bash scripts/run.sh

test:       ## install with test tools and run every test
	bash scripts/test.sh

test-fast:  ## only the tests that need no model
	.venv/bin/python -m pytest -q -m "not slow"

lint:
	.venv/bin/ruff check . && .venv/bin/mypy ingest index search_api pedkb cli

bench:
	.venv/bin/python bench/pipeline_bench.py

bench-ocr:  ## OCR character error rate and pages/s (docs/ocr.md)
	.venv/bin/python bench/ocr_bench.py --pages 12

fuzz:       ## schemathesis against a real server (installs schemathesis if missing)
	bash bench/fuzz_api.sh
