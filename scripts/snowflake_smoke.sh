#!/usr/bin/env bash
# The Snowflake smoke test: first contact with a real account, what the offline tests
# (tests/snowflake) cannot prove. Run it from the repository root with the profile's variables:
#
#   SNOWFLAKE_ACCOUNT=... SNOWFLAKE_USER=... SNOWFLAKE_PASSWORD=... (or SNOWFLAKE_AUTHENTICATOR)
#   SNOWFLAKE_ROLE=... SNOWFLAKE_WAREHOUSE=... SNOWFLAKE_DATABASE=... make snowflake-smoke
#
# It builds 100 sample conversations into the schema SNOWFLAKE_SCHEMA (default KURA_SMOKE) with
# the dbt Cloud job's commands (dbt deps, dbt run-operation kura_stage_library, dbt build) and
# leaves it there to look at; drop it with `drop schema KURA_SMOKE cascade` (and
# KURA_SMOKE_KURA_PRIVATE). The role needs what docs/SNOWFLAKE.md "Grants" lists. One line per
# check (scripts/snowflake_smoke.py), `ok` or `FAIL` with what to do:
#   - every package of kura__snowflake_packages on the account's Anaconda channel for Python 3.11
#   - the library zip on the fully qualified stage @<database>.<schema>.kura_stage
#   - after the first build: >= 99 % of the 100 summaries and of the cluster names not NULL,
#     no parked row, each Python model's procedure ran on Python 3.11 importing the stage's zip,
#     priced rows in kura__llm_usage
#   - a second build makes no new LLM call
# Extra dbt vars (YAML) go in KURA_SMOKE_VARS, e.g. KURA_SMOKE_VARS='{kura__cortex_model: mistral-large2}'.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
: "${SNOWFLAKE_ACCOUNT:?set SNOWFLAKE_ACCOUNT (and the other SNOWFLAKE_* variables of profiles/profiles.yml)}"
: "${SNOWFLAKE_USER:?set SNOWFLAKE_USER}"
: "${SNOWFLAKE_WAREHOUSE:?set SNOWFLAKE_WAREHOUSE}"
: "${SNOWFLAKE_DATABASE:?set SNOWFLAKE_DATABASE}"
export SNOWFLAKE_SCHEMA=${SNOWFLAKE_SCHEMA:-KURA_SMOKE}
export KURA_TARGET=snowflake
export DBT_PROFILES_DIR="$PWD/profiles"
export DO_NOT_TRACK=1 DBT_SEND_ANONYMOUS_USAGE_STATS=False
PYTHON=$PWD/$BIN/python
DBT=$PWD/$BIN/dbt
CHECKS=$PWD/scripts/snowflake_smoke.py
STATE=$(mktemp)
trap 'rm -f "$STATE"' EXIT
VARS=$("$PYTHON" "$CHECKS" vars "${KURA_SMOKE_VARS:-}")
failures=0

step() { printf '\n== %s\n' "$*"; }
# a check step prints its lines; its exit status is the number of failed checks
check() { "$PYTHON" "$CHECKS" "$@" || failures=$((failures + $?)); }

step "packages on the Anaconda channel (var kura__snowflake_packages)"
check packages "$VARS"

cd integration_tests
step "dbt deps; dbt seed; the first 100 sample conversations"
"$DBT" deps --quiet
"$DBT" seed --quiet
check sample

step "dbt run-operation kura_stage_library"
"$DBT" run-operation kura_stage_library
check stage

step "dbt build (first: summarises, embeds, names, clusters)"
"$DBT" build --vars "$VARS"
check first "$STATE"

step "dbt build (second: nothing new, so no LLM call)"
"$DBT" build --vars "$VARS"
check second "$STATE"

if [ "$failures" -gt 0 ]; then
    step "Snowflake smoke test: $failures check(s) failed (schema $SNOWFLAKE_SCHEMA)"
    exit 1
fi
step "Snowflake smoke test passed (schema $SNOWFLAKE_SCHEMA)"
