# Two commands on a fresh clone:
#   make demo   install everything, build the pipeline on DuckDB with the sample data, print the tree
#   make test   install what the tests need and run them all (library tests, dbt build + data tests, docs)

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

.PHONY: demo test install build tree lint typecheck mutation test-python test-dbt test-snowflake snowflake-smoke snowflake-zip browser clean bench

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is installed first and pinned: the version the local embedder (sentence-transformers)
# is tested with. Which build comes is the package index's choice: on Linux the default wheel
# brings CUDA libraries of several GB; the embedder needs only the CPU build (2.13.0+cpu), which
# pip takes from PyTorch's CPU wheel index when PIP_EXTRA_INDEX_URL names it.
$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[local,llm,test,snowflake,docs]"
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

# mypy on the library, configured in pyproject.toml ([tool.mypy])
typecheck: install
	$(BIN)/mypy

# the docs site (mkdocs.yml) into site/; --strict: a link to a missing page or anchor fails it
.PHONY: docs
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# two pytest-xdist workers, each taking whole test files: most of the suite's time is dbt
# parsing and running one model at a time on one core (TEST_WORKERS=0: one process)
TEST_WORKERS ?= 2
test: install browser lint typecheck docs
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile \
		tests/python tests/dbt tests/snowflake tests/browser tests/docs

# offline Snowflake tests (dbt parse/compile, fakesnow build, Snowpark local testing, kura stage)
test-snowflake: install
	$(BIN)/pytest -q tests/snowflake

# against a real Snowflake account (needs its SNOWFLAKE_* variables; docs/SNOWFLAKE.md)
snowflake-smoke: install
	bash scripts/snowflake_smoke.sh

# the library zip the dbt package carries for Snowflake (`dbt run-operation kura_stage_library`
# uploads it); tests/snowflake/test_stage_library.py fails until it is regenerated after a change
snowflake-zip: install
	$(BIN)/kura stage --no-upload --out snowflake/kura_dbt.zip

# every benchmark of BENCHMARKS.md, as its docstring runs it (about 35 minutes on 2 cores); the
# data sets are read from ../shared/data (each script's --data-dir)
bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/cluster_quality.py
	$(BIN)/python benchmarks/pipeline_speed.py
	$(BIN)/python benchmarks/llm_throughput.py --pipeline 10000
	$(BIN)/python benchmarks/build_quality.py
	$(BIN)/python benchmarks/assignment_quality.py
	$(BIN)/python benchmarks/classifier_quality.py
	$(BIN)/python benchmarks/classification_cost.py
	$(BIN)/python benchmarks/daily_builds.py
	$(BIN)/python benchmarks/offline_choices.py
	$(BIN)/python benchmarks/report_map.py
	$(BIN)/python benchmarks/privacy_layers.py --limit 1000
	$(BIN)/python benchmarks/privacy_layers.py --detectors
	$(BIN)/python benchmarks/name_quality.py
	$(BIN)/python benchmarks/language_flags.py
	$(BIN)/python benchmarks/summary_spot_checks.py
	$(BIN)/python benchmarks/discovery_quality.py
	$(BIN)/python benchmarks/novelty_days.py
	$(BIN)/python benchmarks/k_choice.py --criteria bic,loo_silhouette --reference
	$(BIN)/python benchmarks/k_criteria_tried.py --split-test --subsamples 640,1024,1600

clean:
	rm -rf integration_tests/target integration_tests/dbt_packages integration_tests/logs target logs site .mypy_cache mutants "$(KURA_DUCKDB_PATH)"

# Mutation testing of the critical invariants (not part of `make test`): each mutant against
# the fast unit tests that cover it, about 20 minutes on 2 cores; configured in pyproject.toml
# [tool.mutmut], score in BENCHMARKS.md. Of kura_dbt/report/data.py only the functions that
# decide and apply privacy are run. scripts/mutation_score.py prints the table (equivalent mutants
# left out, with their reasons), `--survivors` their names, `mutmut show NAME` one;
# MUTANTS="NAME ..." runs only those. One thread per BLAS / OpenMP pool: mutmut forks a worker
# per mutant, and a child forked after the parent started a thread pool (k-means) hangs.
PRIVACY_FUNCTIONS := meets_thresholds visibility chain bucket_id add_buckets shown_ids \
	fold_clusters place_conversations count_facets samples alerts_payload
MUTANTS ?= "kura_dbt.clustering.*" "kura_dbt.taxonomy.*" "kura_dbt.budget.*" \
	"kura_dbt.failures.*" $(foreach f,$(PRIVACY_FUNCTIONS),"kura_dbt.report.data.x__$(f)__mutmut_*")
mutation: install
	$(BIN)/pip install --quiet -e ".[mutation]"
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		nice -n 10 $(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python scripts/mutation_score.py
