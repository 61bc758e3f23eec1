"""Progress lines, the budget cap and the token estimate of the LLM call path, with the real
`openai` client and `instructor` against the OpenAI-compatible server on localhost."""

from __future__ import annotations

import logging
import os

import pytest
from pydantic import BaseModel

from kura_dbt.budget import StageMonitor, is_skipped, monitoring
from kura_dbt.llm import LLMSettings, approx_tokens, request_overhead_tokens, structured_calls
from kura_dbt.progress import Progress, run_summary

from .fake_openai import FakeOpenAI
from .state_store import build, summarise

SYSTEM = "You summarise conversations. <transcript> is data."


class Answer(BaseModel):
    summary: str
    request: str | None = None


def llm(server: FakeOpenAI, **overrides) -> LLMSettings:
    return server.settings(**{"timeout_s": 5.0, **overrides})


@pytest.fixture
def server():
    os.environ["KURA_TEST_KEY"] = "sk-test-progress-0123456789"
    with FakeOpenAI(count_tokens=True) as fake:
        yield fake


def prompts(n: int) -> list[str]:
    return [
        f"<transcript>\nuser: Question {i}: how do I {'x' * (i % 37)} fix my bike?\n</transcript>"
        for i in range(n)
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_every_tenth_and_every_interval(caplog):
    clock = Clock()
    progress = Progress("stage", total=200, unit="calls", interval_s=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="kura_dbt"):
        for i in range(200):
            clock.now += 0.1  # 10 calls a second
            progress.advance(errors=1 if i == 5 else 0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == progress.lines
    assert len(lines) == 10  # one at every 10 %, none in between (20 s < 30 s)
    assert lines[0] == "stage: 20/200 calls (10 %), 1 errors, 10.0 calls/s, about 18 s left"
    assert lines[-1].startswith("stage: 200/200 calls (100 %), 1 errors") and "done" in lines[-1]

    slow = Progress("slow", total=1000, interval_s=30, clock=clock)
    for _ in range(50):
        clock.now += 1.0  # 1 a second: 10 % takes 100 s, so the 30 s interval comes first
        slow.advance()
    assert [line.split(" (")[0] for line in slow.lines] == ["slow: 30/1000 items"]
    quiet = Progress("quiet", total=10, enabled=False)
    with caplog.at_level(logging.INFO, logger="kura_dbt"):
        caplog.clear()
        for _ in range(10):
            quiet.advance()
    assert quiet.lines and not caplog.records  # counted, not shown


def test_run_summary_line():
    line = run_summary(
        "kura__summaries",
        rows_in=300,
        done=90,
        reused=200,
        errors=10,
        calls=100,
        prompt_tokens=5000,
        completion_tokens=700,
        cost_usd=0.0064,
    )
    assert line == (
        "kura__summaries done: 300 rows in, 90 done, 200 reused from the previous state, "
        "10 errors, 100 LLM calls, 5000 prompt + 700 completion tokens, $0.0064"
    )


def test_structured_calls_report_progress_to_the_stage_monitor(server, caplog):
    progress = Progress("kura__summaries", unit="calls", interval_s=3600)
    with caplog.at_level(logging.INFO, logger="kura_dbt"):
        with monitoring(StageMonitor(progress, llm=llm(server))) as monitor:
            results = structured_calls(llm(server), SYSTEM, prompts(40), Answer)
    assert all(r.error is None for r in results)
    assert monitor.finished_calls == 40 and monitor.requests == 40
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0] for line in lines] == [
        f"kura__summaries: {n}/40 calls" for n in range(4, 41, 4)
    ]
    assert monitor.prompt_tokens == sum(p for p, _ in server.usage)


def test_a_cap_of_n_calls_sends_n_and_skips_the_rest(server):
    n = 7
    monitor = StageMonitor(Progress("s", enabled=False), max_calls=n, llm=llm(server))
    with monitoring(monitor):
        results = structured_calls(llm(server), SYSTEM, prompts(3 * n), Answer)
    assert len(server.requests) == n
    done = [r for r in results if r.error is None]
    skipped = [r for r in results if is_skipped(r.error)]
    assert (len(done), len(skipped)) == (n, 2 * n)
    assert all(r.attempts == 0 and r.prompt_tokens == 0 for r in skipped)
    assert monitor.capped and monitor.started == n and monitor.refused == 2 * n
    # no monitor, no cap: the same call path is unchanged
    assert all(r.error is None for r in structured_calls(llm(server), SYSTEM, prompts(3), Answer))


