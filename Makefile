# Two commands: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The engine suites, run once more on the in-memory PSA backend and on the RangerMSP backend over
# its DLL simulator (they use the PSA port only).
ENGINE_TESTS := tests/test_inbound_rules.py tests/test_inbound_page.py tests/test_inbound_plugins.py \
                tests/test_inbound_feed.py tests/test_outbound_actions.py tests/test_links_manager.py \
                tests/test_requests_drops.py

.PHONY: demo test bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/zenithlink demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	ZENITHLINK_TEST_PSA=memory $(BIN)/python -m pytest -q $(PYTEST_ARGS) $(ENGINE_TESTS)
	ZENITHLINK_TEST_PSA=rangermsp-simulator $(BIN)/python -m pytest -q $(PYTEST_ARGS) $(ENGINE_TESTS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
