# dronefleet: the developer's commands. `make demo` runs the platform, `make test` the tests.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install demo test test-unit test-integration test-e2e lint format stack-up stack-down stack-status bench clean

help:
	@echo "make demo     the whole platform with a simulated fleet (Ctrl-C stops it)"
	@echo "make test     unit, integration and end-to-end tests on the real stack"
	@echo "make lint     ruff, mypy --strict, import boundaries, compose.yaml"
	@echo "make bench    the benchmarks of BENCHMARKS.md"
	@echo "make stack-up | stack-down | stack-status   the local Kafka and PostgreSQL"

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dronefleet demo

test: $(STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) scripts/check_compose.py

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

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
