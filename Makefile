# QuantRun: the same commands for people, CI (.ci/run) and Cloud Build.
SHELL := /bin/bash
PYTHON ?= python3
# the environments are installed without bytecode (devtools/tool-venv.sh says why): every
# process make starts writes the .pyc of what it imports first, and the next reads it
unexport PYTHONDONTWRITEBYTECODE
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -c1-12)
# the bench environment: QuantRun's pins plus the peer libraries it is measured against
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock benchmarks/requirements-peers.lock pyproject.toml | sha256sum | cut -c1-12)
# every environment is installed with uv (devtools/tool-venv.sh says why), itself installed
# by pip, hash-checked, into .venv-uv; `$(UV_PIP) VENV ARGS` is `pip install ARGS` into VENV
UV_STAMP := .venv-uv/.installed-$(shell sha256sum devtools/requirements-uv.lock | cut -c1-12)
UV_PIP := bash -c '. devtools/tool-venv.sh && uv_install "$$0" "$$@"'
# the Python client's own environment: only the client, its extras and what its tests and
# the quickstart notebook need; none of the server (tests/e2e/test_python_client.py)
CLIENT_VENV ?= .venv-client
CLIENT_STAMP := $(CLIENT_VENV)/.installed-$(shell cat clients/python/requirements-test.lock clients/python/pyproject.toml | sha256sum | cut -c1-12)

.PHONY: help venv bench-venv client-venv kernels run test test-envs ci-envs-and-lint test-unit test-integration test-e2e lint fmt bench bench-load bench-scale stack \
	deploy system-deps emulators infra-tools infra-check clean

help:
	@echo "make run     serve API + worker in embedded mode at http://127.0.0.1:8080"
	@echo "make test    set up everything and run the whole test suite"
	@echo "make test-unit | test-integration | test-e2e   one layer of the suite"
	@echo "make lint    ruff + mypy + the layer rules"
	@echo "make bench   print the benchmark table"
	@echo "make stack   gcp mode on the emulators (API 8080, worker 8081; WORKERS=N behind one push front), writes .stack/env"

$(UV_STAMP): devtools/requirements-uv.lock
	@bash devtools/install-uv.sh

# the venvs wait for uv, but a new uv does not reinstall them (order-only). Quiet on
# purpose: a newcomer's first screen is the server's, not the installer's. The editable
# install's "be careful with folders named like your package" warning is setuptools'
# (every editable install prints it), so that one step runs with warnings off.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml | $(UV_STAMP)
	@echo "setting up $(VENV) from the locks"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(UV_PIP) $(VENV) pip==26.3
	@$(UV_PIP) $(VENV) --require-hashes -r requirements-dev.lock
	@PYTHONWARNINGS=ignore $(UV_PIP) $(VENV) --no-deps --no-build-isolation -e .
	@$(BIN)/python -c "import quantrun_api.app, quantrun_worker.push, quantrun_worker.pull, quantrun_cli.main"
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

$(BENCH_STAMP): requirements.lock requirements-dev.lock benchmarks/requirements-peers.lock pyproject.toml | $(UV_STAMP)
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(UV_PIP) $(BENCH_VENV) pip==26.3
	$(UV_PIP) $(BENCH_VENV) --require-hashes -r requirements-dev.lock -r benchmarks/requirements-peers.lock
	$(UV_PIP) $(BENCH_VENV) --no-deps --no-build-isolation -e .
	@rm -f $(BENCH_VENV)/.installed-*
	@touch $@

bench-venv: $(BENCH_STAMP)

