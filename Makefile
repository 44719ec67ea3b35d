# kubetfx developer commands. `make run` and `make test` create the virtual
# environment from requirements.lock first when it is missing or out of date.

VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# TFX 1.16 needs Python 3.10: pyenv's 3.10.13 if present, else python3.10 on PATH.
PYTHON310 ?= $(shell if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.10.13 >/dev/null 2>&1; \
	then echo "$$(pyenv prefix 3.10.13)/bin/python3.10"; else command -v python3.10; fi)
# The container image: its name, the Python 3.10 base it builds on, and an
# optional CA bundle passed to the build as a secret (TLS-intercepting proxies).
IMAGE ?= kubetfx:0.1.0
BASE_IMAGE ?= python:3.10.13-slim-bookworm
DOCKER ?= docker
CA_BUNDLE ?=
# Extra arguments for `make run`, e.g. make run ARGS="--train-steps 200".
ARGS ?=
PYTEST_ARGS ?=
# Arguments for `make bench`, e.g. make bench BENCH_ARGS="--rounds 1 --only sample".
BENCH_ARGS ?=
# Test processes: the end-to-end tests wait on imports and on single-threaded
# steps, so two keep a 2-core machine busy. Each test file runs whole in one
# process (its module fixtures are built once).
TEST_WORKERS ?= 2
comma := ,

.PHONY: venv run test test-fast lint format lock image bench clean

venv: $(BIN)/.installed $(VENV)-scan/bin/.installed

$(BIN)/.installed: requirements.lock setup.py
	@test -n "$(PYTHON310)" || { echo "make: Python 3.10 not found; install it (pyenv install 3.10.13) or pass PYTHON310=/path/to/python3.10" >&2; exit 1; }
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $@

# Manifest and Dockerfile scanners, apart: their dependencies clash with TFX's.
$(VENV)-scan/bin/.installed: requirements-scan.lock $(BIN)/.installed
	$(PYTHON310) -m venv $(VENV)-scan
	$(BIN)/uv pip sync --python $(VENV)-scan/bin/python requirements-scan.lock
	touch $@

## Run the Chicago taxi pipeline locally (outputs in ./kubetfx_output).
run: venv
	$(BIN)/kubetfx run $(ARGS)

## Lint, then every test, the end-to-end pipeline runs included.
test: venv lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Lint and the unit tests only (about two minutes).
test-fast: venv lint
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

## The performance record: TFX's reference pipeline and kubetfx side by side, a
## million-row run with 1 and 2 Beam workers, Arrow baselines (about an hour).
bench: venv
	TF_USE_LEGACY_KERAS=1 $(BIN)/python bench/run.py $(BENCH_ARGS)

## Build the container image (BuildKit).
image:
	DOCKER_BUILDKIT=1 $(DOCKER) build --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) \
		$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) -t $(IMAGE) .

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Re-resolve requirements.in and requirements-scan.in into their locks, and the
## image's share of requirements.lock into requirements-image.lock.
lock: venv
	$(BIN)/uv pip compile requirements.in --python-version 3.10 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock
	$(BIN)/uv pip compile requirements-image.in -c requirements.lock --python-version 3.10 \
		--python-platform x86_64-manylinux_2_28 -o requirements-image.lock
	$(BIN)/uv pip compile requirements-scan.in --python-version 3.10 \
		--python-platform x86_64-manylinux_2_28 -o requirements-scan.lock

clean:
	rm -rf $(VENV) $(VENV)-scan kubetfx.egg-info .pytest_cache .ruff_cache
