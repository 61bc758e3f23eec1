#!/usr/bin/env bash
# The Snowflake smoke test: what the offline tests (tests/snowflake) cannot prove, checked on a
# real account. Run it from the repository root with the profile's variables set:
#
#   SNOWFLAKE_ACCOUNT=... SNOWFLAKE_USER=... SNOWFLAKE_PASSWORD=... (or SNOWFLAKE_AUTHENTICATOR)
#   SNOWFLAKE_ROLE=... SNOWFLAKE_WAREHOUSE=... SNOWFLAKE_DATABASE=... bash scripts/snowflake_smoke.sh
#
# It builds the sample data into the schema SNOWFLAKE_SCHEMA (default KURA_SMOKE; the role needs
# to create schemas, stages and tables in SNOWFLAKE_DATABASE) and leaves it there to look at;
# drop it with `drop schema KURA_SMOKE cascade` (and KURA_SMOKE_KURA_PRIVATE). Steps:
#   1. the Anaconda packages of var kura__snowflake_packages exist (INFORMATION_SCHEMA.PACKAGES)
#   2. `kura stage` uploads this kura_dbt as a zip to the stage the Python models import
#   3. `dbt build` twice on the sample data (the second run is incremental and must merge)
#   4. the Python models' tables have upper-case columns (CONVERSATION_ID) and the row counts
#      of the sample, unchanged by the second run
#   5. `dbt test`: every data test again, on the second run's tables
# Extra dbt vars (YAML) go in KURA_SMOKE_VARS, e.g. KURA_SMOKE_VARS='{kura__summariser: local}'.
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
VARS=${KURA_SMOKE_VARS:-"{}"}
DBT=(../"$BIN"/dbt)

step() { printf '\n== %s\n' "$*"; }

# one Python helper: a connection from the same dbt profile (kura_dbt.report.source)
sql_check() {
    "$BIN"/python - "$@" <<'PY'
import json, sys
import yaml
from kura_dbt.report.source import load_profile_target, snowflake_connect_kwargs
import snowflake.connector

what = sys.argv[1]
con = snowflake.connector.connect(**snowflake_connect_kwargs(load_profile_target("kura", "snowflake")))
cur = con.cursor()
schema = cur.execute("select current_schema()").fetchone()[0]
private = f"{schema}_KURA_PRIVATE"

if what == "packages":
    project = yaml.safe_load(open("dbt_project.yml"))["vars"]
    extra = yaml.safe_load(sys.argv[2]) or {}
    wanted = extra.get("kura__snowflake_packages", project["kura__snowflake_packages"])
    wanted = [p.split("=")[0].split(">")[0].split("<")[0].strip().lower() for p in wanted]
    wanted.append("snowflake-snowpark-python")
    names = ", ".join(f"'{p}'" for p in wanted)
    found = dict(cur.execute(
        "select lower(package_name), max(version) from information_schema.packages "
        f"where language = 'python' and lower(package_name) in ({names}) group by 1"
    ).fetchall())
    for p in wanted:
        print(f"  {p:28} {found.get(p, 'MISSING')}")
    missing = [p for p in wanted if p not in found]
    if missing:
        sys.exit(f"not on this account's Anaconda channel: {', '.join(missing)} "
                 "(accept the Anaconda terms in Snowsight, or change var kura__snowflake_packages)")
elif what == "tables":
    expected = json.loads(sys.argv[2])
    failures = []
    for table, rows in expected.items():
        columns = [r[0] for r in cur.execute(
            "select column_name from information_schema.columns "
            f"where table_schema = '{private}' and table_name = '{table.upper()}' order by ordinal_position"
        ).fetchall()]
        if not columns:
            failures.append(f"{private}.{table}: missing")
            continue
        lower = [c for c in columns if c != c.upper()]
        if lower:
            failures.append(f"{table}: quoted lower-case columns {lower}")
        key = "STATE_KEY" if "STATE_KEY" in columns else "CONVERSATION_ID"
        if key not in columns:
            failures.append(f"{table}: no {key} column")
        count = cur.execute(f"select count(*) from {private}.{table}").fetchone()[0]
        # unquoted names resolve: what the SQL models and the incremental merge rely on
        cur.execute(f"select {key.lower()} from {private}.{table} limit 1")
        print(f"  {table:32} {count:6} rows  {len(columns)} columns")
        if rows is not None and count != rows:
            failures.append(f"{table}: {count} rows, expected {rows}")
    runs = cur.execute(
        f"select count(*) from {private}.int_kura__cluster_state where record_type = 'run'"
    ).fetchone()[0]
    print(f"  cluster state runs: {runs}")
    if runs != int(sys.argv[3]):
        failures.append(f"int_kura__cluster_state: {runs} run rows, expected {sys.argv[3]}")
    if failures:
        sys.exit("\n".join(failures))
con.close()
PY
}

step "1. Anaconda packages (var kura__snowflake_packages)"
sql_check packages "$VARS"

step "2. kura stage: upload kura_dbt $("$BIN"/kura version) to the stage"
"$BIN"/kura stage --profile kura --target snowflake --profiles-dir "$DBT_PROFILES_DIR"

cd integration_tests
"${DBT[@]}" deps --quiet
step "3a. dbt build (first run: every model from scratch)"
"${DBT[@]}" build --vars "$VARS"
cd ..
EXPECT='{"kura__summaries": 500, "kura__embeddings": 500, "int_kura__map_points": 500, "int_kura__cluster_state": null}'
step "4a. columns and row counts after the first run"
sql_check tables "$EXPECT" 1

cd integration_tests
step "3b. dbt build (second run: incremental, nothing new to summarise; merges)"
"${DBT[@]}" build --vars "$VARS"
cd ..
step "4b. columns and row counts after the second run"
sql_check tables "$EXPECT" 2

cd integration_tests
step "5. dbt test on the second run's tables"
"${DBT[@]}" test --vars "$VARS"
cd ..
step "Snowflake smoke test passed (schema $SNOWFLAKE_SCHEMA)"
