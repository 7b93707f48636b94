# Chatwire — `make run` serves UI + API on 127.0.0.1:8080; `make test` runs every test.
# Both install what is missing (Python venv, npm packages, Debian's chromium for browser tests,
# Debian's postgresql and redis-server for the scale-out tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NPM_FLAGS := --no-audit --no-fund --loglevel=error
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint typecheck unit-py fe-build fe-unit deps chromium engines bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

deps: $(VENV)/.installed

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci $(NPM_FLAGS)

tests/conformance/node_modules/.package-lock.json: tests/conformance/package-lock.json
	cd tests/conformance && npm ci $(NPM_FLAGS)

# The assistant-ui page of the browser tests (tests/e2e/test_assistant_ui.py): its own small install and Vite build.
tests/assistant_ui/node_modules/.package-lock.json: tests/assistant_ui/package-lock.json
	cd tests/assistant_ui && npm ci $(NPM_FLAGS)

tests/assistant_ui/dist/index.html: tests/assistant_ui/node_modules/.package-lock.json tests/assistant_ui/src/main.jsx tests/assistant_ui/index.html tests/assistant_ui/vite.config.js
	cd tests/assistant_ui && npm run build --silent

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(shell find frontend/src -type f 2>/dev/null) frontend/index.html
	cd frontend && npm run build --silent

fe-build: frontend/dist/index.html

fe-unit: frontend/node_modules/.package-lock.json
	cd frontend && npx vitest run

# Browser tests drive Debian's chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji; }

# The store suite and the multi-worker tests run Debian's PostgreSQL and Redis themselves, on
# throwaway data dirs and ports (tests/engines.py); only the packages are needed. No service is started here.
engines:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; } || { \
	  echo "installing Debian's postgresql and redis-server for the scale-out tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql redis-server; }

lint: deps
	$(VENV)/bin/ruff check backend tests
	$(VENV)/bin/ruff format --check backend tests

typecheck: deps
	$(VENV)/bin/mypy backend

run: deps fe-build
	mkdir -p data
	$(PY) -m backend --host $(HOST) --port $(PORT) --data-dir ./data --presets-dir ./presets

# pytest runs last so its summary is the last line printed.
test: deps fe-build fe-unit tests/conformance/node_modules/.package-lock.json tests/assistant_ui/dist/index.html chromium engines lint typecheck
	$(PY) -m pytest -q -p no:playwright tests

bench: deps
	$(PY) -m tests.bench.run
	$(PY) -m tests.bench.loop_block

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist tests/conformance/node_modules tests/assistant_ui/node_modules tests/assistant_ui/dist
