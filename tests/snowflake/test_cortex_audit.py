"""The Cortex privacy auditor (models/cortex/int_kura__privacy_audit.sql) against the answer
Snowflake documents for AI_COMPLETE with a response_format (tests/fixtures/cortex/
ai_complete_structured.json, its sources cited there), on a fakesnow server: the stand-in
returns that shape with PrivacyScore's fields, so a parser that reads the wrong field writes
no score and this fails. A rerun sends nothing; a new text is the only one sent.

What only a real account shows: that a Cortex model follows CLIO's rubric (the scores
themselves), and that AI_COMPLETE accepts PrivacyScore's schema as a response_format."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("dbt.adapters.snowflake", reason="the snowflake extra is not installed")

from .conftest import REPO, dbt
from .test_cortex_answers import _project, _rows

USAGE = json.loads(
    (REPO / "tests" / "fixtures" / "cortex" / "ai_complete_structured.json").read_text()
)["answer"]["usage"]
AUDIT = "kura_kura_private.int_kura__privacy_audit"
HIERARCHY = "kura_kura_private.kura__cluster_hierarchy"


def _hierarchy(server: dict[str, Any], database: str, rows: list[tuple[str, str]]) -> None:
    """The cluster names the audit reads (the Python state models do not run on fakesnow)."""
    import snowflake.connector

    with snowflake.connector.connect(**server, database=database, schema="KURA") as connection:
        cursor = connection.cursor()
        cursor.execute("create schema if not exists kura_kura_private")
        cursor.execute(
            f"create or replace table {HIERARCHY} "
            "(cluster_id varchar, name varchar, description varchar, keywords varchar)"
        )
        for cluster_id, name in rows:
            cursor.execute(
                f"insert into {HIERARCHY} values (%s, %s, null, null)", (cluster_id, name)
            )


def _audit(project, *extra: str) -> tuple[bool, str]:
    return dbt(
        project,
        "run",
        "--select",
        "+kura__summaries",
        "int_kura__privacy_texts",
        "int_kura__privacy_audit",
        "--vars",
        json.dumps({"kura__auditor": "cortex", "kura__llm_max_calls": None}),
        *extra,
    )


def test_the_cortex_auditor_scores_each_text_once_from_the_documented_answer(
    tmp_path, fakesnow_server, sample_seeds
):
    database = "KURA_AUDIT"
    project = _project(tmp_path, sample_seeds, database)
    _hierarchy(fakesnow_server, database, [("L0-0000", "Write to kelly.moore@example.org")])
    _audit(project)
    texts, scored, private, tokens, auditor = _rows(
        fakesnow_server,
        database,
        f"select count(*), count(score), sum(case when score = 1 then 1 else 0 end), "
        f"max(prompt_tokens), max(auditor) from {AUDIT}",
    )[0]
    distinct = _rows(
        fakesnow_server,
        database,
        "select count(distinct text_hash) from kura_kura_private.int_kura__privacy_texts",
    )[0][0]
    assert texts == scored == distinct and texts > 500  # summaries, requests, tasks, the name
    assert private >= 1 and auditor == "cortex"
    assert tokens == USAGE["prompt_tokens"]  # read from `usage`, as documented
    first = _rows(fakesnow_server, database, f"select max(audited_at) from {AUDIT}")[0][0]

    # a rerun sends nothing; a new name is the only text sent
    _hierarchy(
        fakesnow_server,
        database,
        [("L0-0000", "Write to kelly.moore@example.org"), ("L0-0001", "Plan bus trips")],
    )
    _audit(project)
    new = _rows(
        fakesnow_server,
        database,
        f"select count(*) from {AUDIT} where audited_at > '{first}'",
    )[0][0]
    assert new == 1
