# kaigo-flow — two commands matter: `make dev` and `make test`. Everything else is bootstrapped here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Use a uv already on PATH; otherwise install the hash-pinned one into the venv.
UV := $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
LOCK := requirements/dev.lock
STAMP := $(VENV)/.synced
# The browser tests drive Debian's chromium, never a downloaded browser build (no `playwright install`).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help dev test test-unit test-integration lint fmt migrate seed lock clean bench previews

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/bin/uv: | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/bootstrap.lock

$(STAMP): $(LOCK) pyproject.toml | $(PY) $(UV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@touch $@

dev: $(STAMP) ## run the whole system on embedded defaults (Ctrl-C stops it)
	$(VENV)/bin/kaigo dev

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests (apt-get) …"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

# pytest exits 5 when it collects nothing; that must never look like a pass.
test: $(STAMP) lint | $(CHROMIUM) ## lint, then the whole test suite (embedded PostgreSQL unless TEST_DATABASE_URL is set)
	$(PY) -m pytest -q; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

test-integration: $(STAMP) | $(CHROMIUM) ## only the tests that need PostgreSQL/Temporal (and chromium)
	$(PY) -m pytest -q -m integration

# Benchmarks are not tests: each script prints its figures beside a baseline measured in the same run.
bench: $(STAMP) ## run every bench/bench_*.py in name order (minutes; see docs/benchmarks.md)
	@set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

# Page images of every notice kind need poppler's pdftoppm; install it where apt-get is available.
previews: $(STAMP) ## render docs/notices/*.png and docs/notices.md from the notice fixtures
	@command -v pdftoppm >/dev/null || { command -v apt-get >/dev/null && apt-get install -y -q poppler-utils; }
	$(VENV)/bin/kaigo notices previews

lint: $(STAMP) ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP) ## apply database migrations (DATABASE_URL, or the embedded server under .data/)
	$(VENV)/bin/kaigo migrate

seed: $(STAMP) ## load the demo residents and staff (idempotent)
	$(VENV)/bin/kaigo seed

lock: | $(UV) ## regenerate the hash-locked requirement files after editing pyproject.toml
	$(UV) pip compile pyproject.toml --generate-hashes --python-version 3.11 -q -o requirements/main.lock
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -q -o requirements/dev.lock

clean: ## remove the venv (keeps .data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache
