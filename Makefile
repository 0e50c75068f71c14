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

# The engine suites once more against each snapshot RMM's sandbox (ZENITHLINK_TEST_RMM), with the
# alert lifecycle's tests; what the RMM cannot do (its capabilities) is skipped with that reason.
RMM_ENGINE_TESTS := $(ENGINE_TESTS) tests/test_alert_lifecycle.py

# The Windows lane (`make test-windows`): the official Windows CPython 3.13 under Wine, with Windows
# wheels of every dependency, built once into .winlane/ by scripts/winlane.py. It runs what touches
# the platform — files, locks, the watcher, processes, encodings, sockets, the store, the service
# and its whole life under Wine's service manager, the RangerMSP binding — and the contract and
# engine suites; the platform-neutral rest (matching, pages, message texts) runs on Linux only.
# The engine suites then run on Backend=rangermsp-simulator-dlls: the simulator built as real
# stdcall DLLs, loaded the way RangerMSP's own are (the PSA contract suite also runs them through
# the 32-bit host).
WINDOWS_TESTS := tests/contract tests/rangermsp \
                 tests/test_dbsys_atomic.py tests/test_dbsys_cmt.py tests/test_dbsys_drops.py \
                 tests/test_dbsys_files.py tests/test_dbsys_fsops.py tests/test_dbsys_watcher.py \
                 tests/test_runtime_lock.py tests/test_inventory_publish.py tests/test_store.py \
                 tests/test_config.py tests/test_cli_encoding.py tests/test_cli_os_errors.py tests/test_cli_tour.py \
                 tests/test_service.py tests/test_winservice.py tests/test_winservice_live.py \
                 tests/test_demo.py tests/test_client_deadline.py tests/test_web_server.py \
                 tests/test_notify_email.py tests/test_backup_restore.py \
                 $(ENGINE_TESTS)
WINPY := scripts/winpy
# The suite runs on every core, a file per worker (module fixtures are built once); `make test
# XDIST=` runs it in one process.
XDIST ?= -n auto --dist loadfile

.PHONY: demo test test-windows bench clean install

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
	$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)
	ZENITHLINK_TEST_PSA=memory $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS) $(ENGINE_TESTS)
	ZENITHLINK_TEST_PSA=rangermsp-simulator $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS) $(ENGINE_TESTS)
	ZENITHLINK_TEST_RMM=nsight $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS) $(RMM_ENGINE_TESTS)
	ZENITHLINK_TEST_RMM=ninjaone $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS) $(RMM_ENGINE_TESTS)

test-windows: $(STAMP)
	ZENITHLINK_TEST_WINDOWS_SERVICE=1 ZENITHLINK_SIMULATOR_DLLS=$(CURDIR)/.winlane/simdlls $(WINPY) -m pytest -q -m "not posix and not browser" $(WINDOWS_PYTEST_ARGS) $(WINDOWS_TESTS)
	ZENITHLINK_TEST_PSA=rangermsp-simulator-dlls ZENITHLINK_SIMULATOR_DLLS=$(CURDIR)/.winlane/simdlls $(WINPY) -m pytest -q -m "not posix and not browser" $(WINDOWS_PYTEST_ARGS) $(ENGINE_TESTS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .winlane