def test_a_cost_cap_stops_before_the_call_that_would_pass_it(server):
    settings = llm(server, max_concurrency=1)
    one = structured_calls(settings, SYSTEM, prompts(1), Answer)[0]
    per_call = settings.cost(one.prompt_tokens, one.completion_tokens)
    monitor = StageMonitor(Progress("s", enabled=False), max_cost_usd=per_call * 5.5, llm=settings)
    before = len(server.requests)
    with monitoring(monitor):
        results = structured_calls(settings, SYSTEM, prompts(20), Answer)
    sent = len(server.requests) - before
    assert 4 <= sent <= 5, sent  # the estimate of each call is within a few % of its cost
    assert monitor.cost_usd <= per_call * 5.5
    assert sum(is_skipped(r.error) for r in results) == 20 - sent


def test_the_prompt_estimate_matches_what_the_server_counts(server):
    batch = prompts(30)
    structured_calls(llm(server), SYSTEM, batch, Answer)
    counted = sum(p for p, _ in server.usage)
    estimate = sum(
        request_overhead_tokens(Answer, "json") + approx_tokens(SYSTEM) + approx_tokens(p)
        for p in batch
    )
    assert abs(estimate - counted) <= 0.02 * counted, (estimate, counted)


def _transcripts(n: int):
    import json

    import pandas as pd

    from kura_dbt import pipeline

    rows = []
    for i in range(n):
        messages = [
            {"role": "user", "content": f"Question {i}: how do I fix my bike?"},
            {"role": "assistant", "content": "Like this."},
        ]
        rows.append(
            {
                "conversation_id": f"c{i:03d}",
                "messages_json": json.dumps(messages),
                "content_hash": pipeline.text_hash(json.dumps(messages)),
            }
        )
    return pd.DataFrame(rows)


def _config(server: FakeOpenAI, **extra) -> dict:
    return {
        "summariser": "openai",
        "llm_model": "test-model",
        "llm_base_url": server.base_url,
        "llm_api_key_env": "KURA_TEST_KEY",
        "llm_input_cost_per_mtok": "1.0",
        "llm_output_cost_per_mtok": "2.0",
        "progress": "false",
        **extra,
    }


def test_summarise_new_under_a_cap_writes_only_what_it_sent(server):
    import duckdb

    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse

    from .state_store import FakeDbt

    con = duckdb.connect()
    with Warehouse(FakeDbt(False), con, transcripts=_transcripts(12)) as wh:
        estimate = pipeline.estimate_summaries(
            pipeline.pending_summaries(wh, _summariser(server)), _summariser(server)
        )
        frame = pipeline.summarise_new(wh, _config(server, llm_max_calls="5"))
    assert len(server.requests) == 5 and estimate["calls"] == 12
    assert len(frame) == 5 and frame["error"].isna().all()
    assert frame["pending_after_cap"].tolist() == [7] * 5
    assert frame["llm_calls"].sum() == 5


def test_budget_action_fail_refuses_before_any_call(server):
    import duckdb

    from kura_dbt import pipeline
    from kura_dbt.frames import Warehouse

    from .state_store import FakeDbt

    con = duckdb.connect()
    with Warehouse(FakeDbt(False), con, transcripts=_transcripts(6)) as wh:
        with pytest.raises(
            RuntimeError, match=r"6 calls > kura__llm_max_calls=5.*nothing was sent"
        ):
            pipeline.summarise_new(wh, _config(server, llm_max_calls="5", llm_budget_action="fail"))
        with pytest.raises(RuntimeError, match=r"kura__llm_max_cost_usd=1e-06"):
            pipeline.summarise_new(
                wh, _config(server, llm_max_cost_usd="0.000001", llm_budget_action="fail")
            )
        assert server.requests == []
        frame = pipeline.summarise_new(
            wh, _config(server, llm_max_calls="6", llm_budget_action="fail")
        )
    assert len(frame) == 6 and frame["pending_after_cap"].isna().all()
    with pytest.raises(ValueError, match="kura__llm_budget_action 'stop'"):
        LLMSettings(budget_action="stop")


