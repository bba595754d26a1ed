# The two commands a newcomer runs: `make run` and `make test`. Each sets up
# what it needs itself, in one .venv:
#   make run   the runtime only: the project with its `server` and `matcher`
#              extras (docs/matcher.md's walkthrough runs the matcher from
#              this venv), and the browser libraries the page serves (npm).
#              No root, no compiler, no test tools.
#   make test  adds the dev extra (test and lint tools, the pdqhash oracle,
#              built from C++), Meta's vpdq, and the Debian packages the tests
#              use (Chromium, FFmpeg's development libraries; installed when
#              run as root). After it, `make run` installs nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.runtime
TEST_STAMP := $(VENV)/.dev
WEB_STAMP := web/node_modules/.built
# Tests use both cores; the benchmarks pin themselves to one.
PYTEST_WORKERS ?= 2
# Meta's HMA, which tests/interop/test_hma.py runs, is not on PyPI: it comes
# from this snapshot, when the checkout has ../shared beside it (CI does).
HMA_SNAPSHOT := ../shared/interop/threatexchange/hasher-matcher-actioner

.PHONY: setup hma run test lint bench clean

setup: $(TEST_STAMP) $(WEB_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server,matcher]'
	touch $(RUN_STAMP)

# The dev extra holds the server's, so the runtime stamp is fresh after it too.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	scripts/ensure-system-packages
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Meta's vpdq (a test oracle) builds against FFmpeg's development libraries.
	$(BIN)/python -m pip install --quiet vpdq==0.2.5 \
		|| echo "note: vpdq did not build (FFmpeg dev libraries missing?); its tests will skip"
	touch $(TEST_STAMP) $(RUN_STAMP)

# Browser libraries the page serves itself, from the npm registry.
$(WEB_STAMP): web/package.json web/package-lock.json web/build.mjs
	cd web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
	touch $(WEB_STAMP)

# RECLAIM_PORT=8001 make run serves on another port (docs/configuration.md).
run: $(RUN_STAMP) $(WEB_STAMP)
	$(BIN)/reclaim db upgrade
	$(BIN)/reclaim serve

# HMA's own venv (.hma/): 0.1 s when up to date, under a minute to build.
hma:
	PYTHON=$(PYTHON) scripts/hma-env

test: $(TEST_STAMP) $(WEB_STAMP)
	scripts/ensure-system-packages
	if [ -d $(HMA_SNAPSHOT) ]; then PYTHON=$(PYTHON) scripts/hma-env; fi
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src

bench: setup
	RECLAIM_FUZZ_EXAMPLES=500 RECLAIM_FUZZ_DATABASES=sqlite,postgres \
		$(BIN)/python -m pytest -q tests/api/test_fuzz.py tests/matcher/test_fuzz.py
	$(BIN)/python bench/pdq_speed.py
	$(BIN)/python bench/video_speed.py
	$(BIN)/python bench/web_pdq.py
	$(BIN)/python bench/web_video.py
	$(BIN)/python bench/registry_load.py
	$(BIN)/python bench/durability.py
	$(BIN)/python bench/pdq_conformance.py
	$(BIN)/python bench/matcher_index.py
	$(BIN)/python bench/matcher_sync.py
	$(BIN)/python bench/bombs.py
	$(BIN)/python bench/robustness.py
	$(BIN)/python bench/robust_scale.py --pictures 100000 --design current
	$(BIN)/python bench/robust_scale.py --pictures 100000 --design compact
	$(BIN)/python bench/false_matches.py
	$(BIN)/python bench/expanded_index.py
	$(BIN)/python bench/catalog_backfill.py
	$(BIN)/python bench/reverse_match.py

clean:
	rm -rf $(VENV) .hma build *.egg-info .pytest_cache .mypy_cache .ruff_cache \
		web/node_modules src/reclaim/web/static/vendor src/reclaim/apidocs/vendor
