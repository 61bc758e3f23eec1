"""Sub-commands of the `kura` CLI that live in their own modules (registered in kura_dbt.cli),
and what the commands share: the DuckDB file option."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def connect_marts(db: Path, schema: str, tables: Sequence[str] | None = None):
    """A connection to the kura tables in `db`, or a usage error in one sentence that names the
    missing table and says that `dbt build` makes it (no traceback)."""
    from kura_dbt.report.data import REQUIRED_TABLES, MissingTableError, connect, require_tables

    con = connect(require_db(db))
    try:
        require_tables(con, db, schema, tuple(tables or REQUIRED_TABLES))
    except MissingTableError as exc:
        con.close()
        raise typer.BadParameter(str(exc), param_hint="--db / --schema") from None
    except BaseException:
        con.close()
        raise
    return con