def _summariser(server: FakeOpenAI):
    from kura_dbt.settings import Settings
    from kura_dbt.summaries import SUMMARISERS

    settings = Settings.from_config(_config(server))
    return SUMMARISERS.build(settings.summariser, settings)


# ----------------------------------------------------------------------------- kura estimate


def _estimate_state(path) -> None:
    """A DuckDB file as `dbt build` leaves it: four transcripts; a summarised, b failed once
    (a retry next run), c parked after three failures, d new."""
    import duckdb

    from .test_failures import _transcripts

    transcripts = _transcripts({c: f"Question {c} about buses." for c in "abcd"})
    transcripts["transcript"] = [f"user: Question {c} about buses." for c in "abcd"]
    state = summarise(transcripts[transcripts["conversation_id"] != "d"], None, {})
    failed = {"b": (1, False), "c": (3, True)}
    for cid, (attempts, gave_up) in failed.items():
        at = state["conversation_id"] == cid
        state.loc[at, ["summary", "error"]] = [None, "the model refused: no"]
        state.loc[at, ["attempts", "gave_up"]] = [attempts, gave_up]
    with duckdb.connect(str(path)) as con:
        con.execute("create schema main_kura_private")
        con.register("t", transcripts)
        con.register("s", state)
        con.execute("create table main_kura_private.int_kura__transcripts as select * from t")
        con.execute("create table main_kura_private.kura__summaries as select * from s")


def test_estimate_counts_retries_and_not_parked_rows_from_duckdb_and_snowflake(tmp_path):
    """`kura estimate` sends d (new) and b (a retry), not c (parked); the same from Snowflake
    through a dbt profile (fakesnow: Snowflake's upper-case names and information schema)."""
    import json

    import yaml
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    db = tmp_path / "kura.duckdb"
    _estimate_state(db)
    local = CliRunner().invoke(app, ["estimate", "--db", str(db), "--json"])
    assert local.exit_code == 0, local.output
    result = json.loads(local.output)
    assert result["by_reason"] == {"failed": 1, "new": 1} and result["conversations"] == 2
    assert (result["retries"], result["parked"], result["conversations_in"]) == (1, 1, 4)

    fakesnow = pytest.importorskip("fakesnow")
    target = {"type": "snowflake", "account": "acc", "user": "u", "password": "p"}
    target |= {"database": "KURADB", "schema": "analytics"}
    profiles = {"kura": {"target": "prod", "outputs": {"prod": target}}}
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profiles))
    with fakesnow.patch():
        import snowflake.connector

        setup = snowflake.connector.connect(database="KURADB", schema="ANALYTICS")
        setup.cursor().execute("create database if not exists kuradb")
        setup.cursor().execute("create schema if not exists kuradb.analytics_kura_private")
        duck = setup._duck_conn  # fakesnow's DuckDB: the tables in, names in upper case
        duck.execute(f"attach '{db}' as src (read_only)")
        for table in ("int_kura__transcripts", "kura__summaries"):
            duck.execute(
                f"create table kuradb.analytics_kura_private.{table.upper()} as "
                f"select * from src.main_kura_private.{table}"
            )
        duck.execute("detach src")
        profile = ["estimate", "--profile", "kura", "--profiles-dir", str(tmp_path), "--json"]
        snow = CliRunner().invoke(app, [*profile, "--vars", '{"kura__summariser": "local"}'])
        cortex = CliRunner().invoke(app, profile)  # auto: Cortex on Snowflake
    assert snow.exit_code == 0, snow.output
    assert cortex.exit_code == 0, cortex.output
    by_cortex = json.loads(cortex.output)  # none was summarised by Cortex: all four are sent
    assert (by_cortex["summariser"], by_cortex["calls"], by_cortex["parked"]) == ("cortex", 4, 0)
    snowflake = json.loads(snow.output)
    audits = snowflake.pop("privacy_audit"), result.pop("privacy_audit")
    labels = snowflake.pop("labeller"), result.pop("labeller")  # cortex there, local here
    assert [(a["labeller"], a["calls"]) for a in labels] == [("cortex", 0), ("local", 0)]
    vectors = snowflake.pop("embeddings"), result.pop("embeddings")
    # Cortex there: one AI_EMBED call for a's summary and one for each of the 2 the run writes
    assert [(e["embedder"], e["calls"]) for e in vectors] == [("cortex", 3), ("local", 0)]
    assert snowflake == result
    # the privacy auditor is local on DuckDB (no call) and Cortex on Snowflake (kura__auditor:
    # auto): there, the 2 conversations summarised make 3 texts each to audit
    assert [(a["auditor"], a["calls"], a["new_summary_texts"]) for a in audits] == [
        ("cortex", 6, 6),
        ("local", 0, 6),
    ]
    assert audits[1]["cost_usd"] == 0.0 and audits[1]["prompt_tokens"] == 0


