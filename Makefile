# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MVN    ?= mvn
KAFKA_CLASSPATH := var/kafka/classpath.txt

.PHONY: setup system-deps kafka-deps demo test soak lint bench eval schemas catalogue clean

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

# Apache Kafka, the production broker, for the tests (pipeline/devtools/kafka_broker.py):
# Maven resolves its jars into the local Maven cache and the classpath file is the stamp,
# so a second run does nothing.  Needs Java 17+ and Maven; the demo stays on Tansu.
$(KAFKA_CLASSPATH): deploy/kafka/pom.xml
	@mkdir -p $(@D)
	@rm -f $@.tmp
	$(MVN) -q -B -Dstyle.color=never -f deploy/kafka/pom.xml dependency:build-classpath \
		-Dmdep.outputFile=$(abspath $@).tmp
	mv $@.tmp $@

kafka-deps: $(KAFKA_CLASSPATH)

demo: setup
	$(BIN)/pulse demo

test: setup system-deps kafka-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Kill-and-restart, 30 times on each store (tests/soak), and the 5-minute paging outage
# (tests/faults); CI runs it after `make test`.  The three run side by side (pytest-xdist,
# a broker each): most of their time is waiting (a killed worker's group session to
# expire, the outage), so together they take about as long as the longest alone.
soak: setup system-deps kafka-deps
	$(BIN)/python -m pytest -m soak -n 3 --dist load tests/soak tests/faults

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench.run

# Negative feedback on held-out real reviews and on ordinary generated chat, both scorer
# modes (about a minute; make bench runs it too): bench/results.json and the terminal.
eval: setup
	$(BIN)/python -m bench.feedback_eval

schemas: setup
	$(BIN)/pulse schemas

catalogue: setup
	$(BIN)/pulse catalogue

clean:
	rm -rf var .pytest_cache .ruff_cache
