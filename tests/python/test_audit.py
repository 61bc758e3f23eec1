"""The privacy auditor (issue 22, item 1): CLIO's 1-5 scale from the local auditor
(presidio-analyzer on a packaged spaCy pipeline) and from the LLM auditor (the real openai
client + instructor against recorded answers over HTTP, tests/fixtures/openai/audit_*.json),
as a stage: cached by text hash, budgeted, counted, failures kept."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from kura_dbt import pipeline
from kura_dbt.audit.llm import AUDIT_PROMPT, LLMAuditor, audit_prompt
from kura_dbt.budget import StageMonitor, monitoring
from kura_dbt.progress import Progress

from .fake_openai import FakeOpenAI
from .state_store import build, merge_into_state

os.environ.setdefault("KURA_TEST_KEY", "sk-test-audit")

PRIVATE = "Call Kelly Moore on 555-0199 [[answer:audit_private]]"


def test_the_llm_auditor_scores_on_clios_scale_through_the_real_client():
    with FakeOpenAI() as fake:
        auditor = LLMAuditor(fake.settings())
        general, private = auditor.audit_many(
            [("h1", "summary", "The user asks for a bus to Fresno."), ("h2", "summary", PRIVATE)]
        )
        sent = [r["messages"] for r in fake.requests]
    assert (general.score, private.score) == (5, 1)
    assert "identify one individual" in private.reason
    # usage and cost as the recorded answers report them, at the fake's 1 and 2 USD per Mtok
    assert private.prompt_tokens == 412 and private.completion_tokens == 38
    assert private.cost_usd == pytest.approx((412 * 1 + 38 * 2) / 1e6)
    assert private.llm_calls == 1 and private.auditor == "openai"
    assert any(m[0]["content"].startswith(AUDIT_PROMPT[:40]) for m in sent)
    assert any(audit_prompt("summary", PRIVATE) in m[-1]["content"] for m in sent)


def test_a_refused_audit_is_an_error_with_no_score():
    with FakeOpenAI() as fake:
        (record,) = LLMAuditor(fake.settings()).audit_many(
            [("h1", "cluster_name", "Plan trips [[answer:refusal]]")]
        )
    assert record.score is None and "refused" in record.error


def _texts(*texts: str) -> pd.DataFrame:
    from kura_dbt.incremental import text_hash

    return pd.DataFrame(
        {
            "kind": ["summary"] * len(texts),
            "subject_id": [f"c{i}" for i in range(len(texts))],
            "text": list(texts),
            "text_hash": [text_hash(t) for t in texts],
        }
    )


def _config(fake: FakeOpenAI, **llm: object) -> dict:
    return {
        "auditor": "openai",
        "progress": False,
        "llm": {
            "model": "test-model",
            "base_url": fake.base_url,
            "api_key_env": "KURA_TEST_KEY",
            "max_retries": 1,
            "input_cost_per_mtok": 1.0,
            "output_cost_per_mtok": 2.0,
            **llm,
        },
    }


def test_the_audit_stage_scores_each_text_once_and_a_rerun_costs_nothing():
    import duckdb

    texts = _texts("The user asks for a bus.", PRIVATE, "The user asks for a bus.")
    with FakeOpenAI() as fake:
        first = build(pipeline.audit_new, None, _config(fake), texts=texts)
        calls = len(fake.requests)
        con = duckdb.connect()
        merge_into_state(con, first, "text_hash", exists=False)
        again = build(
            pipeline.audit_new, con.sql("select * from state").df(), _config(fake), texts=texts
        )
        assert len(fake.requests) == calls == 2  # one call per distinct text, none on the rerun
    assert sorted(first["score"].tolist()) == [1, 5]
    assert set(first["kind"]) == {"summary"} and first["audited_at"].notna().all()
    assert len(again) == 0


def test_another_auditor_model_scores_again_and_a_failure_is_retried():
    texts = _texts("The user asks for a bus.")
    with FakeOpenAI() as fake:
        first = build(pipeline.audit_new, None, _config(fake), texts=texts)
        failed = first.assign(score=None, error="the model refused: no")
        retried = build(pipeline.audit_new, failed, _config(fake), texts=texts)
        other = build(pipeline.audit_new, first, _config(fake, model="other-model"), texts=texts)
    assert retried["score"].tolist() == [5]
    assert other["model"].tolist() == ["other-model"]


def test_the_budget_cap_leaves_texts_pending_instead_of_failed():
    texts = _texts("first text", "second text", "third text")
    with FakeOpenAI() as fake:
        rows = build(pipeline.audit_new, None, _config(fake, max_calls=1), texts=texts)
    assert len(rows) == 1 and rows["error"].isna().all()


def test_every_audit_failing_fails_the_stage():
    texts = _texts("a [[answer:refusal]]", "b [[answer:refusal]]")
    with FakeOpenAI() as fake, pytest.raises(RuntimeError, match="2 of 2 privacy audits"):
        build(pipeline.audit_new, None, _config(fake), texts=texts)


def test_a_text_whose_audit_keeps_failing_is_parked_and_stays_withheld():
    """Bounded retries as for summaries (kura_dbt.parking): the refused text's attempts grow
    run by run, it is parked (gave_up) after kura__llm_max_attempts (3) failures and not sent
    again, with no score (so withheld); a run that only retries old failures does not fail the
    model; kura__llm_retry_gave_up sends it once more."""
    import duckdb

    refused = "Tell me a secret [[answer:refusal]]"
    texts = _texts("The user asks for a bus.", refused)
    con = duckdb.connect()

    def night(config: dict) -> pd.DataFrame:
        exists = bool(
            con.execute(
                "select count(*) from information_schema.tables where table_name = 'state'"
            ).fetchall()[0][0]
        )
        state = con.sql("select * from state").df() if exists else None
        rows = build(pipeline.audit_new, state, config, texts=texts)
        merge_into_state(con, rows, "text_hash", exists=exists)
        return rows

    def refused_row() -> tuple:
        query = "select attempts, gave_up, score, error from state where text_hash = ?"
        return con.execute(query, [texts["text_hash"].iloc[1]]).fetchall()[0]

    def sent() -> int:
        return sum("[[answer:refusal]]" in str(r) for r in fake.requests)

    with FakeOpenAI() as fake:
        config = _config(fake, max_retries=0)
        for run in (1, 2, 3):
            night(config)
            attempts, gave_up, score, error = refused_row()
            assert (attempts, gave_up, score) == (run, run == 3, None)
            assert "refused" in error
            assert sent() == run
        assert len(night(config)) == 0 and sent() == 3  # parked: nothing sent
        assert refused_row()[:3] == (3, True, None)  # still unscored: withheld
        again = night(_config(fake, max_retries=0, retry_gave_up=True))
        assert again[["attempts", "gave_up"]].values.tolist() == [[4, True]] and sent() == 4
        # the general text was scored once, on the first run
        general = con.execute("select attempts, score from state where score is not null")
        assert general.fetchall() == [(1, 5)]


def test_the_monitor_counts_the_audit_calls():
    with FakeOpenAI() as fake:
        monitor = StageMonitor(Progress("audit", enabled=False), llm=fake.settings())
        with monitoring(monitor):
            LLMAuditor(fake.settings()).audit_many([("h", "summary", "a general text")])
    assert (monitor.requests, monitor.prompt_tokens, monitor.completion_tokens) == (1, 412, 38)


# ---- the local auditor: presidio-analyzer, offline ------------------------------------------

presidio = pytest.importorskip("presidio_analyzer")


@pytest.fixture(scope="module")
def local():
    from kura_dbt.audit.offline import OfflineAuditor

    return OfflineAuditor()


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("The user asks: book a table for two at an Italian restaurant.", 5),
        ("Debug Python data pipelines", 5),
        ("The user asks for flights from Chicago.", 3),
        ("My name is Kelly Moore and I need a new passport.", 1),
        ("Send it to kelly.moore@example.org please.", 1),
        ("Deliver it to 4217 Maple Avenue, Springfield.", 1),
        ("My account number is 483920183177.", 1),
        ("Call me on (415) 555-0199 tomorrow.", 1),
        ("Send the code to [EMAIL] or [PHONE].", 5),  # the summariser's placeholders
        # the one planted name of 1,000 that reached the marts (benchmarks/privacy_layers.py
        # --seed 1): a sentence-initial cue and a post-nominal that spaCy reads as no person
        (
            "The user asks: \"I'm looking for a bus leaving from Sacramento, CA. This is Todd "
            'Price MD writing."; later: "I\'d like 1 room in a 3 star hotel."',
            1,
        ),
        ("Please forward the results to Dr. Ana Ruiz at the clinic.", 1),
        ("Tell me about the causes of World War II.", 5),  # a numeral is not a post-nominal
    ],
)
def test_the_local_auditor_maps_what_presidio_finds_to_clios_scale(local, text, score):
    (record,) = local.audit_many([("h", "summary", text)])
    assert record.score == score, record.reason
    assert record.auditor == "local" and record.llm_calls == 0


@pytest.mark.parametrize(
    ("text", "kind", "score"),
    [
        # a common noun that the labeller capitalised, opening a cluster name: the NER reads a
        # person, spaCy's tagger a noun (SGD's names became "[NAME] events", "[NAME], luggage")
        ("Concert events, Performing Arts Venue, attend", "cluster_name", 5),
        ("Bags, luggage", "cluster_name", 5),
        ("Okay. Bags, how many can I take?", "cluster_name", 5),
        # in a user's words the capital is the user's: "Dean" of a director's name is tagged
        # a noun too, and stays a person
        ("Concert events, Performing Arts Venue, attend", "summary", 1),
        ("Dean deblois please", "request", 1),
        # a name the tagger reads as a proper noun, or inside a name, stays a person
        ("Bill payment", "cluster_name", 1),
        ("Mark, essay", "cluster_name", 1),
        ("Taylor Swift songs", "cluster_name", 1),
        ("I met Concert yesterday", "cluster_name", 1),
    ],
)
def test_a_cluster_names_own_capital_is_no_person(local, text, kind, score):
    (record,) = local.audit_many([("h", kind, text)])
    assert record.score == score, record.reason


def test_a_withheld_name_is_made_again_without_its_own_capital_redacted():
    from kura_dbt.privacy_relabel import without_details

    texts = ["Concert events, Mark", "Concert events, Mark"]
    assert without_details(texts, ["cluster_name", "summary"]) == [
        "Concert events, [NAME]",
        "[NAME] events, [NAME]",
    ]


def test_the_local_auditor_never_reaches_the_network(local, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the local auditor opened a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    (record,) = local.audit_many([("h", "summary", "Write to jane.roe@example.co.uk today.")])
    assert record.score == 1


def test_the_names_rule_changes_the_auditors_version_not_the_summarisers(monkeypatch):
    """An upgrade re-audits the cluster names and summarises nothing again: the local
    summariser's version holds the detector's, which the rule for a name's own capital is
    not part of."""
    from kura_dbt.audit import offline

    detector, auditor = offline.detector_version(), offline.auditor_version()
    assert offline.OfflineAuditor().prompt_version == auditor != detector
    monkeypatch.setattr(offline, "_COMMON_NOUN", frozenset({"NN"}))
    assert offline.detector_version() == detector
    assert offline.auditor_version() != auditor
