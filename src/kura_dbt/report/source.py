"""Where `kura tree` and `kura report` read the marts: a DuckDB file, or Snowflake.

Snowflake is reached either through a dbt profile (``--profile`` / ``--target``: the same
``profiles.yml`` that ``dbt build`` used, its ``env_var(...)`` calls rendered from the
environment) or through a connection name of snowflake-connector-python
(``--connection``: ``connections.toml``). Both give a :class:`SnowflakeMarts`, which answers the
few DB-API calls the commands make the way a DuckDB connection does: ``execute(sql, params)``
with ``?`` placeholders returns a cursor with ``fetchall`` / ``fetchone`` / ``description``, and
column names come back in lower case (Snowflake folds unquoted names to upper case).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MartsSource",
    "SnowflakeMarts",
    "load_profile_target",
    "resolve_source",
    "snowflake_connect_kwargs",
]

# dbt-snowflake profile keys -> snowflake.connector.connect keyword arguments
_PROFILE_TO_CONNECTOR = {
    "account": "account",
    "user": "user",
    "password": "password",
    "authenticator": "authenticator",
    "role": "role",
    "warehouse": "warehouse",
    "database": "database",
    "schema": "schema",
    "host": "host",
    "port": "port",
    "protocol": "protocol",
    "token": "token",
    "private_key_path": "private_key_file",
    "private_key_passphrase": "private_key_file_pwd",
    "oauth_client_id": "oauth_client_id",
    "oauth_client_secret": "oauth_client_secret",
}


@dataclass(frozen=True)
class MartsSource:
    """The warehouse the marts are read from: a DuckDB file, or Snowflake connection arguments
    (``snowflake``, for ``snowflake.connector.connect``)."""

    db: Path | None = None
    snowflake: Mapping[str, Any] | None = field(default=None, compare=False)
    default_schema: str = "main"
    label: str = "kura.duckdb"

    @property
    def is_snowflake(self) -> bool:
        return self.snowflake is not None

    def connect(self) -> Any:
        if self.snowflake is None:
            from kura_dbt.report.data import connect

            return connect(self.db or Path("kura.duckdb"))
        import snowflake.connector

        # qmark: the commands' `?` placeholders, bound on the server side
        return SnowflakeMarts(
            snowflake.connector.connect(**dict(self.snowflake), paramstyle="qmark")
        )


class _Cursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def description(self) -> list[tuple[Any, ...]]:
        return [(str(d[0]).lower(), *tuple(d)[1:]) for d in self._cursor.description or ()]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)


class SnowflakeMarts:
    """A snowflake-connector connection that answers like a DuckDB one (see the module)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Cursor:
        cursor = self.connection.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, list(params))
        return _Cursor(cursor)

    def close(self) -> None:
        self.connection.close()


def _profiles_dir(profiles_dir: Path | None) -> Path:
    if profiles_dir is not None:
        return profiles_dir
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    if Path("profiles.yml").exists():  # dbt looks in the working directory first
        return Path(".")
    return Path.home() / ".dbt"


def _render(value: Any) -> Any:
    """A profile value with its Jinja rendered; profiles use env_var(name[, default])."""
    if isinstance(value, Mapping):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    if not isinstance(value, str) or "{" not in value:
        return value
    import jinja2

    missing = object()

    def env_var(name: str, default: Any = missing) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is missing:
            raise ValueError(f"environment variable {name} is not set (the profile reads it)")
        return default

    return jinja2.Environment().from_string(value).render(env_var=env_var)


def load_profile_target(
    profile: str, target: str | None = None, profiles_dir: Path | None = None
) -> dict[str, Any]:
    """The output ``target`` of ``profile`` in ``profiles.yml`` (its default target when
    ``target`` is None), rendered."""
    import yaml

    path = _profiles_dir(profiles_dir) / "profiles.yml"
    if not path.exists():
        raise ValueError(f"{path} does not exist (pass --profiles-dir or set DBT_PROFILES_DIR)")
    profiles = yaml.safe_load(path.read_text()) or {}
    if profile not in profiles:
        raise ValueError(f"{path} has no profile {profile!r}; it has: {', '.join(profiles)}")
    entry = profiles[profile] or {}
    name = target or _render(entry.get("target"))
    outputs = entry.get("outputs") or {}
    if name not in outputs:
        raise ValueError(
            f"profile {profile!r} has no target {name!r}; it has: {', '.join(outputs)}"
        )
    return {"name": name, **_render(outputs[name])}


def snowflake_connect_kwargs(output: Mapping[str, Any]) -> dict[str, Any]:
    """The snowflake.connector.connect arguments for a dbt-snowflake profile output (empty
    values are left out, so that the connector's own defaults apply)."""
    kwargs = {}
    for key, arg in _PROFILE_TO_CONNECTOR.items():
        value = output.get(key)
        if value is not None and value != "":
            kwargs[arg] = value
    return kwargs


def resolve_source(
    db: Path | None = None,
    profile: str | None = None,
    target: str | None = None,
    profiles_dir: Path | None = None,
    connection: str | None = None,
) -> MartsSource:
    """Which warehouse to read: ``--connection`` (a snowflake-connector connection name), else
    ``--profile`` / ``--target`` (a dbt profile: DuckDB or Snowflake), else the DuckDB file
    ``--db``. The default schema is the profile's or the connection's schema (DuckDB: main)."""
    if connection:
        return MartsSource(
            snowflake={"connection_name": connection},
            default_schema="",  # the connection's current schema (connections.toml)
            label=f"Snowflake connection {connection}",
        )
    if profile or target:
        output = load_profile_target(profile or "kura", target, profiles_dir)
        kind = str(output.get("type", "")).lower()
        if kind == "duckdb":
            path = Path(str(output.get("path") or "kura.duckdb"))
            return MartsSource(
                db=path, default_schema=str(output.get("schema") or "main"), label=path.name
            )
        if kind == "snowflake":
            kwargs = snowflake_connect_kwargs(output)
            return MartsSource(
                snowflake=kwargs,
                default_schema=str(output.get("schema") or "public"),
                label=f"Snowflake {kwargs.get('database', '')} (target {output['name']})".strip(),
            )
        raise ValueError(
            f"target {output['name']!r} is a {kind!r} target; kura reads duckdb or snowflake"
        )
    path = db or Path("kura.duckdb")
    return MartsSource(db=path, label=path.name)
