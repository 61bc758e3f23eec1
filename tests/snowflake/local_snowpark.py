"""Snowpark's local testing (``Session.builder.config('local_testing', True)``), plus the one
thing it lacks that the Python models use: ``session.sql``.

Local testing runs the DataFrame API in pandas and refuses SQL text. Here a query is parsed
as Snowflake SQL (sqlglot, read="snowflake": a query that is not valid Snowflake fails), the
tables and views it names are read through the local session (``session.table(...)``, so
temporary views made by ``create_or_replace_temp_view`` and tables written by
``save_as_table`` are what it sees, ARRAY columns decoded as a real session's would be), it
runs on DuckDB, and its result comes back as a Snowpark DataFrame with upper-case columns, as
``session.sql`` returns on Snowflake. Everything else is Snowpark's own local testing.
"""

from __future__ import annotations

import types
from typing import Any

import duckdb
import pandas as pd

from kura_dbt import frames


def local_session() -> Any:
    from snowflake.snowpark import Session

    session = Session.builder.config("local_testing", True).create()
    session.sql = types.MethodType(_sql, session)
    return session


def _sql(session: Any, query: str, params: Any = None, **_: Any) -> Any:
    import sqlglot
    from sqlglot import exp

    assert params is None, "the library binds no parameters"
    tree = sqlglot.parse_one(query, read="snowflake")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    con = duckdb.connect()
    try:
        loaded: dict[str, str] = {}
        for table in list(tree.find_all(exp.Table)):
            if not table.catalog and not table.db and table.name.lower() in ctes:
                continue
            # each part as written: a quoted identifier keeps its quotes (and so its case)
            name = ".".join(p.sql(dialect="snowflake") for p in table.parts)
            if name.lower() not in loaded:
                local = f"t{len(loaded)}"
                con.register(local, frames.to_pandas(session.table(name)))
                loaded[name.lower()] = local
            table.set("catalog", None)
            table.set("db", None)
            table.set("this", exp.to_identifier(loaded[name.lower()]))
        result = con.execute(tree.sql(dialect="duckdb")).df()
    finally:
        con.close()
    result.columns = [str(c).lower() for c in result.columns]
    return frames.to_output(_typed(result), session)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """DuckDB's result with lists as lists (DuckDB gives numpy arrays) for frames.to_output."""
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [v.tolist() if hasattr(v, "tolist") else v for v in frame[column]]
    return frame
