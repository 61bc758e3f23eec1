"""`kura estimate` counts what models/cortex/kura__summaries.sql will send (`kura__summariser:
cortex`, or `auto` on a Snowflake target): the conversations its own incremental rule picks
(new, changed, another backend, model or prompt version, failed and not parked), one
AI_COMPLETE call for each with text, and the prompt it builds (the summariser's instructions and
the transcript, cut as the model cuts a long one). Before, the estimate said 0 calls on Snowflake
(it resolved `auto` to the local summariser) and stopped with a traceback for `cortex`."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
from typer.testing import CliRunner

from kura_dbt.llm import approx_tokens
from kura_dbt.summaries.cortex import CortexSummaries, schema_tokens, summary_request

from .test_estimate_cluster_texts import _write
from .test_failures import _transcripts

PRICED = {"kura__llm_input_cost_per_mtok": 1.0, "kura__llm_output_cost_per_mtok": 2.0}
LONG = "Please read this log. " * 3_000  # 66,000 characters: over 8,000 tokens
TEXTS = {"a": "Where is my bus?", "b": "Renew a passport.", "c": LONG, "d": "", "e": "Tax help."}


def _db(tmp_path, summarised_by: dict[str, str]):
    """int_kura__transcripts as the model builds it (its `transcript`: "role: content" turns)
    and a kura__summaries state with rows written by ``summarised_by`` (id -> backend)."""
    transcripts = _transcripts(TEXTS)
    transcripts["transcript"] = [
        "\n\n".join(f"{m['role']}: {m['content']}" for m in json.loads(j))
        for j in transcripts["messages_json"]
    ]
    cortex = CortexSummaries("llama3.1-70b", None)
    rows = []
    for cid, backend in summarised_by.items():
        content = transcripts.loc[transcripts["conversation_id"] == cid, "content_hash"].item()
        version = cortex.prompt_version if backend == "cortex" else "local-v4"
        model = "llama3.1-70b" if backend == "cortex" else "kura-local-extractive"
        rows.append(
            (cid, content, "A summary.", "A request.", backend, model, version, None, 150, 1)
        )
    columns = [
        "conversation_id",
        "content_hash",
        "summary",
        "request",
        "summariser",
        "model",
        "prompt_version",
        "error",
        "completion_tokens",
        "llm_calls",
    ]
    state = pd.DataFrame(rows, columns=columns)
    db = tmp_path / "kura.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema main_kura_private")
    _write(db, int_kura__transcripts=transcripts, kura__summaries=state)
    return db, transcripts


def _estimate(db, variables: dict) -> dict:
    from kura_dbt.cli import app

    argv = ["estimate", "--db", str(db), "--json", "--vars", json.dumps(variables)]
    run = CliRunner().invoke(app, argv)
    assert run.exit_code == 0, run.output
    return json.loads(run.output)


def test_the_cortex_summaries_calls_and_prompt_tokens(tmp_path):
    """a: summarised by Cortex with this model and prompt (not sent again); b: by the local
    summariser (sent: another backend); c, d, e new, d without text (no call). c's transcript
    is cut to kura__llm_max_transcript_tokens as the model cuts it."""
    db, transcripts = _db(tmp_path, {"a": "cortex", "b": "local"})
    out = _estimate(db, {"kura__summariser": "cortex", **PRICED})
    assert (out["summariser"], out["model"]) == ("cortex", "llama3.1-70b")
    assert out["by_reason"] == {"new": 3, "other model or prompt version": 1}
    assert out["conversations"] == 4 and out["calls"] == 3  # b, c, e; d has no text
    request = summary_request()
    instructions = approx_tokens(request["system_prompt"] + "\n\n<transcript>\n\n</transcript>")
    instructions += schema_tokens(request)  # the answer's schema, counted as input
    by_id = dict(zip(transcripts["conversation_id"], transcripts["transcript"], strict=True))
    short = sum(approx_tokens(by_id[c]) for c in "be")
    cut = out["prompt_tokens"] - 3 * instructions - short
    assert 7_990 <= cut <= 8_000 < approx_tokens(LONG)  # c, cut to 8,000 tokens
    assert out["completion_per_call"] == 150.0  # the Cortex summaries stored before
    assert out["cost_usd"] > 0
    assert (
        _estimate(db, {"kura__summariser": "cortex", "kura__cortex_model": "mistral-large2"})[
            "calls"
        ]
        == 4
    )  # another model: a is sent again too


def test_auto_is_cortex_on_snowflake_and_local_elsewhere():
    from kura_dbt.commands.estimate import _summariser
    from kura_dbt.settings import Settings

    settings = Settings()
    assert isinstance(_summariser(settings, {}, snowflake=True), CortexSummaries)
    assert _summariser(settings, {}, snowflake=False).name == "local"
    assert _summariser(settings, {"kura__cortex_model": "x"}, snowflake=True).model == "x"


def test_a_pinned_taxonomys_cortex_classifier_is_named_as_not_estimated(tmp_path):
    """AI_CLASSIFY runs in SQL on each new text: the estimate says it leaves it out, rather
    than showing a total without it; in discovery mode there is no classifier to name."""
    from kura_dbt.cli import app

    db, _ = _db(tmp_path, {})
    assert _estimate(db, {})["classifier"] is None
    pinned = {"kura__pinned_taxonomy": "kura_taxonomy", "kura__classifier": "cortex"}
    assert _estimate(db, pinned)["classifier"] == "cortex"
    shown = CliRunner().invoke(
        app, ["estimate", "--db", str(db), "--vars", json.dumps(pinned)], terminal_width=200
    )
    assert shown.exit_code == 0 and "AI_CLASSIFY" in shown.output
    assert "not estimated here" in shown.output