# the client installs as a user's pip would (not editable); --no-build-isolation builds
# it with the lock's setuptools, so every byte installed is hash-checked
$(CLIENT_STAMP): clients/python/requirements-test.lock clients/python/pyproject.toml | $(UV_STAMP)
	@test -x $(CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(CLIENT_VENV)
	@$(UV_PIP) $(CLIENT_VENV) pip==26.3
	@$(UV_PIP) $(CLIENT_VENV) --require-hashes -r clients/python/requirements-test.lock
	@rm -f $(CLIENT_VENV)/.installed-*
	@touch $@

# the client's files change without the stamp's: reinstall them every time (a second)
client-venv: $(CLIENT_STAMP)
	@$(UV_PIP) $(CLIENT_VENV) --no-deps --no-build-isolation --reinstall --no-cache ./clients/python

system-deps:
	@bash devtools/install-system-deps.sh

emulators: | $(UV_STAMP)
	@bash devtools/install-emulators.sh

infra-tools: | $(UV_STAMP)
	@bash devtools/install-infra-tools.sh

# Terraform checks that run offline: fmt, checkov, and the wiring tests (python-hcl2)
infra-check: venv infra-tools
	terraform fmt -check -recursive infra
	$(BIN)/python -m pytest tests/infra -q

run: venv
	@$(BIN)/quantrun serve

# the environments make test uses are independent of one another: built side by side (on
# two cores, about half the time of one after another); apt first and alone (two apt-gets
# cannot share dpkg's lock)
test-envs: system-deps
	@$(MAKE) -s --no-print-directory -j 4 --output-sync=target venv emulators infra-tools client-venv kernels

# CI (.ci/run): the same, with lint beside the last installs as soon as .venv is there
ci-envs-and-lint: system-deps
	@$(MAKE) -s --no-print-directory -j 4 --output-sync=target venv emulators infra-tools client-venv kernels lint

# the numba kernels compiled once into their on-disk cache (27-30 s of one core here; 1.5 s
# to load when cached), as the images do at build, beside the other installs: on a clean
# clone each test process (and a stack's worker started before the cache was written)
# otherwise compiled the kernels it ran first (the unit suite used 83 s of CPU from an
# empty cache against 52-61 s from a full one)
kernels: venv
	@$(BIN)/python -m quantrun.models.kernels

# the whole suite on two processes (pytest-xdist; a file's tests stay on one, so a module's
# stack starts once), then the tests marked `alone` (faults under load) with nothing beside
# them, then line coverage per layer of both runs (pytest-cov; devtools/coverage_summary.py).
# Three processes took 8 min where two take 8.5 to 9, and starved the tests that time a
# server's answer (a hostile client's 4xx within 1 s took 1.3 s): two, on two cores.
# Files go out in collection order, tests/e2e first (xdist's default sends the files with
# the most tests first, and the long e2e files with few tests, last: one process idled
# 50 s at the end)
TEST_PROCESSES ?= 2
# the files with tests marked `alone`: their run collects only them (all 1,100 tests took 10 s)
ALONE_TESTS := $(shell grep -rl --include='test_*.py' 'pytest.mark.alone' tests)
test: test-envs
	@export QUANTRUN_TEST_SINCE=$$(date +%s); set -x; \
	QUANTRUN_TEST_SUMMARY=off $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder -m "not alone" --cov --cov-report=; \
	shared=$$?; \
	$(BIN)/python -m pytest -m alone --cov --cov-append --cov-report= $(ALONE_TESTS); \
	alone=$$?; \
	exit $$(( shared || alone ))

test-unit: venv
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) tests/unit

test-integration: venv system-deps emulators
	$(BIN)/python -m pytest tests/integration

test-e2e: venv system-deps emulators client-venv
	$(BIN)/python -m pytest tests/e2e

# ruff, mypy, and the architecture's import rules (tests/unit/test_layers.py)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_layers.py

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# QuantRun against its peers and plain references (BENCH_REPEATS=5 paired runs per row)
bench: bench-venv
	$(BENCH_VENV)/bin/python -m benchmarks

# the load test through the emulator stack (API + worker in gcp mode, Pub/Sub push)
bench-load: venv system-deps emulators
	$(BIN)/python benchmarks/load.py

# sharded jobs through the emulator stack (per-shard overhead, speed-up) and walk-forward
bench-scale: venv system-deps emulators
	$(BIN)/python benchmarks/scale.py

# gcp mode on the emulators; ports overridable: make stack API_PORT=9080 PUBSUB_PORT=9085 ...
stack: venv system-deps emulators
	$(BIN)/python -m devtools.stack

# Deploy to your own project through Cloud Build (README: "Deploying to your project").
REGION ?= europe-west1
deploy:
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|prod TF_STATE_BUCKET=<bucket> [REGION=...]" >&2; exit 2; }
	@test -d infra/envs/$(ENV) || { echo "no environment infra/envs/$(ENV)" >&2; exit 2; }
	@test -n "$(TF_STATE_BUCKET)" || { echo "set TF_STATE_BUCKET (a bucket for Terraform state; see README)" >&2; exit 2; }
	@command -v gcloud >/dev/null || { echo "the Google Cloud CLI (gcloud) is required" >&2; exit 2; }
	gcloud builds submit --config cloudbuild.yaml \
	  --substitutions=_ENV=$(ENV),_REGION=$(REGION),_TF_STATE_BUCKET=$(TF_STATE_BUCKET),_TAG=manual-$$(git rev-parse --short HEAD) .

clean:
	rm -rf $(VENV) .venv-emu .venv-infra $(CLIENT_VENV) .emulators .stack .quantrun .pytest_cache .mypy_cache .ruff_cache
