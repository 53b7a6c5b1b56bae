# The README's two commands: `make run` and `make test`. Extras: lint, bench, multi.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check -q
NPM := $(shell command -v npm)
NPM_STAMP := node_modules/.npm-ci.stamp

.PHONY: run test test-fast lint format bench multi clean frontend

# The npm packages of package.json (Yjs clients for the tests, TipTap and esbuild for the yjs
# demo page), installed again only when the lockfile changes. Without npm: a note, and the tests
# that need them skip (fail under CI=true).
$(NPM_STAMP): package.json package-lock.json
	@if [ -n "$(NPM)" ]; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@ || echo "npm ci failed: see above"; \
	else \
	  echo "npm is not installed: the Yjs client tests and the yjs demo page's editor need it (apt-get install npm)."; \
	fi

## Build the yjs demo page's editor bundle (TipTap) into collab/static/collab/build/.
frontend: $(NPM_STAMP)
	@if [ -n "$(NPM)" ] && [ -f $(NPM_STAMP) ]; then \
	  node scripts/build-frontend.mjs || echo "The yjs demo page's bundle did not build (above); the rest of the site works."; \
	else \
	  echo "The yjs demo page needs its editor bundle: install Node.js 20+ and npm, then run 'make frontend'."; \
	  echo "Everything else (text documents, the API, the yjs endpoints) works without it."; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## Set up and serve on http://127.0.0.1:8000 (SQLite, in-memory layer, demo user and document).
run: export DJANGO_DEBUG ?= 1
run: $(VENV)/.runtime frontend
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## Set up and run the whole suite (unit, live-server, PostgreSQL/Redis, browser).
test: $(VENV)/.dev frontend
	bash scripts/ensure-browser.sh
	bash scripts/test.sh $(PYTEST_ARGS)

## Only the fast unit tests.
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not live and not browser and not slow" $(PYTEST_ARGS)

## ruff, and mypy over collab/ and project/ (pyproject.toml's [tool.mypy]: strict on the pure modules).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Fan-out, commit throughput and idle-connection benchmark (writes a table; see bench/RESULTS.md).
bench: $(VENV)/.dev
	$(BIN)/python -m bench.run

## Two daphne processes sharing Redis and PostgreSQL (ports 8001 and 8002).
multi: $(VENV)/.runtime
	bash scripts/multi.sh

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm artifacts node_modules collab/static/collab/build
