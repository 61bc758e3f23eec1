"""The library the dbt package carries for Snowflake (snowflake/kura_dbt.zip) and the dbt
operation that stages it (`dbt run-operation kura_stage_library`, what a dbt Cloud job runs),
against a fakesnow server: a fully qualified stage in the target's schema, the statements
`kura stage` runs, and procedures whose IMPORTS name that stage in any schema."""

from __future__ import annotations

import zipfile

import pytest

pytest.importorskip("dbt.adapters.snowflake", reason="the snowflake extra is not installed")

from kura_dbt.snowflake_library import (
    PACKAGE_ZIP,
    StageLocation,
    library_files,
    stage_location,
    stage_statements,
)

from .conftest import DUMMY_PROFILE, REPO, dbt, write_project
from .test_dbt_snowflake import procedure, python_nodes
from .test_smoke_script import smoke

PULL_REQUEST_SCHEMA = "dbt_cloud_pr_1234_56"  # the schema a dbt Cloud CI job builds in


def test_the_package_carries_this_library():
    """The zip in the package is the library as it is now: regenerate it with
    `make snowflake-zip` after changing src/kura_dbt."""
    carried = zipfile.ZipFile(REPO / PACKAGE_ZIP)
    contents = {name: carried.read(name) for name in carried.namelist()}
    library = library_files()
    stale = sorted(n for n in library.keys() | contents.keys() if library.get(n) != contents.get(n))
    assert not stale, f"{PACKAGE_ZIP} differs from src/kura_dbt in {stale[:10]}: make snowflake-zip"


def test_the_stage_is_always_fully_qualified():
    assert stage_location(None, "ANALYTICS", "DBT_ANNA").imports == (
        "@ANALYTICS.DBT_ANNA.kura_stage/kura_dbt.zip"
    )
    assert stage_location("@shared.kura.lib", "A", "B") == StageLocation("shared", "kura", "lib")
    for bad in ("@kura_stage", "@kura.kura_stage", "@db.sch.st/path", "@~"):
        with pytest.raises(ValueError, match="fully qualified stage"):
            stage_location(bad, "A", "B")


def _profile(server: dict, schema: str) -> dict:
    profile = {k: server[k] for k in ("host", "port", "protocol", "account", "user", "password")}
    return {**profile, "database": "KURA_DB", "schema": schema, "warehouse": "KURA_WH"}


def test_the_operation_stages_the_carried_zip_in_a_pull_request_schema(
    tmp_path, fakesnow_server, monkeypatch
):
    """`dbt run-operation kura_stage_library` in the project's directory (as dbt Cloud runs it):
    it creates the pull-request schema and its stage, PUTs the zip dbt deps installed, and runs
    exactly the statements of kura_dbt.snowflake_library that `kura stage` runs."""
    import snowflake.connector

    project = write_project(tmp_path / "ci", _profile(fakesnow_server, PULL_REQUEST_SCHEMA))
    monkeypatch.chdir(project)  # PUT reads file:// paths relative to where dbt runs
    dbt(project, "deps", "--quiet")
    location = StageLocation("KURA_DB", PULL_REQUEST_SCHEMA)
    expected = stage_statements(location, f"dbt_packages/kura/{PACKAGE_ZIP}", create_schema=True)
    logged = "[JinjaLogInfo] kura_stage_library: "
    for args in (["--args", "{dry_run: true}"], []):  # a dry run prints what the run runs
        _, output = dbt(project, "run-operation", "kura_stage_library", *args)
        ran = [line.removeprefix(logged) for line in output.splitlines() if line.startswith(logged)]
        assert ran == expected
    with snowflake.connector.connect(**fakesnow_server, database="KURA_DB") as con:
        listed = con.cursor().execute(f"list {location.stage}").fetchall()
    assert [row[0] for row in listed] == ["kura_stage/kura_dbt.zip"]
    # a stage that is not fully qualified is refused
    ok, output = dbt(
        project,
        "run-operation",
        "kura_stage_library",
        "--vars",
        "{kura__snowflake_stage: '@kura_stage'}",
        expect_success=False,
    )
    assert not ok and "name a fully qualified stage, @<database>.<schema>.<stage>" in output


def test_procedures_import_the_fully_qualified_stage_of_any_schema(tmp_path):
    """A pull-request schema imports its own stage, the one the operation fills (a developer's
    schema likewise: test_dbt_snowflake's runtime test); var kura__snowflake_stage points every
    schema at one shared stage. The smoke script's procedure check passes on what dbt-snowflake
    submits, and fails on another runtime or a failed run."""
    for stage_var, stage in (
        (None, f"KURA_DB.{PULL_REQUEST_SCHEMA}.kura_stage"),
        ("@SHARED.KURA.LIB", "SHARED.KURA.LIB"),
    ):
        vars = {"kura__snowflake_stage": stage_var} if stage_var else {}
        project = write_project(
            tmp_path / str(bool(stage_var)), {**DUMMY_PROFILE, "schema": PULL_REQUEST_SCHEMA}, vars
        )
        dbt(project, "deps", "--quiet")
        dbt(project, "parse", "--no-partial-parse")
        sent = {n: procedure(node, node["raw_code"]) for n, node in python_nodes(project).items()}
        for name, sql in sent.items():
            assert f"IMPORTS = ('@{stage}/kura_dbt.zip')" in sql, (name, sql[:600])
        answers = [(sent[m], "SUCCESS") for m in smoke.PROCEDURES]
        assert all(x.startswith("ok    procedure ") for x in smoke.check_procedures(stage, answers))
    old_runtime = [(text.replace("'3.11'", "'3.10'"), status) for text, status in answers]
    assert smoke.check_procedures(stage, old_runtime)[0].startswith("FAIL")
    failed = smoke.check_procedures(stage, [(answers[0][0], "FAILED")])
    assert failed[0].endswith("failed") and "not in the query history" in failed[1]
