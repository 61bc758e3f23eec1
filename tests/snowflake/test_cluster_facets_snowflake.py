"""kura__cluster_facets as dbt compiles it for Snowflake (LATERAL FLATTEN over the languages,
TO_CHAR for the weeks, the statistics macros) gives the DuckDB demo's figures when fakesnow runs
it over the same inputs: the mart holds on both warehouses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tests.dbt.conftest import SEARCH_PATH, dbt_deps, demo_db  # noqa: F401  (shared fixtures)

from .conftest import DUMMY_PROFILE, dbt, write_project
from .test_dbt_snowflake import write_table

DATABASE = "FACETS_DB"  # its own database on the session's fakesnow server
INPUTS = {
    "KURA_kura_private": ["int_kura__conversation_facts", "int_kura__cluster_members"],
    "KURA": ["kura__conversation_clusters", "kura__clusters"],
}
KEYS = ["cluster_id", "facet", "facet_value"]
FIGURES = [
    "conversations",
    "distinct_users",
    "share_in_cluster",
    "share_overall",
    "lift",
    "z_score",
    "p_value",
    "p_value_bonferroni",
]


def _snowflake_sql(project: Path) -> list[tuple[str, str]]:
    """The two models compiled for a Snowflake target: (relation, select)."""
    dbt(project, "deps", "--quiet")
    dbt(
        project,
        "compile",
        "--select",
        "int_kura__conversation_facet_values",
        "kura__cluster_facets",
        "--no-populate-cache",
    )
    compiled = project / "target" / "compiled" / "kura" / "models"
    return [
        (
            f"{DATABASE}.KURA_kura_private.int_kura__conversation_facet_values",
            (compiled / "intermediate" / "int_kura__conversation_facet_values.sql").read_text(),
        ),
        (
            f"{DATABASE}.KURA.kura__cluster_facets",
            (compiled / "marts" / "kura__cluster_facets.sql").read_text(),
        ),
    ]


def test_the_snowflake_sql_gives_the_duckdb_figures(tmp_path, demo_db, fakesnow_server):  # noqa: F811
    import snowflake.connector

    # the demo's thresholds (integration_tests: 1 and 1), not the package's defaults
    demo_vars = {"kura__min_cluster_users": 1, "kura__min_cluster_conversations": 1}
    project = write_project(
        tmp_path / "project", {**DUMMY_PROFILE, "database": DATABASE}, demo_vars
    )
    models = _snowflake_sql(project)
    sql = models[1][1]
    assert "lateral flatten" in models[0][1] and "to_char(" in models[0][1] and " ln(" in sql
    with duckdb.connect(str(demo_db)) as con:
        con.execute(f"set search_path = '{SEARCH_PATH}'")
        inputs = {
            name: con.execute(f"select * from {name}").df() for s in INPUTS.values() for name in s
        }
        want = con.execute("select * from kura__cluster_facets").df()
    connection = snowflake.connector.connect(**fakesnow_server, database=DATABASE, schema="KURA")
    try:
        cursor = connection.cursor()
        for schema, names in INPUTS.items():
            cursor.execute(f"create schema if not exists {DATABASE}.{schema}")
            for name in names:
                write_table(connection, f"{DATABASE}.{schema}.{name}", inputs[name])
        for relation, select in models:
            cursor.execute(f"create or replace table {relation} as {select}")
        cursor.execute(f"select * from {DATABASE}.KURA.kura__cluster_facets")
        got = pd.DataFrame(cursor.fetchall(), columns=[d[0].lower() for d in cursor.description])
    finally:
        connection.close()
    both = want.merge(got, on=KEYS, how="outer", indicator=True, suffixes=("_duck", "_snow"))
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"][KEYS]
    assert len(both) == len(want) > 100
    assert {"python", "English"} <= set(got.loc[got["facet"] == "language", "facet_value"])
    for figure in FIGURES:
        duck = both[f"{figure}_duck"].astype(float).to_numpy()
        snow = both[f"{figure}_snow"].astype(float).to_numpy()
        # z: DuckDB's FLOAT (dbt.type_float() in kura.two_proportion_z) is single precision
        np.testing.assert_allclose(snow, duck, rtol=1e-4 if figure == "z_score" else 1e-9)