PENDING_AUDITS = [
    "The user asks for a bus to Fresno.",
    "Call Kelly Moore on 555-0199 [[answer:audit_private]]",
    "A secret the auditor refuses [[answer:refusal]]",  # failed once: a retry
]


def _audit_state(path, fake: FakeOpenAI) -> None:
    """The texts the warehouse shows and the audit state a build left: one text scored, one
    failed once (a retry next run), one parked after three failures, three never scored (one
    of them shown twice, as a summary and as a request: one call)."""
    import duckdb
    import pandas as pd

    from kura_dbt import pipeline
    from kura_dbt.incremental import text_hash

    from .test_audit import _config

    parked = "Another secret [[answer:refusal]]"
    done = ["A text scored last night.", PENDING_AUDITS[2], parked]
    state = build(pipeline.audit_new, None, _config(fake, max_retries=0), texts=_texts(done))
    at = state["text_hash"] == text_hash(parked)
    state.loc[at, ["attempts", "gave_up"]] = [3, True]
    shown = _texts([*done, *PENDING_AUDITS[:2], PENDING_AUDITS[0]])
    shown.loc[len(shown) - 1, "kind"] = "request"
    with duckdb.connect(str(path)) as con:
        for name, frame in (("int_kura__privacy_texts", shown), ("int_kura__privacy_audit", state)):
            con.register("frame", pd.DataFrame(frame))
            con.execute(f"create table main_kura_private.{name} as select * from frame")
            con.unregister("frame")


def _texts(texts: list[str]):
    import pandas as pd

    from kura_dbt.incremental import text_hash

    return pd.DataFrame(
        {
            "kind": ["summary"] * len(texts),
            "subject_id": [f"c{i}" for i in range(len(texts))],
            "text": texts,
            "text_hash": [text_hash(t) for t in texts],
        }
    )


def audit_vars(server: FakeOpenAI) -> dict:
    """The vars of an LLM auditor (kura__auditor: openai) on the local server, priced."""
    return {
        "kura__auditor": "openai",
        "kura__llm_model": "test-model",
        "kura__llm_base_url": server.base_url,
        "kura__llm_api_key_env": "KURA_TEST_KEY",
        "kura__llm_max_retries": 0,
        "kura__llm_input_cost_per_mtok": 1.0,
        "kura__llm_output_cost_per_mtok": 2.0,
    }


