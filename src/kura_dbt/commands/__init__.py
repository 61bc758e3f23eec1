"""Sub-commands of the `kura` CLI that live in their own modules (registered in kura_dbt.cli),
and what the commands share: the DuckDB file option, and where the marts are (a DuckDB file or
Snowflake, see kura_dbt.report.source)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

DB_ENV = "KURA_DUCKDB_PATH"  # the same variable the dbt profile reads
DEFAULT_DB = Path("kura.duckdb")


def db_option(help: str) -> typer.models.OptionInfo:
    """``--db``: read from $KURA_DUCKDB_PATH at run time when not given (typer shows both)."""
    return typer.Option(envvar=DB_ENV, help=help)


def require_db(db: Path) -> Path:
    """The file `dbt build` wrote, or a usage error that says how to make it."""
    if not db.exists():
        raise typer.BadParameter(
            f"{db} does not exist; run `make demo` (or `dbt build`) first, or pass --db",
            param_hint="--db",
        )
    return db


ProfileOption = Annotated[
    str | None,
    typer.Option(help="Read the warehouse of this dbt profile (e.g. kura) instead of --db"),
]
TargetOption = Annotated[
    str | None, typer.Option(help="The dbt profile's target (default: the profile's own)")
]
ProfilesDirOption = Annotated[
    Path | None,
    typer.Option(help="Where profiles.yml is (default: $DBT_PROFILES_DIR, then ., then ~/.dbt)"),
]
ConnectionOption = Annotated[
    str | None,
    typer.Option(help="A snowflake-connector connection name (connections.toml) instead of --db"),
]
SchemaOption = Annotated[
    str | None,
    typer.Option(help="Schema of the kura marts (default: main, or the profile's schema)"),
]


def marts_source(
    db: Path,
    profile: str | None = None,
    target: str | None = None,
    profiles_dir: Path | None = None,
    connection: str | None = None,
):
    """The MartsSource the options name, or a usage error in one sentence."""
    from kura_dbt.report.source import resolve_source

    try:
        source = resolve_source(db, profile, target, profiles_dir, connection)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile / --target") from None
    if source.db is not None:
        require_db(source.db)
    return source


def connect_marts(db, schema: str | None, tables: Sequence[str] | None = None):
    """A connection to the kura tables (``db``: a DuckDB file or a MartsSource) and the schema
    they are in, or a usage error in one sentence that names the missing table and says that
    `dbt build` makes it (no traceback). ``schema`` None: the source's default (DuckDB: main;
    a dbt profile: its schema; a Snowflake connection name: its current schema)."""
    from kura_dbt.report.data import REQUIRED_TABLES, MissingTableError, connect, require_tables
    from kura_dbt.report.source import MartsSource

    source = db if isinstance(db, MartsSource) else None
    con = connect(source or require_db(db))
    try:
        if schema is None:
            schema = source.default_schema if source is not None else "main"
            if not schema:  # a connection name: the session's current schema
                schema = str(con.execute("select current_schema()").fetchone()[0] or "")
        require_tables(con, source or db, schema, tuple(tables or REQUIRED_TABLES))
    except MissingTableError as exc:
        con.close()
        raise typer.BadParameter(str(exc), param_hint="--db / --schema") from None
    except BaseException:
        con.close()
        raise
    return con, schema
