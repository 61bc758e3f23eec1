"""dbt on a Snowflake target, offline: `dbt parse` with dummy credentials, and a build against a
fakesnow server started here (the seeds, which `dbt seed` loads once per session on that server
(fixture sample_seeds), every SQL model and the data tests; the Python models' outputs computed
by their own code and loaded as fixtures, since fakesnow runs no stored procedure). Cortex
functions are replaced by the package's deterministic stand-ins (var kura__cortex_stand_in) on
this target only."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml

pytest.importorskip("dbt.adapters.snowflake", reason="the snowflake extra is not installed")

from .conftest import DUMMY_PROFILE, PYTHON_MODELS, REPO, clone_seeds, dbt, write_project

SECRET_VARS = {
    "kura__snowflake_external_access_integration": "openai_access",
    "kura__snowflake_secret": "kura_db.kura.openai_key",
}


def procedure(node: dict[str, Any], code: str) -> str:
    """The stored procedure dbt-snowflake submits for a Python model (its own code path)."""
    from dbt.adapters.snowflake.impl import SnowflakeAdapter

    sent: list[str] = []
    adapter = SimpleNamespace(
        config=SimpleNamespace(args=SimpleNamespace(SEND_ANONYMOUS_USAGE_STATS=False)),
        execute=lambda sql, **_: (sent.append(sql), None),
    )
    SnowflakeAdapter.submit_python_job(adapter, json.loads(json.dumps(node)), code)
    return sent[0]


def python_nodes(project: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    return {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n.get("language") == "python"
    }


def test_parse_on_snowflake_emits_no_custom_config_and_procedures_import_the_library(tmp_path):
    project = write_project(tmp_path / "project", DUMMY_PROFILE, SECRET_VARS)
    dbt(project, "deps", "--quiet")
    _, output = dbt(project, "parse", "--no-partial-parse", "--show-all-deprecations")
    assert "CustomKeyInConfigDeprecation" not in output
    assert "Deprecat" not in output, output
    nodes = python_nodes(project)
    assert {"int_kura__cluster_state", "int_kura__map_points"} <= set(nodes)
    for name, node in nodes.items():
        assert node["config"]["meta"]["kura_version"] == __import__("kura_dbt").__version__
        sql = procedure(node, node["raw_code"])
        assert "IMPORTS = ('@KURA_DB.KURA.kura_stage/kura_dbt.zip')" in sql, name
        assert "EXTERNAL_ACCESS_INTEGRATIONS = (openai_access)" in sql, name
        assert "SECRETS = ('kura_llm_api_key' = kura_db.kura.openai_key)" in sql, name


def test_without_llm_vars_the_procedures_ask_for_no_network(tmp_path):
    project = write_project(tmp_path / "project", DUMMY_PROFILE)
    dbt(project, "deps", "--quiet")
    dbt(project, "parse", "--no-partial-parse")
    for name, node in python_nodes(project).items():
        sql = procedure(node, node["raw_code"])
        assert "EXTERNAL_ACCESS_INTEGRATIONS" not in sql and "SECRETS" not in sql, name


def test_procedures_run_python_3_11_with_the_channel_packages_and_the_staged_library(tmp_path):
    """The procedure dbt-snowflake submits for every Python model, made by its own code: the
    runtime pinned to 3.11 (dbt-snowflake's default when a model sets no python_version is 3.10
    in 1.11, 3.9 before: constants.DEFAULT_PYTHON_VERSION_FOR_PYTHON_MODELS), the packages of
    var kura__snowflake_packages plus snowflake-snowpark-python, and the library imported from
    the target's fully qualified stage; the handler reads the package's expected version."""
    project = write_project(tmp_path / "project", DUMMY_PROFILE)
    dbt(project, "deps", "--quiet")
    dbt(project, "parse", "--no-partial-parse")
    wanted = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    wanted = {*wanted["kura__snowflake_packages"], "snowflake-snowpark-python"}
    nodes = python_nodes(project)
    assert set(nodes) >= {"int_kura__cluster_state", "int_kura__map_points"}
    for name, node in nodes.items():
        sql = procedure(node, node["raw_code"])
        assert "\nRUNTIME_VERSION = '3.11'\n" in sql, name
        packages = sql.split("PACKAGES = ('", 1)[1].split("')", 1)[0].split("', '")
        assert set(packages) == wanted, name
        imports = sql.split("IMPORTS = (", 1)[1].split(")", 1)[0]
        assert imports == "'@KURA_DB.KURA.kura_stage/kura_dbt.zip'", name
        assert "HANDLER = 'main'" in sql and "settings_of(" in sql, name


# ---------------------------------------------------------------------------- fakesnow


def connect(server: dict[str, Any]) -> Any:
    import snowflake.connector

    return snowflake.connector.connect(**server, database="KURA_DB", schema="KURA")


def run_python_models(project: Path, server: dict[str, Any], names: list[str]) -> dict[str, int]:
    """Each Python model's own ``model(dbt, session)`` on DuckDB, its inputs read from the
    fakesnow build; its output written to fakesnow with upper-case columns, where the SQL
    models downstream read it. Returns the rows written per model."""
    nodes = python_nodes(project)
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    relations = {
        n["name"]: n["relation_name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "seed")
    }
    connection = connect(server)
    computed: dict[str, pd.DataFrame] = {}

    def ref(name: str) -> pd.DataFrame:
        if name in computed:
            return computed[name]
        cursor = connection.cursor()
        try:
            cursor.execute(f"select * from {relations[name]}")
        except Exception:  # noqa: BLE001 - fakesnow cannot return a DOUBLE[] column
            cursor.execute(
                "select * exclude (embedding), to_json(embedding) as embedding "
                f"from {relations[name]}"
            )
        frame = pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])
        if "EMBEDDING" in frame:  # an ARRAY comes back as JSON text
            frame["EMBEDDING"] = [
                json.loads(v) if isinstance(v, str) else v for v in frame["EMBEDDING"]
            ]
        return frame

    session = duckdb.connect()
    try:
        for name in names:
            path = REPO / "python_models" / f"{name}.py"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            fake = SimpleNamespace(
                ref=ref,
                config=_Config(nodes[name]["config"]),
                this=SimpleNamespace(identifier=name),
                is_incremental=False,
            )
            computed[name] = module.model(fake, session)
            write_table(connection, nodes[name]["relation_name"], computed[name])
    finally:
        session.close()
        connection.close()
    return {name: len(frame) for name, frame in computed.items()}


def write_table(connection: Any, relation: str, frame: pd.DataFrame) -> None:
    """``frame`` as a table with upper-case unquoted columns (as frames.to_output writes on
    Snowflake); lists as JSON text (fakesnow cannot return DOUBLE[]; no SQL model reads them)."""
    kinds = []
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds.append("boolean")
        elif pd.api.types.is_integer_dtype(dtype):
            kinds.append("bigint")
        elif pd.api.types.is_float_dtype(dtype):
            kinds.append("double")
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kinds.append("timestamp_ntz")
        else:
            kinds.append("varchar")
    columns = ", ".join(f"{c.upper()} {k}" for c, k in zip(frame.columns, kinds, strict=True))
    cursor = connection.cursor()
    cursor.execute(f"create or replace table {relation} ({columns})")
    rows = [tuple(_value(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    if rows:
        marks = ", ".join(["%s"] * len(frame.columns))
        cursor.executemany(f"insert into {relation} values ({marks})", rows)


def _value(value: Any) -> Any:
    if isinstance(value, list | tuple) or hasattr(value, "tolist") and not hasattr(value, "item"):
        return json.dumps([float(x) for x in value])
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().isoformat(sep=" ")
    return value.item() if hasattr(value, "item") else value


class _Config:
    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def __call__(self, **kwargs: Any) -> None:
        pass

    def get(self, key: str, default: Any = None) -> Any:
        return self._config.get(key, default)


def test_sql_models_and_data_tests_build_on_fakesnow(tmp_path, fakesnow_server, sample_seeds):
    profile = {
        k: v
        for k, v in fakesnow_server.items()
        if k in ("host", "port", "protocol", "account", "user", "password")
    }
    profile.update(database="KURA_DB", schema="KURA", warehouse="KURA_WH")
    # a first build: drop what other tests on the shared server built in these schemas
    with connect(fakesnow_server) as connection:
        for schema in ("KURA_kura_private", "KURA"):
            connection.cursor().execute(f"drop schema if exists KURA_DB.{schema} cascade")
        connection.cursor().execute("create schema if not exists KURA_DB.KURA")
    # the sample seeds as the session's `dbt seed` loaded them on this server (sample_seeds)
    clone_seeds(sample_seeds, "KURA_DB")
    project = write_project(
        tmp_path / "project",
        profile,
        {"kura__cortex_stand_in": True, "kura__projector": "pca", "kura__progress": False},
    )
    dbt(project, "deps", "--quiet")
    dbt(project, "parse")
    names = [n for n in PYTHON_MODELS if n in python_nodes(project)]
    # int_kura__privacy_relabels reads the audit of the clusters' names: it runs after them
    last = [n for n in names if n == "int_kura__privacy_relabels"]
    first = [n for n in names if n not in last]
    upstream = [f"+{n}" for n in names]
    # the SQL (and any Cortex stand-in) the Python models read, with its data tests
    for group in (first, last):
        if not group:
            continue
        built = [f"+{n}" for n in first] if group == last else []  # built the first time
        dbt(
            project,
            "build",
            "--select",
            *[f"+{n}" for n in group],
            "--exclude",
            *names,
            *built,
            "--exclude-resource-type",
            "seed",
            "--indirect-selection",
            "cautious",
        )
        written = run_python_models(project, fakesnow_server, group)
        if group == first:
            counted = written
    written = counted
    assert written["int_kura__cluster_state"] > 500
    # everything downstream, with its data tests, then the Python models' own data tests
    _, output = dbt(
        project, "build", "--exclude", *upstream, "--exclude-resource-type", "unit_test"
    )
    assert "ERROR=0" in output and "kura__alerts" in output and "kura__cluster_weekly" in output
    assert "kura__cluster_facets" in output
    dbt(project, "test", "--select", *names)
    with connect(fakesnow_server) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "select count(*), count(distinct cluster_id) from kura__conversation_clusters"
        )
        conversations, clusters = cursor.fetchone()
        cursor.execute("select count(*) from kura__clusters where parent_id is null")
        (top,) = cursor.fetchone()
        _check_facets(cursor)
    assert conversations == 500 and clusters > 6 and top == 6
    # the Python models' procedures, from their compiled code
    dbt(project, "compile", "--select", *names)
    for name in names:
        node = python_nodes(project)[name]
        compiled = next((project / "target" / "compiled").rglob(f"{name}.py")).read_text()
        sql = procedure(node, compiled)
        assert "IMPORTS = ('@KURA_DB.KURA.kura_stage/kura_dbt.zip')" in sql
        assert "RUNTIME_VERSION = '3.11'" in sql and "PACKAGES = (" in sql
        assert 'frames.settings_of(dbt.config.get("meta"))' in sql
        assert "'kura_version': '" in sql  # the handshake travels in the procedure


def _check_facets(cursor: Any) -> None:
    """The facets mart (its data tests, kura_cluster_facets_counted and the privacy one, ran in
    the build): the Snowflake macros flatten the languages, date the weeks and compute the
    p-values."""
    cursor.execute(
        "select count(distinct facet), count(distinct case when facet = 'week' "
        "then facet_value end), min(p_value), max(p_value), count(lift) "
        "from kura__cluster_facets"
    )
    facets, weeks, p_min, p_max, lifts = cursor.fetchone()
    cursor.execute(
        "select facet_value from kura__cluster_facets where facet = 'language' "
        "and facet_value != 'unknown' limit 1"
    )
    (language,) = cursor.fetchone()
    cursor.execute(
        "select distinct facet_value from kura__cluster_facets "
        "where facet = 'week' and facet_value is not null"
    )
    week_values = [str(v) for (v,) in cursor.fetchall()]
    assert facets == 8 and 0 <= p_min <= p_max <= 1 and lifts > 0
    # the weeks are the Mondays the sample's ten weeks start on; a week shows where one of its
    # cells meets the privacy thresholds, so how many depends on the clusters
    assert 2 <= weeks == len(week_values) <= 10
    assert all(date.fromisoformat(v[:10]).weekday() == 0 for v in week_values)
    assert language == language.strip('"') and language  # an element, not JSON text
