# One place for the commands the README, CI and local habits share.
# Works on a fresh machine with Python 3.11: targets create .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_VENV := .venv-bench
DEMO_ARGS ?= --plan grafana/pilot-plan.yaml
# Pilot plans whose live view (recording rules, guardrail alert) `make rules` generates.
PLANS ?= grafana/pilot-plan.yaml
RULES_ARGS := grafana/slo.yaml $(foreach plan,$(PLANS),--plan $(plan)) --output-dir grafana/rules

.PHONY: install system-deps test pytest lint format demo bench bench-sdk bench-collector rules \
	dashboards stack clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[collector,report,dev,interop]'
	touch $(STAMP)

install: $(STAMP)

# Real Prometheus, promtool and Alertmanager for the tests (Debian packages).
system-deps:
	@if command -v promtool >/dev/null && command -v prometheus >/dev/null \
	    && command -v prometheus-alertmanager >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null; \
	else \
	    echo "missing prometheus/promtool/alertmanager: run as root or" \
	         "'sudo apt-get install -y prometheus prometheus-alertmanager'"; \
	fi

## test: lint, then every test (unit, end to end with real Prometheus and Alertmanager)
test: install system-deps lint pytest

pytest: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/aikpi-collector rules $(RULES_ARGS) --check

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## demo: the main job, a simulated pilot through the real SDK and collector, then the scorecard
demo: install
	$(BIN)/aikpi-collector demo $(DEMO_ARGS)

## rules: regenerate the Prometheus rules: SLO (grafana/slo.yaml), KPIs (the catalogue) and
## each pilot plan's live view (PLANS)
rules: install
	$(BIN)/aikpi-collector rules $(RULES_ARGS)

## dashboards: regenerate grafana/dashboards/*.json from grafana/build_dashboards.py
dashboards: install
	$(BIN)/python grafana/build_dashboards.py

## stack: the full stack with Docker (OTel Collector, 2 collectors, Tempo, Prometheus,
## Alertmanager, Grafana) and a simulated pilot; not run on our CI machines (no Docker engine)
stack:
	docker compose -f deploy/docker-compose.yml --profile demo up --build

## bench: all benchmarks, side by side in one run each
bench: bench-sdk bench-collector

# The SDK benchmark compares with peer SDKs, installed only in a benchmark venv.
$(BENCH_VENV)/.stamp: pyproject.toml benchmarks/requirements-peers.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q -e . -r benchmarks/requirements-peers.txt
	touch $@

bench-sdk: $(BENCH_VENV)/.stamp
	$(BENCH_VENV)/bin/python benchmarks/bench_sdk.py

bench-collector: install
	$(BIN)/python benchmarks/bench_collector.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache build *.egg-info
