# kubetfx developer commands. `make run` and `make test` create the virtual
# environment from the stack's lock first when it is missing or out of date.
#
# Two stacks (stacks/README.md): TFX 1.21 on Python 3.11-3.13, where glibc is
# 2.39 or newer, and TFX 1.16 on Python 3.10 elsewhere. scripts/stack.sh picks
# the newest this host installs; STACK=1.16 or STACK=1.21 chooses one.

VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# STACK and PYTHON, from the command line or found on this host.
HOST_STACK := $(shell scripts/stack.sh $(STACK) 2>/dev/null)
PYTHON ?= $(word 2,$(HOST_STACK))
VENV_STACK := $(or $(word 1,$(HOST_STACK)),$(STACK))
# The container image, built from the Dockerfile: its stack (1.21 unless STACK
# is given), the Debian base it builds on, and an optional CA bundle passed to
# the build as a secret (TLS-intercepting proxies).
IMAGE_STACK := $(if $(filter command line environment,$(origin STACK)),$(STACK),1.21)
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' api/__init__.py)
IMAGE ?= kubetfx:$(VERSION)$(if $(filter 1.16,$(IMAGE_STACK)),-tfx1.16)
BASE_IMAGE ?= $(if $(filter 1.16,$(IMAGE_STACK)),python:3.10.13-slim-bookworm,debian:trixie-slim)
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
# What each stack's lock is resolved for: its oldest Python, on the glibc its wheels need.
LOCK_FOR_1.16 := --python-version 3.10 --python-platform x86_64-manylinux_2_28
LOCK_FOR_1.21 := --universal --python-version 3.11

.PHONY: venv run test test-fast image-test test-container lint format lock image bench bench-container clean

venv: $(BIN)/.installed $(VENV)-scan/bin/.installed

# A venv of another stack is replaced.
ifneq ($(VENV_STACK),$(shell cat $(VENV)/.stack 2>/dev/null))
.PHONY: $(BIN)/.installed
endif

$(BIN)/.installed: stacks/$(VENV_STACK)/requirements.lock setup.py
	@test -n "$(PYTHON)" || scripts/stack.sh $(STACK) >/dev/null
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python stacks/$(VENV_STACK)/requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	echo $(VENV_STACK) > $(VENV)/.stack
	touch $@

# Manifest and Dockerfile scanners, apart: their dependencies clash with TFX's.
$(VENV)-scan/bin/.installed: requirements-scan.lock $(BIN)/.installed
	rm -rf $(VENV)-scan
	$(PYTHON) -m venv $(VENV)-scan
	$(BIN)/uv pip sync --python $(VENV)-scan/bin/python requirements-scan.lock
	touch $@

## Run the Chicago taxi pipeline locally (outputs in ./kubetfx_output).
run: venv
	$(BIN)/kubetfx run $(ARGS)

## Lint, then every test, the end-to-end pipeline runs included.
test: venv lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Lint and the unit tests only (about four minutes).
test-fast: venv lint
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

## The image with the stack's test tools and this checkout (the Dockerfile's
## test stage), tagged IMAGE-test.
image-test: image
	DOCKER_BUILDKIT=1 $(DOCKER) build --network host --target test --build-arg STACK=$(IMAGE_STACK) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) \
		$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) -t $(IMAGE)-test .

## The suite of a stack in its container (STACK=1.21 on Debian 13 unless given):
## the unit tests and the end-to-end files CONTAINER_TESTS names. CI runs the
## stack the host cannot install natively this way.
CONTAINER_TESTS ?= tests
# The CA bundle, where given, is the tests' too: the wheel's test installs from PyPI.
CONTAINER_CA = $(if $(CA_BUNDLE),-v $(abspath $(CA_BUNDLE)):/run/secrets/ca:ro \
	-e SSL_CERT_FILE=/run/secrets/ca -e PIP_CERT=/run/secrets/ca)
test-container: image-test
	$(DOCKER) run --rm --network host $(CONTAINER_CA) $(IMAGE)-test \
		python -m pytest -n $(TEST_WORKERS) --dist loadfile -p no:cacheprovider $(PYTEST_ARGS) $(CONTAINER_TESTS)

## `make bench` in a stack's container, beside the host's: BENCH_ARGS as there.
bench-container: image-test
	$(DOCKER) run --rm --network host $(CONTAINER_CA) $(IMAGE)-test python bench/run.py $(BENCH_ARGS)

## The performance record: TFX's reference pipeline and kubetfx side by side, a
## million-row run with 1 and 2 Beam workers, Arrow baselines (about an hour).
bench: venv
	TF_USE_LEGACY_KERAS=1 $(BIN)/python bench/run.py $(BENCH_ARGS)

## Build the container image (BuildKit): the 1.21 stack on Debian 13 unless
## STACK=1.16 (then Python 3.10 on Debian 12, tagged IMAGE-tfx1.16).
image:
	DOCKER_BUILDKIT=1 $(DOCKER) build --network host --build-arg STACK=$(IMAGE_STACK) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) \
		$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) -t $(IMAGE) .

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Re-resolve each stack's requirements.in into its lock, the image's share of
## it into requirements-image.lock, and requirements-scan.in into its lock. The
## 1.21 lock is universal: one resolution for Python 3.11, 3.12 and 3.13.
lock: venv
	for stack in 1.16 1.21; do \
	  flags="$(LOCK_FOR_1.16)"; [ $$stack = 1.21 ] && flags="$(LOCK_FOR_1.21)"; \
	  (cd stacks/$$stack && \
	    ../../$(BIN)/uv pip compile $$flags requirements.in -o requirements.lock && \
	    ../../$(BIN)/uv pip compile $$flags requirements-image.in -c requirements.lock \
	      -o requirements-image.lock) || exit 1; \
	done
	$(BIN)/uv pip compile $(LOCK_FOR_1.16) requirements-scan.in -o requirements-scan.lock

clean:
	rm -rf $(VENV) $(VENV)-scan kubetfx.egg-info build dist .pytest_cache .ruff_cache
