# The two README commands: `make demo` (the main job) and `make test`.
# Both do all set-up they need first (scripts/setup_env.sh, idempotent).
SHELL := /bin/bash
VENV ?= .venv
WS ?= .ws
PY := $(abspath $(VENV))/bin/python
COLCON := $(PY) -m colcon
COLCON_PATHS := --base-paths . --build-base $(WS)/build --install-base $(WS)/install
export COLCON_LOG_PATH := $(abspath $(WS))/log
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup build test lint benchmark clean demo

setup:
	@VENV=$(VENV) scripts/setup_env.sh

build: setup
	@$(COLCON) build $(COLCON_PATHS) \
		--packages-select eunet_ros --event-handlers console_cohesion- summary+

test: build
	@$(COLCON) test $(COLCON_PATHS) --test-result-base $(WS)/test_results --packages-select eunet_ros --return-code-on-test-failure \
		--event-handlers console_direct+ summary+ --pytest-args -p no:cacheprovider -ra; \
	rc=$$?; $(COLCON) test-result --test-result-base $(WS)/test_results --verbose || rc=1; \
	exit $$rc

benchmark: setup
	@$(PY) -m eunet_ros.benchmark $(ARGS)

clean:
	rm -rf $(WS) build install log

# README command 1: the main job (see scripts/demo.py and the README).
demo: build
	@$(PY) scripts/demo.py $(ARGS)
