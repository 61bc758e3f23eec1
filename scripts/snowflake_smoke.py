"""The checks of scripts/snowflake_smoke.sh, one printed line each: ``ok    <check>: ...`` or
``FAIL  <check>: ... (what to do)``. The SQL is Snowflake's; each check is a pure function of
the rows its query returns, so tests/snowflake/test_smoke_script.py runs them on canned answers
and parses the SQL. Run as ``python scripts/snowflake_smoke.py <step>`` with the dbt profile's
SNOWFLAKE_* variables set (the bash script does)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RUNTIME = "3.11"  # python_version of every Python model (python_models/_python_models.yml)
SAMPLE = 100  # conversations the smoke build summarises
MIN_SHARE = 0.99  # of summaries and names that must not be NULL
# the Python models every Snowflake build runs as procedures
PROCEDURES = ("int_kura__cluster_state", "int_kura__map_points")
# the LLM state tables whose rows count attempts and park after kura__llm_max_attempts
STATE_TABLES = ("kura__summaries", "kura__embeddings", "int_kura__cortex_cluster_names")
# prices only so that cost_usd is computed (USD per million tokens); not Snowflake's rates
SMOKE_VARS = {
    "kura__llm_input_cost_per_mtok": 1.0,
    "kura__llm_output_cost_per_mtok": 1.0,
    "kura__llm_embedding_cost_per_mtok": 1.0,
}
Row = Sequence[Any]


def line(ok: bool, check: str, detail: str) -> str:
    return f"{'ok  ' if ok else 'FAIL'}  {check}: {detail}"


# ---------------------------------------------------------------- SQL (Snowflake's dialect)

PACKAGES_SQL = (
    "select lower(package_name), max(version) from information_schema.packages "
    "where language = 'python' and runtime_version = %s group by 1"
)
SAMPLE_SQL = (
    "create or replace table {schema}.kura_smoke_conversations as "
    "select * from {schema}.kura_sample_conversations order by conversation_id limit {n}",
    "create or replace table {schema}.kura_smoke_messages as "
    "select m.* from {schema}.kura_sample_messages as m "
    "inner join {schema}.kura_smoke_conversations as c on c.conversation_id = m.conversation_id",
)
TABLE_SQL = (
    "select table_schema from information_schema.tables "
    "where table_schema in (upper(%s), upper(%s)) and table_name = upper(%s) "
    "order by table_schema"
)
COLUMN_SQL = (
    "select count(*) from information_schema.columns "
    "where table_schema = %s and table_name = upper(%s) and column_name = upper(%s)"
)
STAGE_SQL = "list @{stage}"
SHARE_SQL = "select count(*), count({column}) from {relation}"
PARKED_SQL = "select count_if(gave_up) from {relation}"
PROCEDURE_SQL = (
    "select query_text, execution_status from table(information_schema.query_history("
    "end_time_range_start => dateadd('hour', -6, current_timestamp()), result_limit => 10000)) "
    "where query_text ilike '%__dbt_sp AS PROCEDURE%' order by start_time desc"
)
RELABEL_SQL = (
    "select count(*), count(replacement), count(score), count_if(error is not null) from {relation}"
)
USAGE_SQL = (
    "select stage, coalesce(sum(llm_calls), 0), coalesce(sum(prompt_tokens), 0), "
    "count_if(cost_usd > 0) from {relation} group by stage order by stage"
)
ALL_SQL = (PACKAGES_SQL, *SAMPLE_SQL, TABLE_SQL, COLUMN_SQL, STAGE_SQL, SHARE_SQL, PARKED_SQL)
ALL_SQL += (PROCEDURE_SQL, RELABEL_SQL, USAGE_SQL)


# ---------------------------------------------------------------- checks on rows


def package_name(requirement: str) -> str:
    """``scikit-learn>=1.3`` -> ``scikit-learn`` (the channel's names are lower case)."""
    for sign in ("==", ">=", "<=", "!=", "~=", ">", "<", "="):
        requirement = requirement.split(sign, 1)[0]
    return requirement.strip().lower()


def check_packages(wanted: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """One line per package of kura__snowflake_packages (and Snowpark, which dbt-snowflake
    adds), found or not on the account's Anaconda channel for the procedures' runtime."""
    found = {str(name).lower(): version for name, version in rows}
    out = []
    for name in dict.fromkeys([*map(package_name, wanted), "snowflake-snowpark-python"]):
        if name in found:
            out.append(line(True, f"package {name}", f"{found[name]} for Python {RUNTIME}"))
        else:
            out.append(
                line(
                    False,
                    f"package {name}",
                    f"not on this account's Anaconda channel for Python {RUNTIME}: have an "
                    "ORGADMIN accept the Anaconda terms (Snowsight: Admin > Terms), or drop it "
                    "from var kura__snowflake_packages; a pure-Python package can go in the zip "
                    f"instead (kura stage --vendor {name})",
                )
            )
    return out


def check_stage(stage: str, rows: Sequence[Row]) -> str:
    staged = [r for r in rows if str(r[0]).lower().endswith("/kura_dbt.zip")]
    if not staged:
        return line(False, "stage", f"no kura_dbt.zip on @{stage}: run-operation did not PUT it")
    return line(True, "stage", f"@{stage}/kura_dbt.zip, {staged[0][1]} bytes")


def check_share(check: str, rows: Sequence[Row], sample: int | None = None) -> str:
    """``rows``: [(rows, non-NULL values)]. Against ``sample`` (the conversations given) when
    set, else against the table's rows: at least MIN_SHARE must not be NULL."""
    total, filled = (int(v or 0) for v in rows[0])
    base = sample or total
    share = filled / base if base else 0.0
    detail = f"{filled} of {base} not NULL ({share:.1%}, need {MIN_SHARE:.0%})"
    if sample and total > sample:
        detail += f"; {total} rows for {sample} conversations: the sample was not used"
    return line(share >= MIN_SHARE and not (sample and total > sample), check, detail)


def check_parked(counts: dict[str, int | None]) -> str:
    """``counts``: parked rows per state table (None: the table has no gave_up column)."""
    missing = [t for t, n in counts.items() if n is None]
    if missing:
        return line(False, "parked rows", f"no gave_up column in {', '.join(missing)}")
    parked = {t: n for t, n in counts.items() if n}
    detail = ", ".join(f"{t} {n}" for t, n in parked.items()) or "0 in " + ", ".join(counts)
    return line(not parked, "parked rows", detail)


def check_procedures(stage: str, rows: Sequence[Row]) -> list[str]:
    """The latest procedure dbt-snowflake submitted for each Python model: its runtime, its
    import of the stage's zip, and that Snowflake ran it."""
    out = []
    for model in PROCEDURES:
        sent = [r for r in rows if f"{model}__dbt_sp as procedure" in str(r[0]).lower()]
        if not sent:
            out.append(
                line(False, f"procedure {model}", "not in the query history of the last 6 hours")
            )
            continue
        text, status = str(sent[0][0]), str(sent[0][1])
        runtime = f"RUNTIME_VERSION = '{RUNTIME}'" in text
        imports = f"IMPORTS = ('@{stage}/kura_dbt.zip')".lower() in text.lower()
        detail = f"runtime {RUNTIME} {'yes' if runtime else 'NO'}, imports @{stage}/kura_dbt.zip "
        detail += f"{'yes' if imports else 'NO'}, {status.lower()}"
        out.append(line(runtime and imports and status == "SUCCESS", f"procedure {model}", detail))
    return out


def check_relabels(rows: Sequence[Row] | None) -> str:
    """``rows``: [(withheld cluster texts remade, changed by AI_REDACT, scored, failed)] of
    int_kura__privacy_relabels (None: the table is not there). Every one must have been
    answered: AI_REDACT and AI_COMPLETE on the account, not our stand-ins."""
    check = "withheld cluster texts made again"
    if rows is None:
        return line(False, check, "no int_kura__privacy_relabels: the Cortex model did not run")
    total, changed, scored, failed = (int(v or 0) for v in rows[0])
    detail = f"{total} withheld, {changed} changed by AI_REDACT, {scored} scored, {failed} failed"
    return line(failed == 0 and scored == changed, check, detail)


def check_costs(rows: Sequence[Row]) -> str:
    billed = {str(stage): int(priced or 0) for stage, calls, _, priced in rows if calls}
    ok = bool(billed) and all(billed.values())
    detail = ", ".join(f"{s}: {n} priced rows" for s, n in billed.items()) or "no LLM calls"
    return line(ok, "cost rows in kura__llm_usage", detail)


def check_no_new_calls(before: Sequence[Row], after: Sequence[Row]) -> str:
    first = {str(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in before}
    second = {str(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in after}
    grown = {s: second[s][0] - first.get(s, (0, 0))[0] for s in second if second[s] != first.get(s)}
    detail = ", ".join(f"{s} +{n} calls" for s, n in grown.items()) or (
        f"{sum(c for c, _ in second.values())} calls, as after the first"
    )
    return line(not grown, "second build makes no new calls", detail)


# ---------------------------------------------------------------- against the account


class Account:
    """The dbt profile's Snowflake target (profiles/profiles.yml, target snowflake)."""

    def __init__(self) -> None:
        import snowflake.connector

        from kura_dbt.report.source import load_profile_target, snowflake_connect_kwargs

        output = load_profile_target("kura", "snowflake", Path(os.environ["DBT_PROFILES_DIR"]))
        self.con = snowflake.connector.connect(**snowflake_connect_kwargs(output))
        self.database, self.schema = str(output["database"]), str(output["schema"])
        self.private = f"{self.schema}_{private_suffix()}"
        self.stage = f"{self.database}.{self.schema}.kura_stage"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.con.cursor().execute(sql, list(params) if params else None).fetchall()

    def relation(self, table: str) -> str | None:
        """``schema.table`` in the target schema or its private schema, else None."""
        found = self.rows(TABLE_SQL, (self.schema, self.private, table))
        return f"{found[0][0]}.{table}" if found else None

    def parked(self, table: str) -> int | None:
        relation = self.relation(table)
        if relation is None:
            return 0
        schema = relation.split(".", 1)[0]
        if not self.rows(COLUMN_SQL, (schema, table, "gave_up"))[0][0]:
            return None
        return int(self.rows(PARKED_SQL.format(relation=relation))[0][0] or 0)

    def usage(self) -> list[Row]:
        relation = self.relation("kura__llm_usage")
        return self.rows(USAGE_SQL.format(relation=relation)) if relation else []


def private_suffix() -> str:
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    return str(project["vars"]["kura__private_schema"]).upper()


def smoke_vars(extra: str) -> str:
    """The vars of the smoke builds as one JSON object: the sample tables (fully qualified: the
    staging views live in another schema), SMOKE_VARS, then KURA_SMOKE_VARS."""
    schema = f"{os.environ['SNOWFLAKE_DATABASE']}.{os.environ['SNOWFLAKE_SCHEMA']}"
    inputs = {f"kura__{t}": f"{schema}.kura_smoke_{t}" for t in ("conversations", "messages")}
    return json.dumps({**inputs, **SMOKE_VARS, **(yaml.safe_load(extra or "{}") or {})})


def step_packages(account: Account, extra: str) -> list[str]:
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    wanted = json.loads(extra).get("kura__snowflake_packages", project["kura__snowflake_packages"])
    return check_packages(wanted, account.rows(PACKAGES_SQL, (RUNTIME,)))


def step_sample(account: Account) -> list[str]:
    for sql in SAMPLE_SQL:
        account.rows(sql.format(schema=account.schema, n=SAMPLE))
    count = account.rows(f"select count(*) from {account.schema}.kura_smoke_conversations")
    return [line(int(count[0][0]) == SAMPLE, "sample", f"{count[0][0]} conversations")]


def step_first(account: Account, state: Path) -> list[str]:
    out = []
    for check, table, column, sample in (
        ("summaries", "kura__summaries", "summary", SAMPLE),
        ("cluster names", "int_kura__cortex_cluster_names", "name", None),
    ):
        relation = account.relation(table)
        if relation is None:
            out.append(line(False, check, f"no {table} in {account.schema} or {account.private}"))
        else:
            rows = account.rows(SHARE_SQL.format(column=column, relation=relation))
            out.append(check_share(check, rows, sample))
    out.append(check_parked({t: account.parked(t) for t in STATE_TABLES}))
    relabels = account.relation("int_kura__privacy_relabels")
    out.append(
        check_relabels(account.rows(RELABEL_SQL.format(relation=relabels)) if relabels else None)
    )
    out.extend(check_procedures(account.stage, account.rows(PROCEDURE_SQL)))
    usage = account.usage()
    state.write_text(json.dumps([list(map(str, r)) for r in usage]))
    return [*out, check_costs(usage)]


STEPS: dict[str, Callable[..., list[str]]] = {
    "packages": lambda a, argv: step_packages(a, argv[0]),
    "sample": lambda a, argv: step_sample(a),
    "stage": lambda a, argv: [check_stage(a.stage, a.rows(STAGE_SQL.format(stage=a.stage)))],
    "first": lambda a, argv: step_first(a, Path(argv[0])),
    "second": lambda a, argv: [
        check_no_new_calls(json.loads(Path(argv[0]).read_text()), a.usage())
    ],
}


def main(argv: Sequence[str]) -> int:
    """``vars EXTRA``: print the builds' vars; ``<step> ...``: print its lines; the exit
    status is the number of failed checks."""
    if argv[0] == "vars":
        print(smoke_vars(argv[1] if len(argv) > 1 else ""))
        return 0
    account = Account()
    try:
        lines = STEPS[argv[0]](account, list(argv[1:]))
    finally:
        account.con.close()
    print("\n".join(lines), flush=True)
    return sum(1 for x in lines if x.startswith("FAIL"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
