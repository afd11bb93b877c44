# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps demo test soak lint bench schemas catalogue clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

setup: $(STAMP)

# Prometheus/Alertmanager (promtool, amtool, a real Alertmanager for delivery tests) and
# headless Chromium for the moderator console test: Debian packages, root + apt only.
system-deps:
	bash deploy/local/install-system-deps.sh
	bash pipeline/console/install-browser.sh

demo: setup
	$(BIN)/pulse demo

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Kill-and-restart, 30 times on each store (tests/soak); CI runs it after `make test`.
soak: setup system-deps
	$(BIN)/python -m pytest -m soak tests/soak

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench.run

schemas: setup
	$(BIN)/pulse schemas

catalogue: setup
	$(BIN)/pulse catalogue

clean:
	rm -rf var .pytest_cache .ruff_cache
