# The two set-up commands in the README: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
INSTALLED := $(VENV)/.installed

.PHONY: run test lint screenshots bench check

$(INSTALLED): pyproject.toml package.json package-lock.json
	tools/letter-printing-packages
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip "setuptools>=68"
	$(VENV)/bin/pip install --quiet -e '.[test]'
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build
	touch $@

## Install, create the SQLite database with demo data, and serve on http://127.0.0.1:5000
run: $(INSTALLED)
	$(VENV)/bin/workflow-app demo
	WORKFLOW_APP_SECURE_COOKIES=0 $(VENV)/bin/workflow-app serve  # plain http on this machine

## Install, lint, and run every test (PostgreSQL tests run when WORKFLOW_APP_TEST_POSTGRES_URL is set)
test: lint
	$(VENV)/bin/pytest -q -p no:cacheprovider -n auto --dist loadgroup

## ruff, and import-linter's contracts on the layers (pyproject.toml)
lint: $(INSTALLED)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports --no-cache

## Run the browser tests and save the README's screenshots into docs/screenshots/
screenshots: $(INSTALLED)
	WORKFLOW_APP_SCREENSHOTS=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/browser

bench: $(INSTALLED)
	$(VENV)/bin/python bench/engine_overhead.py

check: $(INSTALLED)
	$(VENV)/bin/workflow-app check processes
