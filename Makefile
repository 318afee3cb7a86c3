# QuantRun: the same commands for people, CI (.ci/run) and Cloud Build.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: help venv run test test-unit lint fmt bench bench-load stack deploy system-deps emulators clean

help:
	@echo "make run     serve API + worker in embedded mode at http://127.0.0.1:8080"
	@echo "make test    set up everything and run the whole test suite"
	@echo "make lint    ruff + mypy"
	@echo "make bench   print the benchmark table"
	@echo "make stack   gcp mode on the emulators (API 8080, worker 8081), writes .stack/env"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

system-deps:
	@bash tests/harness/install-system-deps.sh

emulators: venv
	@bash tests/harness/install-emulators.sh

run: venv
	$(BIN)/quantrun serve

test: venv system-deps emulators
	$(BIN)/python -m pytest

test-unit: venv
	$(BIN)/python -m pytest tests/unit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	$(BIN)/python -m benchmarks

# the load test through the emulator stack (API + worker in gcp mode, Pub/Sub push)
bench-load: venv system-deps emulators
	$(BIN)/python benchmarks/load.py

# gcp mode on the emulators; ports overridable: make stack API_PORT=9080 PUBSUB_PORT=9085 ...
stack: venv system-deps emulators
	$(BIN)/python -m tests.harness.stack

deploy:
	@echo "make deploy ENV=... arrives with the Terraform and Cloud Build work; not built yet" >&2
	@exit 2

clean:
	rm -rf $(VENV) .venv-emu .emulators .stack .quantrun .pytest_cache .mypy_cache .ruff_cache
