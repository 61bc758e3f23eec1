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


def _audit(project, *models: str) -> tuple[bool, str]:
    """The summaries, the texts they show and their audit by Cortex (then ``models``)."""
    return dbt(
        project,
        "run",
        "--select",
        "+kura__summaries",
        "int_kura__privacy_texts",
        "int_kura__privacy_audit",
        *models,
        "--vars",
        json.dumps({"kura__auditor": "cortex", "kura__llm_max_calls": None}),
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


RELABELS = "kura_kura_private.int_kura__privacy_relabels"


def test_a_withheld_cluster_name_is_made_again_by_ai_redact_and_scored_by_cortex(
    tmp_path, fakesnow_server, sample_seeds
):
    """models/cortex/int_kura__privacy_relabels.sql: the withheld name goes through AI_REDACT
    (the stand-in replaces an e-mail address with [EMAIL], the placeholder Snowflake documents:
    tests/fixtures/cortex/ai_redact.json) and the new text through AI_COMPLETE with the audit's
    prompt; a name AI_REDACT leaves as it is stays withheld without a call; a rerun sends
    nothing. What only a real account shows: what AI_REDACT finds in a cluster name."""
    database = "KURA_RELABEL"
    project = _project(tmp_path, sample_seeds, database)
    names = [
        ("L0-0000", "Write to kelly.moore@example.org"),
        ("L0-0001", "Mail ops@intranet"),  # no domain the stand-in reads: left as it is
        ("L0-0002", "Plan bus trips"),
    ]
    _hierarchy(fakesnow_server, database, names)
    _audit(project, "int_kura__privacy_relabels")
    query = (
        "select replacement, score, error, auditor, detector_version, prompt_tokens, llm_calls "
        f"from {RELABELS} order by llm_calls desc"
    )
    rows = _rows(fakesnow_server, database, query)
    assert rows == [
        ("Write to [EMAIL]", 5, None, "cortex", "ai_redact", USAGE["prompt_tokens"], 1),
        (None, None, None, "cortex", "ai_redact", None, 0),
    ]
    first = _rows(fakesnow_server, database, f"select max(relabelled_at) from {RELABELS}")[0][0]
    _audit(project, "int_kura__privacy_relabels")
    again = f"select count(*) from {RELABELS} where relabelled_at > '{first}'"
    assert _rows(fakesnow_server, database, again)[0][0] == 0
