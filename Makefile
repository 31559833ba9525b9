# dronefleet: the developer's commands. `make demo` runs the platform, `make test` the tests.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install demo test test-unit test-integration test-e2e lint format stack-up stack-down stack-status bench bench-e2e chaos clean

help:
	@echo "make demo     the whole platform with a simulated fleet (Ctrl-C stops it)"
	@echo "make test     unit, integration and end-to-end tests on the real stack"
	@echo "make lint     ruff, mypy --strict, import boundaries, compose.yaml, the Kubernetes manifests, the alert rules, the Grafana dashboard"
	@echo "make bench    the benchmarks of BENCHMARKS.md"
	@echo "make bench-e2e  the whole platform at 1k/5k/10k drones (private stack; BENCH_E2E_ARGS=...)"
	@echo "make chaos    fault injection with loss accounting (private stack; CHAOS_ARGS=...)"
	@echo "make stack-up | stack-down | stack-status   the local Kafka, PostgreSQL and Prometheus"

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# The live map page's bundle (Leaflet + the page's script, by esbuild), served by the API.
# Its types are generated from the API's OpenAPI document (`dronefleet-api openapi`, which
# needs no Kafka or PostgreSQL), so the API's schemas and the contracts are inputs too.
WEB := api/web
WEB_BUNDLE := api/static/live-map.js
WEB_SOURCES := $(wildcard $(WEB)/src/*.ts $(WEB)/src/*.css)
OPENAPI_SOURCES := $(wildcard api/*.py api/routes/*.py contracts/*.py)
$(WEB_BUNDLE): $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/tsconfig.json $(WEB_SOURCES) $(OPENAPI_SOURCES) | $(STAMP)
	$(PY) -m api openapi $(WEB)/openapi.json
	cd $(WEB) && npm ci --ignore-scripts --no-audit --no-fund && npm run build

# kustomize, for `make lint`'s offline check of the Kubernetes manifests (deploy/k8s/),
# built from the Go module proxy with the machine's Go into an ignored folder.
KUSTOMIZE := .cache/go/bin/kustomize
KUSTOMIZE_VERSION := v5.7.1
$(KUSTOMIZE):
	GOBIN=$(CURDIR)/.cache/go/bin GOFLAGS=-mod=mod go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# Prometheus and promtool, the same way: the local stack's Prometheus (`dronefleet stack
# up`, which builds them itself when missing: devstack/prometheus.py) and `make lint`'s
# test of the alert rules. A cold build takes minutes; Go's caches make it seconds after.
PROMTOOL := .cache/go/bin/promtool
PROMETHEUS_VERSION := v0.316.0
$(PROMTOOL):
	GOBIN=$(CURDIR)/.cache/go/bin GOFLAGS=-mod=mod go install \
	  github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION) \
	  github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

install: $(STAMP) $(WEB_BUNDLE) $(PROMTOOL)

demo: $(STAMP) $(WEB_BUNDLE)
	$(VENV)/bin/dronefleet demo

test: $(STAMP) $(WEB_BUNDLE) $(KUSTOMIZE)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP) $(WEB_BUNDLE)
	$(PY) -m pytest tests/e2e

lint: $(STAMP) $(KUSTOMIZE) $(PROMTOOL)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) scripts/check_compose.py
	$(PY) scripts/check_notebooks.py
	$(PY) scripts/check_k8s.py --kustomize $(KUSTOMIZE)
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml
	$(PROMTOOL) test rules deploy/prometheus/alerts_test.yml
	$(PROMTOOL) check config --syntax-only deploy/prometheus/compose.yml
	$(PY) scripts/check_dashboard.py --promtool $(PROMTOOL)

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

stack-up: $(STAMP)
	$(VENV)/bin/dronefleet stack up

stack-down: $(STAMP)
	$(VENV)/bin/dronefleet stack down

stack-status: $(STAMP)
	$(VENV)/bin/dronefleet stack status

bench: $(STAMP)
	$(PY) benchmarks/codec_bench.py
	$(PY) benchmarks/sink_bench.py
	$(PY) benchmarks/replay_bench.py
	$(PY) benchmarks/engine_bench.py
	$(PY) benchmarks/produce_bench.py
	$(PY) benchmarks/table_recovery_bench.py
	$(PY) benchmarks/streams_throughput_bench.py
	$(PY) benchmarks/ws_fanout_bench.py --clients 5000
	$(PY) benchmarks/webhooks_bench.py --rate 200 --duration 60 --burst 20000

bench-e2e: $(STAMP)
	$(PY) -m loadtest bench-e2e $(BENCH_E2E_ARGS)

chaos: $(STAMP)
	$(PY) -m loadtest chaos $(CHAOS_ARGS)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
