"""`kura taxonomy export` reads Snowflake with --profile / --target as it reads a DuckDB file:
the same tables copied into fakesnow (Snowflake's upper-case names, its information schema)
give the same file. fakesnow stands in for the connector at the DB-API boundary."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from kura_dbt.cli import app

TABLES = {
    "analytics_kura_private.kura__cluster_hierarchy": (
        "cluster_id varchar, level bigint, parent_id varchar, name varchar, description varchar, "
        "size bigint, distinct_users bigint",
        [
            ("top", 1, None, "Cooking", "Food questions", 3, 3),
            ("bread", 0, "top", "Baking bread", "Sourdough and yeast", 2, 2),
            ("soup", 0, "top", "Soups", "Stocks and soups", 1, 1),
        ],
    ),
    # the thresholds of the build (1 user, 1 conversation): every cluster is shown
    "analytics.kura__clusters": (
        "cluster_id varchar, meets_privacy_threshold boolean",
        [("top", True), ("bread", True), ("soup", True)],
    ),
    "analytics.kura__conversation_clusters": (
        "conversation_id varchar, cluster_id varchar, distance double",
        [("c1", "bread", 0.1), ("c2", "bread", 0.2), ("c3", "soup", 0.1)],
    ),
    "analytics_kura_private.kura__summaries": (
        "conversation_id varchar, request varchar, summary varchar",
        [
            ("c1", "How do I feed a sourdough starter?", "Feeding a starter."),
            ("c2", "", "Why my bread is dense, asked by bob@example.com."),
            ("c3", "A quick chicken stock", "Making stock."),
        ],
    ),
    "analytics_kura_private.kura__embeddings": (
        "conversation_id varchar, text_hash varchar",
        [
            ("c1", "md5:How do I feed a sourdough starter?"),
            ("c2", "md5:Why my bread is dense, asked by bob@example.com."),
            ("c3", "md5:A quick chicken stock"),
        ],
    ),
}


def _fill(con, upper: bool) -> None:
    for relation, (columns, rows) in TABLES.items():
        schema, table = relation.split(".")
        if upper:
            schema, table = schema.upper(), table.upper()
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {schema}.{table} ({columns})")
        for row in rows:
            marks = ", ".join("?" * len(row))
            con.execute(f"insert into {schema}.{table} values ({marks})", list(row))
        if table.lower() == "kura__embeddings":  # the hash of the text embedded
            con.execute(f"update {schema}.{table} set text_hash = md5(substr(text_hash, 5))")


def test_taxonomy_export_reads_snowflake_through_the_dbt_profile(tmp_path):
    fakesnow = pytest.importorskip("fakesnow")
    db = tmp_path / "kura.duckdb"
    with duckdb.connect(str(db)) as con:
        _fill(con, upper=False)
    via_file = tmp_path / "duckdb.csv"
    local = ["taxonomy", "export", "--db", str(db), "--schema", "analytics"]
    done = CliRunner().invoke(app, [*local, "--out", str(via_file)])
    assert done.exit_code == 0, done.output
    output = {"type": "snowflake", "account": "acc", "user": "u", "password": "p"}
    output.update(warehouse="w", database="KURADB", schema="analytics")
    profiles = {"kura": {"target": "prod", "outputs": {"prod": output}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profiles))
    with fakesnow.patch():
        import snowflake.connector

        setup = snowflake.connector.connect(database="KURADB", schema="ANALYTICS")
        setup.cursor().execute("create database if not exists kuradb")
        _fill(setup._duck_conn, upper=True)  # fakesnow's DuckDB, under kuradb
        via_profile = tmp_path / "snowflake.csv"
        args = ["taxonomy", "export", "--profile", "kura", "--profiles-dir", str(tmp_path)]
        done = CliRunner().invoke(app, [*args, "--out", str(via_profile)])
        assert done.exit_code == 0, done.output
        missing = CliRunner().invoke(app, [*args, "--schema", "nope", "--out", str(via_profile)])
    assert via_profile.read_text() == via_file.read_text()
    assert "Baking bread" in via_file.read_text() and "bob@example.com" not in via_file.read_text()
    assert missing.exit_code == 2 and "kura__conversation_clusters" in missing.output