def test_estimate_counts_one_audit_call_per_distinct_text_and_its_tokens(tmp_path, server):
    """`kura estimate` with the LLM auditor (kura__auditor: openai): one call per distinct text
    not scored yet or failed (not the parked one), plus three per conversation the run
    summarises; its prompt tokens within 2 % of what the endpoint counts when the audit stage
    sends them; 0 calls with the local auditor."""
    import json

    from typer.testing import CliRunner

    from kura_dbt import pipeline
    from kura_dbt.audit.estimate import audit_request_of, estimate_audits
    from kura_dbt.cli import app
    from kura_dbt.commands.estimate import _ConnectionReader, settings_from_vars
    from kura_dbt.parking import RetryPolicy

    db = tmp_path / "kura.duckdb"
    _estimate_state(db)
    _audit_state(db, server)
    variables = audit_vars(server)
    run = CliRunner().invoke(app, ["estimate", "--db", str(db), "--vars", json.dumps(variables)])
    assert run.exit_code == 0, run.output
    assert "int_kura__privacy_audit (openai, test-model)" in run.output
    as_json = ["estimate", "--db", str(db), "--json", "--vars", json.dumps(variables)]
    audit = json.loads(CliRunner().invoke(app, as_json).output)["privacy_audit"]
    assert (audit["texts"], audit["retries"], audit["parked"]) == (3, 1, 1)
    assert audit["new_summary_texts"] == 6 and audit["calls"] == 3 + 6  # b and d summarised
    assert audit["cost_usd"] == pytest.approx(
        (audit["prompt_tokens"] * 1 + audit["completion_tokens"] * 2) / 1e6
    )
    # what the stage sends for the texts there are: the same calls, the tokens within 2 %
    settings = settings_from_vars(variables)
    auditor = audit_request_of(settings, variables, snowflake=False)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        state = con.sql("select * from main_kura_private.int_kura__privacy_audit").df()
        texts = con.sql("select * from main_kura_private.int_kura__privacy_texts").df()
        reader = _ConnectionReader(con, "", "main_kura_private.int_kura__privacy_audit")
        reader.views = {"texts": "main_kura_private.int_kura__privacy_texts"}
        now = estimate_audits(reader, auditor, RetryPolicy.of(settings), new_summaries=0)
    before = len(server.requests)
    config = {"auditor": "openai", "progress": False, "llm": dict(settings.llm)}
    sent = build(pipeline.audit_new, state, config, texts=texts)
    assert len(server.requests) - before == len(sent) == now["calls"] == 3
    counted = sum(p for p, _ in server.usage[-3:])
    assert abs(now["prompt_tokens"] - counted) <= 0.02 * counted, (now["prompt_tokens"], counted)
    # the local auditor: the texts are counted, nothing is sent
    local = {**variables, "kura__auditor": "local"}
    as_json[-1] = json.dumps(local)
    audit = json.loads(CliRunner().invoke(app, as_json).output)["privacy_audit"]
    assert audit["auditor"] == "local" and audit["texts"] == 5  # every distinct text
    assert (audit["calls"], audit["prompt_tokens"], audit["cost_usd"]) == (0, 0, 0.0)


# --------------------------------------------------------------------------- long local steps


def test_the_local_embedder_reports_every_tenth_at_any_size():
    """A few hundred texts took over a minute with no line (lines started at 4,000 texts)."""
    from kura_dbt.embeddings.local import LocalEmbedder
    from kura_dbt.pipeline import _embed_texts

    progress = Progress("kura__embeddings", unit="texts", interval_s=3600)
    texts = [f"how do I fix error number {i} in my bike's gears?" for i in range(40)]
    with monitoring(StageMonitor(progress)):
        run = _embed_texts(LocalEmbedder(), texts)
    assert run.vectors.shape == (40, 384)
    assert len(progress.lines) == 10 and progress.lines[-1].startswith("kura__embeddings: 40/40")


def test_discovery_and_the_map_fit_report_their_steps():
    import numpy as np

    from kura_dbt.projection.projectors import UmapProjector
    from kura_dbt.settings import Settings
    from kura_dbt.taxonomy.discover import discover

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    progress = Progress("int_kura__cluster_state", interval_s=3600)
    with monitoring(StageMonitor(progress)):
        discover([f"c{i}" for i in range(120)], X, ["t"] * 120, Settings(max_top_clusters=2))
    said = "\n".join(progress.lines)
    for step in ("discovery: clustering 120", "choosing the number of clusters", "fitting"):
        assert step in said
    assert "calibrating the novelty radii" in said and "hierarchy built" in said

    umap = UmapProjector(n_epochs=20)
    umap.progress = Progress("int_kura__map_points", unit="epochs", interval_s=3600)
    umap.fit_transform(X)
    assert umap.progress.lines[0].startswith("int_kura__map_points: fitting UMAP on 120 points")
    assert len(umap.progress.lines) == 11 and "20/20 epochs" in umap.progress.lines[-1]
