# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint typecheck pytest bench clean

# The cache-replay and simulation hot paths, compiled with mypyc when a C compiler is there
# (the same modules run as plain Python otherwise). Rebuilt whenever one of them changes.
NATIVE_SRC := edge/eviction/adaptive.py edge/eviction/s3fifo.py edge/eviction/minheap.py edge/eviction/interval.py edge/eviction/guide.py edge/eviction/arc.py edge/eviction/tallies.py edge/eviction/rankqueue.py edge/eviction/fifo.py edge/eviction/placed.py edge/eviction/popularity.py edge/eviction/policy.py edge/eviction/queues.py edge/router/routing.py \
  edge/player/abr.py edge/player/mpc.py edge/player/abr_controller.py edge/player/session.py \
  edge/sim/trace.py edge/sim/workload.py edge/sim/model.py edge/sim/nodes.py edge/sim/records.py \
  edge/sim/queueing.py edge/sim/bandwidth.py edge/sim/catalog.py edge/sim/abr_eval.py
NATIVE := $(VENV)/.native-$(shell cat $(NATIVE_SRC) tools/build_native.py | sha1sum | cut -c1-12)

# The npm packages the web pages use (hls.js, tus-js-client, topojson-client, world-atlas),
# served by the origin itself; and Debian's Chromium for the browser tests (never downloaded).
WEB := web/node_modules/.installed-$(shell cat web/package.json web/package-lock.json | sha1sum | cut -c1-12)
CHROMIUM := /usr/bin/chromium
# Players the browser tests start from the router on another origin (Shaka, video.js, hls.js).
PLAYERS := tests/players/node_modules/.installed-$(shell cat tests/players/package.json tests/players/package-lock.json | sha1sum | cut -c1-12)
# Debian's prometheus, for `promtool check metrics` on every process's /metrics in the tests;
# Debian's docker-compose, to validate deploy/compose offline (`docker-compose config`).
PROMTOOL := /usr/bin/promtool
COMPOSE := /usr/bin/docker-compose

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

$(NATIVE): $(STAMP) $(NATIVE_SRC) tools/build_native.py
	@rm -rf build ./*__mypyc*.so $(VENV)/.native-*; find edge -name '*.so' -delete
	@$(BIN)/python tools/build_native.py $(NATIVE_SRC) >$(VENV)/mypyc.log 2>&1 \
	  && find edge -name '*.so' -exec touch {} + \
	  && echo "compiled $(NATIVE_SRC) with mypyc" \
	  || (find edge -name '*.so' -delete; rm -f ./*__mypyc*.so; echo "mypyc failed (see $(VENV)/mypyc.log): plain Python")
	@touch $@

$(WEB): web/package.json web/package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(PLAYERS): tests/players/package.json tests/players/package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	cd tests/players && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	@(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || (echo "could not install chromium: run 'apt-get install chromium' as root"; exit 1)

$(PROMTOOL):
	@echo "installing Debian's prometheus (promtool) for the metrics tests"
	@(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends prometheus) >/dev/null \
	  || (echo "could not install prometheus: run 'apt-get install prometheus' as root"; exit 1)

$(COMPOSE):
	@echo "installing Debian's docker-compose to check the compose file"
	@(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends docker-compose) >/dev/null \
	  || (echo "could not install docker-compose: run 'apt-get install docker-compose' as root"; exit 1)

demo: $(NATIVE) $(WEB)
	$(BIN)/mediacdn demo $(DEMO_ARGS)

lint: $(STAMP) $(WEB)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@for f in origin/pages/*.js; do node --check $$f || exit 1; done

typecheck: $(STAMP)
	$(BIN)/mypy

# Two test processes, a test file each at a time: most tests wait on servers, ffmpeg in real
# time or a browser (the machine is about 30% busy with one), so two take about half the time.
# Tests that measure time or memory against a load of their own (marked `alone`) run
# afterwards, one at a time, so that the other process's work does not count as theirs.
# PYTEST_ARGS go to both runs; pytest's 5 means that a run selected no test.
PYTEST_PROCESSES ?= -n auto --maxprocesses 2 --dist loadfile
PYTEST_ARGS ?=

pytest: $(NATIVE) $(WEB) $(PLAYERS) $(CHROMIUM) $(PROMTOOL) $(COMPOSE)
	$(BIN)/pytest $(PYTEST_PROCESSES) -m "not alone" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m alone $(PYTEST_ARGS) || [ $$? -eq 5 ]

test: lint typecheck pytest

# Benchmarks need nginx, Varnish, wrk and dnsmasq (Debian packages) as in-run anchors.
bench: $(NATIVE)
	@command -v nginx >/dev/null && command -v wrk >/dev/null && command -v dnsmasq >/dev/null && \
	  command -v varnishd >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk dnsmasq-base varnish)
	$(BIN)/python bench/transcode.py
	$(BIN)/python bench/origin.py
	$(BIN)/python bench/edge.py
	$(BIN)/python bench/pop.py
	$(BIN)/python bench/pop_restart.py
	$(BIN)/python bench/range_miss.py
	$(BIN)/python bench/cache_policy.py
	$(BIN)/python bench/cache_families.py
	$(BIN)/python bench/cache_tests.py
	$(BIN)/python bench/prefetch.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/router.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/abr.py

clean:
	rm -rf $(VENV) web/node_modules data .mypy_cache .ruff_cache .pytest_cache build ./*__mypyc*.so
	find edge -name '*.so' -delete
