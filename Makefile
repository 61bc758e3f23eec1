# Two commands on a fresh clone:
#   make demo   install everything, build the pipeline on DuckDB with the sample data, print the tree
#   make test   install what the tests need and run them all (library tests, dbt build + data tests)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)/profiles
export KURA_DUCKDB_PATH ?= $(CURDIR)/kura.duckdb
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: demo test install build tree lint mutation test-python test-dbt test-snowflake snowflake-smoke browser clean bench

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned to the CPU build that this workplace keeps on disk; an unpinned torch
# would pull a CUDA build of several GB through sentence-transformers.
$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[local,llm,test,snowflake]"
	touch $@

install: $(VENV)/.installed

build: install
	cd integration_tests && ../$(BIN)/dbt deps --quiet && ../$(BIN)/dbt build

tree: install
	$(BIN)/kura tree --db "$(KURA_DUCKDB_PATH)"

demo: build tree

test-python: install
	$(BIN)/pytest -q tests/python

test-dbt: install
	$(BIN)/pytest -q tests/dbt

# Headless Chromium for the report's browser tests, from Debian's packages (needs root;
# without it the browser tests skip and say why). Never `playwright install`.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; }

# ruff, configured in pyproject.toml: the lint rules, then the formatter's layout.
LINT_PATHS := src benchmarks python_models scripts tests

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

test: install browser lint
	$(BIN)/pytest tests/python tests/dbt tests/snowflake tests/browser

# offline Snowflake tests (dbt parse/compile, fakesnow build, Snowpark local testing, kura stage)
test-snowflake: install
	$(BIN)/pytest -q tests/snowflake

# against a real Snowflake account (needs its SNOWFLAKE_* variables; see README "Testing on Snowflake")
snowflake-smoke: install
	bash scripts/snowflake_smoke.sh

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/cluster_quality.py
	$(BIN)/python benchmarks/pipeline_speed.py
	$(BIN)/python benchmarks/llm_throughput.py --pipeline 10000

clean:
	rm -rf integration_tests/target integration_tests/dbt_packages integration_tests/logs target logs "$(KURA_DUCKDB_PATH)"

# Mutation testing of the critical invariants (not part of `make test`: it runs the covering
# tests once per mutant, tens of minutes); configured in pyproject.toml [tool.mutmut], score in
# BENCHMARKS.md. `mutmut results` lists the survivors, `mutmut show NAME` one of them.
mutation: install
	$(BIN)/pip install --quiet -e ".[mutation]"
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results
