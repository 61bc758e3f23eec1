"""Rebuilds leave no temporary tables behind.

dbt-duckdb's incremental materialization writes a Python model's new rows to a
`<model>__dbt_tmp<timestamp>` table that it believes is a DuckDB temporary table, so it never
drops it; but `py_write_table` creates it as a plain table in the database's default schema.
Every build used to add one per incremental Python model (kura__summaries, kura__embeddings),
each a copy of the rows computed. kura's post-hook `kura.drop_python_tmp_tables`
(macros/maintenance/drop_python_tmp_tables.sql) drops them, and the ones earlier builds left.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

from .conftest import run_dbt
from .test_build import counts

# what dbt-duckdb names its intermediate relations: <model>__dbt_tmp<timestamp>, <model>__dbt_backup
LEFTOVER = re.compile(r"__dbt_tmp[0-9]*$|__dbt_backup$")
# as a build before the fix left them: a copy of the model's rows under a timestamped name
STALE = (
    "kura__summaries__dbt_tmp20250101000000000000",
    "kura__embeddings__dbt_tmp20250101000000000000",
)
# a user's own table whose name only looks alike: it must survive
DECOY = "kura__summaries__dbt_tmp_notes"


def relations(db: Path) -> set[tuple[str, str, str]]:
    """Every table and view in the file, in every schema, as (catalog, schema, name)."""
    with duckdb.connect(str(db)) as con:
        sql = "select table_catalog, table_schema, table_name from information_schema.tables"
        return {tuple(r) for r in con.execute(sql).fetchall()}


def test_rebuilds_leave_no_temporary_tables(demo_db, query, tmp_path):
    # on a copy of the session's demo: the tables it adds must not reach the other tests
    with duckdb.connect(str(demo_db)) as con:
        con.execute("checkpoint")
    db = tmp_path / "kura.duckdb"
    shutil.copy(demo_db, db)
    # builds so far (the demo fixture, perhaps test_build's rerun) left nothing behind
    built = relations(db)
    assert not {r for r in built if LEFTOVER.search(r[2])}, "leftovers after the first build(s)"

    # leftovers of builds made before the fix, and a user's table that only looks like one
    with duckdb.connect(str(db)) as con:
        for name in STALE:
            model = name.split("__dbt_tmp")[0]
            con.execute(f"create table main.{name} as select * from main_kura_private.{model}")
        con.execute(f"create table main.{DECOY} as select 1 as note")
    before = counts(db)
    summaries = query(db, "select * from kura__summaries order by conversation_id")
    embedded_sql = "select max(embedded_at), count(distinct conversation_id) from kura__embeddings"
    embedded = query(db, embedded_sql)

    # one more build: the incremental Python models run incrementally and write their temp tables
    run_dbt(["build"], db, tmp_path / "target")

    after = relations(db)
    leftovers = sorted(".".join(r) for r in after if LEFTOVER.search(r[2]))
    assert leftovers == [], f"dbt left temporary tables behind: {leftovers}"
    # nothing added or lost: the same relations as after the first build, plus the user's table
    catalog = query(db, "select current_database()")[0][0]
    assert after == built | {(catalog, "main", DECOY)}
    # the kura tables are still right, and nothing was summarised or embedded again
    assert counts(db) == before
    assert query(db, "select * from kura__summaries order by conversation_id") == summaries
    assert query(db, embedded_sql) == embedded
    assert embedded[0][1] == before["kura__embeddings"] == 500
