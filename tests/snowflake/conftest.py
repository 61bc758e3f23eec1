"""Offline Snowflake tests: dbt against a Snowflake target with dummy credentials (parse,
compile), against a fakesnow server that the tests start (seeds, SQL models, data tests), and
the Python models on Snowpark's local testing. None of them reaches Snowflake; see
docs/SNOWFLAKE.md, "Checked against documentation only", for what only a real account shows
(scripts/snowflake_smoke.sh)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# the Python models in the order they run (each reads those before it), whose outputs the
# fakesnow build loads as fixtures
PYTHON_MODELS = [
    "kura__summaries",
    "kura__embeddings",
    "int_kura__cluster_state",
    "int_kura__map_points",
    "int_kura__classification_state",
    "int_kura__privacy_audit",  # off on Snowflake by default: the Cortex auditor replaces it
    "int_kura__privacy_relabels",  # likewise: the Cortex auditor's SQL model replaces it
]
assert set(PYTHON_MODELS) == {p.stem for p in (REPO / "python_models").glob("*.py")}


def write_project(folder: Path, profile: dict, vars: dict | None = None) -> Path:
    """A dbt project in ``folder`` that installs the package with ``local:`` (as a user's
    project would), turns the sample seeds on and persist_docs off (fakesnow answers HTTP 500
    to the ``comment on ... $$...$$`` statements it needs), and a profiles.yml."""
    folder.mkdir(parents=True, exist_ok=True)
    project = {
        "name": "kura_on_snowflake",
        "version": "0.1.0",
        "config-version": 2,
        "profile": "kura",
        "seeds": {"kura": {"+enabled": True}},
        "models": {"kura": {"+persist_docs": {"relation": False, "columns": False}}},
        "vars": {"kura__max_top_clusters": 6, **(vars or {})},
    }
    (folder / "dbt_project.yml").write_text(yaml.safe_dump(project))
    (folder / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(REPO)}]}))
    output = {"type": "snowflake", "threads": 1, "connect_retries": 0, **profile}
    profiles = {"kura": {"target": "snowflake", "outputs": {"snowflake": output}}}
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles))
    return folder


def dbt(project: Path, *args: str, expect_success: bool = True) -> tuple[bool, str]:
    """One dbt command in-process on ``project``; returns success and every log message."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    messages: list[str] = []

    def collect(event) -> None:
        messages.append(f"[{event.info.name}] {event.info.msg}")

    options = ["--project-dir", str(project), "--profiles-dir", str(project)]
    result = dbtRunner(callbacks=[collect]).invoke([*args, *options])
    output = "\n".join(messages)
    if result.exception is not None:
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    if expect_success and not result.success:
        failed = [m for m in messages if "ERROR" in m or "FAIL" in m or "Error" in m]
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n" + "\n".join(failed[:30]) + "\n" + output[-3000:]
        )
    return bool(result.success), output


DUMMY_PROFILE = {
    "account": "dummy_account",
    "user": "dummy",
    "password": "dummy",
    "warehouse": "dummy_wh",
    "database": "KURA_DB",
    "schema": "KURA",
    "role": "dummy_role",
}


@pytest.fixture(scope="session")
def fakesnow_server():
    """One fakesnow server for the session (fakesnow's ``server()`` can be called once per
    process: it imports its ``fakesnow.server`` module over itself). Yields the connection
    arguments; each test uses its own database."""
    fakesnow = pytest.importorskip("fakesnow")
    with fakesnow.server() as kwargs:
        yield kwargs


def server_profile(server: dict[str, Any], database: str) -> dict[str, Any]:
    """A profile output for ``database`` on the fakesnow server of ``server``'s arguments."""
    keys = ("host", "port", "protocol", "account", "user", "password")
    profile = {k: v for k, v in server.items() if k in keys}
    return profile | {"database": database, "schema": "KURA", "warehouse": "KURA_WH"}


SEEDS_DATABASE = "KURA_SEEDS"
SEEDS_SCHEMA = "KURA_kura_private"  # the seeds' schema: <target schema>_<kura__private_schema>


@pytest.fixture(scope="session")
def sample_seeds(fakesnow_server, tmp_path_factory) -> dict[str, Any]:
    """The package's sample seeds, loaded by `dbt seed` once per session into database
    KURA_SEEDS of the session's fakesnow server (the messages' 5,881 rows take fakesnow about
    20 s); a test that only reads them clones the tables into its own database
    (``clone_seeds``). Returns the server's connection arguments."""
    project = tmp_path_factory.mktemp("seeds") / "project"
    write_project(project, server_profile(fakesnow_server, SEEDS_DATABASE))
    dbt(project, "deps", "--quiet")
    dbt(project, "seed")
    return fakesnow_server


def clone_seeds(server: dict[str, Any], database: str) -> None:
    """The sample seeds of ``sample_seeds`` in ``database``, as `dbt seed` left them there
    (``create table ... clone``: the same columns, types and rows)."""
    import snowflake.connector

    with snowflake.connector.connect(**server) as connection:
        cursor = connection.cursor()
        cursor.execute(f"create database if not exists {database}")
        cursor.execute(f"create schema if not exists {database}.{SEEDS_SCHEMA}")
        for seed in sorted((REPO / "seeds").glob("*.csv")):
            cursor.execute(
                f"create or replace table {database}.{SEEDS_SCHEMA}.{seed.stem} "
                f"clone {SEEDS_DATABASE}.{SEEDS_SCHEMA}.{seed.stem}"
            )
