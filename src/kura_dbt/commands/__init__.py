"""Sub-commands of the `kura` CLI that live in their own modules (registered in kura_dbt.cli),
and what the commands share: the DuckDB file option, and where the marts are (a DuckDB file or
Snowflake, see kura_dbt.report.source)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

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
            f"{db} does not exist; pass the DuckDB file your `dbt build` wrote (the path in "
            f"${DB_ENV}), or run `dbt build` first",
            param_hint="--db",
        )
    if db.is_dir():
        raise typer.BadParameter(
            f"{db} is a folder; pass the DuckDB file that `dbt build` wrote in it",
            param_hint="--db",
        )
    return db


def output_file(out: Path, option: str = "--out") -> Path:
    """A file a command may write: its folder is created when missing (as `kura report`,
    `kura schema` and `kura stage` all do), or a usage error in one sentence."""
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; give a file name in it", param_hint=option)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot create the folder {out.parent}: {exc.strerror or exc}", param_hint=option
        ) from None
    return out


def parse_vars(text: str) -> dict[str, Any]:
    """``--vars`` as dbt takes them (a YAML mapping), or a usage error in one sentence."""
    import yaml

    example = "give a mapping such as '{kura__extra_facets: []}'"
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (column {mark.column + 1})" if mark is not None else ""
        raise typer.BadParameter(
            f"{text!r} is not YAML{where}; {example}", param_hint="--vars"
        ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise typer.BadParameter(f"{text!r} is not a mapping; {example}", param_hint="--vars")
    return value


def open_marts(source: Any) -> Any:
    """A connection to ``source`` (a DuckDB file or a MartsSource), or a usage error in one
    sentence that names what could not be opened: a file that is not a DuckDB database, a
    Snowflake connection name that connections.toml does not have, a refused login."""
    from kura_dbt.report.data import connect
    from kura_dbt.report.source import MartsSource

    is_source = isinstance(source, MartsSource)
    try:
        return connect(source if is_source else require_db(source))
    except typer.BadParameter:
        raise
    except Exception as exc:  # the driver's own error, whatever its class: one sentence
        label = source.label if is_source else str(source)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if is_source and source.db is None:
            raise typer.BadParameter(
                f"cannot open {label}: {reason}", param_hint="--connection / --profile"
            ) from None
        raise typer.BadParameter(
            f"cannot open {label}: {reason}; pass the DuckDB file that `dbt build` wrote",
            param_hint="--db",
        ) from None


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
    from kura_dbt.report.data import REQUIRED_TABLES, MissingTableError, require_tables
    from kura_dbt.report.source import MartsSource

    source = db if isinstance(db, MartsSource) else None
    con = open_marts(db)
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
