"""The Cortex SQL models against the answers Snowflake documents (tests/fixtures/cortex/), on a
fakesnow server: the stand-ins return each documented shape (var kura__cortex_stand_in_shape),
so a parser that reads the wrong field writes no summary and this fails. Then the failure
policy over several builds: per-row errors kept, attempts counted, rows parked after
kura__llm_max_attempts, a build in which every call failed fails with the first error.

What this does not prove (a real account only): that Snowflake answers exactly so, that the
named-argument call with return_error_details compiles, that a failing post-hook leaves the
merged rows committed, and how a VECTOR inside return_error_details' OBJECT reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("dbt.adapters.snowflake", reason="the snowflake extra is not installed")

from .conftest import REPO, clone_seeds, dbt, server_profile, write_project

FIXTURES = REPO / "tests" / "fixtures" / "cortex"
SUMMARY = json.loads((FIXTURES / "ai_complete_structured.json").read_text())
USAGE = SUMMARY["answer"]["usage"]
ERROR = json.loads((FIXTURES / "ai_complete_error_details_error.json").read_text())["answer"]
# 500 conversations in the sample; about a third fail with this predicate on the prompt
FAILING = "mod(length(input), 3) = 0"


def _project(tmp_path: Path, server: dict[str, Any], database: str, **vars: Any) -> Path:
    """A project on ``database`` with the sample seeds in it: ``server`` is the fixture
    ``sample_seeds`` (the seeds loaded once per session, cloned here)."""
    project = write_project(
        tmp_path / "project",
        server_profile(server, database),
        {"kura__cortex_stand_in": True, "kura__progress": False, **vars},
    )
    # incremental builds: fakesnow creates no temporary relations and cannot bind the merge
    # dbt-snowflake writes, so the rows go through a transient table, deleted and inserted
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["models"]["kura"]["+tmp_relation_type"] = "transient"
    config["models"]["kura"]["+incremental_strategy"] = "delete+insert"
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config))
    dbt(project, "deps", "--quiet")
    clone_seeds(server, database)
    return project


def _build(project: Path, *vars: dict[str, Any], expect_success: bool = True) -> tuple[bool, str]:
    extra = ["--vars", json.dumps({k: v for d in vars for k, v in d.items()})] if vars else []
    return dbt(
        project,
        "run",
        "--select",
        "+kura__summaries",
        *extra,
        expect_success=expect_success,
    )


def _rows(server: dict[str, Any], database: str, sql: str) -> list[tuple]:
    import snowflake.connector

    with snowflake.connector.connect(**server, database=database, schema="KURA") as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


SUMMARIES = "kura_kura_private.kura__summaries"


def test_every_documented_answer_shape_gives_summaries_and_usage(
    tmp_path, fakesnow_server, sample_seeds
):
    database = "KURA_SHAPES"
    project = _project(tmp_path, sample_seeds, database)
    # what kura.cortex_answer read before (choices[0].messages), with var old_parser
    (project / "macros").mkdir()
    (project / "macros" / "old_parser.sql").write_text(
        "{% macro default__cortex_answer(details) -%}\n"
        "{%- if var('old_parser', false) -%}\n"
        "    try_parse_json(to_varchar({{ details }}:choices[0]:messages))\n"
        "{%- else -%}{{ kura.default__cortex_answer(details) }}{%- endif -%}\n"
        "{%- endmacro %}\n"
    )
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["dispatch"] = [
        {"macro_namespace": "kura", "search_order": ["kura_on_snowflake", "kura"]}
    ]
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config))
    # one build per shape; a new model name makes each build summarise every conversation again
    for shape, model in [("structured", "m1"), ("text", "m2"), ("openai", "m3")]:
        # (AI_REDACT's stand-in on the way: a VARCHAR, as documented)
        _build(
            project,
            {"kura__cortex_stand_in_shape": shape, "kura__cortex_model": model},
            {"kura__cortex_redact": model == "m3"},
        )
        summarised, errors, prompt_tokens = _rows(
            fakesnow_server,
            database,
            f"select count(summary), count(error), max(prompt_tokens) from {SUMMARIES} "
            f"where turn_count > 0 and model = '{model}'",
        )[0]
        assert summarised > 400 and errors == 0, shape
        assert prompt_tokens == USAGE["prompt_tokens"], shape  # read from `usage`, as documented
    # the try form (an account without bundle 2026_02): a failed row is NULL, its error says so
    _build(
        project,
        {"kura__cortex_model": "m4", "kura__cortex_error_handling": "try"},
        {"kura__cortex_stand_in_failing": FAILING},
    )
    errors = _rows(
        fakesnow_server,
        database,
        f"select distinct error from {SUMMARIES} where model = 'm4' and error is not null",
    )
    assert errors == [("Cortex AI_COMPLETE returned no answer (NULL) for this conversation",)]

    # the structured answer has no `choices`: reading choices[0].messages, every call "fails"
    ok, output = _build(
        project, {"kura__cortex_model": "m5", "old_parser": True}, expect_success=False
    )
    assert not ok and "500 of 500 summaries attempted in this run failed" in output
    summarised, failed = _rows(
        fakesnow_server,
        database,
        f"select count(summary), count(error) from {SUMMARIES} where model = 'm5'",
    )[0]
    assert summarised == 0 and failed == 500


def test_failed_rows_are_counted_parked_and_not_sent_again(tmp_path, fakesnow_server, sample_seeds):
    database = "KURA_PARKING"
    project = _project(tmp_path, sample_seeds, database)
    failing = {"kura__cortex_stand_in_failing": FAILING}

    _build(project, failing)  # some rows fail: the build passes, the errors are kept
    state = "select attempts, gave_up, error from " + SUMMARIES + " where turn_count > 0"
    first = _rows(fakesnow_server, database, state)
    failed = [row for row in first if row[2] is not None]
    assert 50 < len(failed) < len(first)
    assert {row[2] for row in failed} == {ERROR["error"]}  # the documented error field
    assert {(row[0], row[1]) for row in first} == {(1, False)}

    for build in (2, 3):  # only the failed rows are sent again, until they are parked
        _build(project, failing)
        counts = _rows(
            fakesnow_server,
            database,
            f"select attempts, gave_up, count(*) from {SUMMARIES} where turn_count > 0 "
            "group by 1, 2 order by 1",
        )
        assert counts == [(1, False, len(first) - len(failed)), (build, build == 3, len(failed))]

    stamp = f"select max(summarised_at) from {SUMMARIES} where gave_up"
    parked_at = _rows(fakesnow_server, database, stamp)[0][0]
    _build(project, failing)  # parked: nothing is sent
    assert _rows(fakesnow_server, database, stamp)[0][0] == parked_at
    assert _rows(fakesnow_server, database, f"select max(attempts) from {SUMMARIES}")[0][0] == 3

    _build(project, {"kura__llm_retry_gave_up": True})  # the user asks: sent once more, now fine
    after = _rows(
        fakesnow_server,
        database,
        f"select count(*), max(attempts) from {SUMMARIES} where gave_up or error is not null",
    )[0]
    assert after == (0, None)
    assert _rows(fakesnow_server, database, f"select max(attempts) from {SUMMARIES}")[0][0] == 4

    # a new model, and every call fails: the build fails with the first error, after writing
    # the rows (their attempts count); a build that only retries them passes
    every = {"kura__cortex_stand_in_shape": "error", "kura__cortex_model": "broken"}
    ok, output = _build(project, every, expect_success=False)
    assert not ok
    assert "summaries attempted in this run failed (summariser cortex, model broken)" in output
    assert f"the first error: {ERROR['error']}" in output
    assert _rows(fakesnow_server, database, f"select max(attempts) from {SUMMARIES}")[0][0] == 1
    ok, output = _build(project, every, expect_success=False)
    assert ok, output[-2000:]
    assert _rows(fakesnow_server, database, f"select max(attempts) from {SUMMARIES}")[0][0] == 2


def test_embeddings_keep_each_failed_text_and_send_only_those_again(
    tmp_path, fakesnow_server, sample_seeds
):
    """AI_EMBED with return_error_details (bundle 2026_06): {value, error} per text."""
    database = "KURA_EMBED"
    project = _project(tmp_path, sample_seeds, database)
    embed = {
        "kura__cortex_embed_error_details": True,
        "kura__cortex_stand_in_failing": "substr(md5(input), 1, 1) in ('0', '1', '2', '3')",
    }
    state = (
        "select attempts, gave_up, error is null, embedding is null, count(*) "
        "from kura_kura_private.kura__embeddings group by 1, 2, 3, 4 order by 1, 3"
    )
    for build in (1, 2):
        dbt(project, "run", "--select", "+kura__embeddings", "--vars", json.dumps(embed))
        rows = _rows(fakesnow_server, database, state)
        assert {row[:4] for row in rows} == {(1, False, True, False), (build, False, False, True)}
    error = _rows(
        fakesnow_server,
        database,
        "select distinct error from kura_kura_private.kura__embeddings where error is not null",
    )
    assert error == [(ERROR["error"],)]
