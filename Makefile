# Customer 360. `make run` serves the demo; `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
DEMO_CUSTOMERS ?= 50000
export C360_DEMO ?= 1

.PHONY: run test venv dev-venv demo system-deps bench walkthrough clean

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.dev: requirements.txt requirements-dev.txt $(BIN)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

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

bench: dev-venv
	$(BIN)/python -m bench.run

walkthrough: dev-venv
	$(BIN)/python ../shared/tools/walkthrough.py --url http://127.0.0.1:$(PORT) \
	  $(foreach u,manager marketing steward admin,--user $(u):$(u)-demo) --out walk-shots

clean:
	rm -rf $(VENV) walk-shots test-artifacts
