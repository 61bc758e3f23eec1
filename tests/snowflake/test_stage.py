"""`kura stage`: the zip the Snowflake procedures import, and its upload (PUT) to the target's
fully qualified stage on a fakesnow server."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
import yaml
from typer.testing import CliRunner

from kura_dbt import __version__
from kura_dbt.cli import app
from kura_dbt.snowflake_library import build_zip


def test_the_zip_imports_and_summarises_without_the_installed_package(tmp_path):
    archive = build_zip(tmp_path / "kura_dbt.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "kura_dbt/__init__.py" in names and "kura_dbt/pipeline.py" in names
    assert any(n.startswith("kura_dbt/summaries/data/") for n in names)
    assert not any("__pycache__" in n for n in names)
    # the role map is a link to the dbt macro in the repository: the zip holds its text
    rules = zipfile.ZipFile(archive).read("kura_dbt/loaders/message_rules.sql").decode()
    assert "role_aliases" in rules
    assert build_zip(tmp_path / "again" / "kura_dbt.zip").read_bytes() == archive.read_bytes()
    # imported from the zip as a stored procedure does (the zip first on sys.path)
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); import kura_dbt, kura_dbt.pipeline; "
        "assert kura_dbt.__file__.startswith(sys.path[0]), kura_dbt.__file__; "
        "from kura_dbt.settings import Settings; from kura_dbt.summaries import SUMMARISERS, "
        "Message; s = SUMMARISERS.build('local', Settings()); "
        "r = s.summarise_many([('c', [Message(role='user', content='How do I bake bread?')])]); "
        "print(kura_dbt.__version__, r[0].request)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == __version__ and "bread" in done.stdout


def test_vendoring_takes_pure_python_and_refuses_compiled_code(tmp_path):
    archive = build_zip(tmp_path / "kura_dbt.zip", vendor=["tabulate"])
    assert any(n.startswith("tabulate") for n in zipfile.ZipFile(archive).namelist())
    with pytest.raises(ValueError, match="compiled code.*kura__snowflake_packages"):
        build_zip(tmp_path / "other.zip", vendor=["duckdb"])


def test_kura_stage_uploads_to_the_profiles_snowflake_target(tmp_path, fakesnow_server):
    import snowflake.connector

    server = fakesnow_server
    output = {k: server[k] for k in ("host", "port", "protocol", "account", "user")}
    output.update(type="snowflake", password="snow", database="STAGE_DB", schema="KURA")
    profiles = {"kura": {"target": "dev", "outputs": {"dev": output}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profiles))
    # the target's schema does not exist yet (a first build makes it): the command creates it
    result = CliRunner().invoke(app, ["stage", "--profiles-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "uploaded @STAGE_DB.KURA.kura_stage/kura_dbt.zip" in result.output
    with snowflake.connector.connect(**server, database="STAGE_DB") as con:
        listed = con.cursor().execute("list @STAGE_DB.KURA.kura_stage").fetchall()
    assert [row[0] for row in listed] == ["kura_stage/kura_dbt.zip"]
    refused = CliRunner().invoke(
        app, ["stage", "--profiles-dir", str(tmp_path), "--stage", "@kura_stage"]
    )
    assert refused.exit_code == 2 and "fully qualified stage" in refused.output
