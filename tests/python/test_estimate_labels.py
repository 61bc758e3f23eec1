"""`kura estimate` counts the LLM labeller's calls of a discovery (names, the CLIO grouping,
public labels: an upper bound) and the openai embedder's requests and input tokens (exact), and
a first build then makes no more than it said: the real local summariser, the real openai
client against the OpenAI-compatible server on localhost (tests/python/fake_openai.py) for the
embeddings and the names, the real discovery on a real DuckDB connection."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
from typer.testing import CliRunner

from kura_dbt.llm import approx_tokens

from . import test_progress_budget
from .state_store import Store, embed, summarise
from .test_failures import _transcripts

server = test_progress_budget.server  # the local server's fixture
TOPICS = ["bus tickets", "passport renewal", "tax returns", "bike repair", "hotel rooms", "loans"]
N = 120


def _texts() -> dict[str, str]:
    """Six topics, twenty conversations each, sharing the topic's words."""
    return {
        f"c{i:04d}": f"How do I sort out my {TOPICS[i % 6]}? Question {i} about {TOPICS[i % 6]}."
        for i in range(N)
    }


def _db(tmp_path, summaries: pd.DataFrame | None = None):
    db = tmp_path / "kura.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema main_kura_private")
        con.register("t", _transcripts(_texts()))
        con.execute("create table main_kura_private.int_kura__transcripts as select * from t")
        if summaries is not None:
            con.register("s", summaries)
            con.execute("create table main_kura_private.kura__summaries as select * from s")
    return db


def _vars(server) -> dict:
    return {
        "kura__labeller": "openai",
        "kura__embedder": "openai",
        "kura__embedding_batch_size": 32,
        "kura__llm_embedding_cost_per_mtok": 0.02,
        "kura__seed": 7,
        "kura__max_top_clusters": 2,
        "kura__n_base_clusters": 6,
        "kura__rediscover_min_conversations": 1,
        **test_progress_budget.audit_vars(server),
        "kura__auditor": "local",
    }


def _config(variables: dict) -> dict:
    """The same settings as the model's config (kura_dbt.settings reads both)."""
    from kura_dbt.commands.estimate import settings_from_vars

    settings = settings_from_vars(variables)
    return {
        "labeller": "openai",
        "embedder": "openai",
        "embedding_batch_size": 32,
        "n_base_clusters": settings.n_base_clusters,
        "progress": False,
        "llm": dict(settings.llm),
    }


def _estimate(db, variables: dict) -> dict:
    from kura_dbt.cli import app

    argv = ["estimate", "--db", str(db), "--json", "--vars", json.dumps(variables)]
    run = CliRunner().invoke(app, argv)
    assert run.exit_code == 0, run.output
    return json.loads(run.output)


def test_a_first_discoverys_names_and_embeddings_are_what_the_estimate_said(tmp_path, server):
    """Before the first build: 120 conversations to summarise, embed and cluster. The estimate
    says a discovery will happen, counts the embedder's requests exactly (120 new summaries in
    batches of 32: 4) and the labeller's calls at most; the build then sends exactly those
    embedding requests and no more label calls than the bound, nor more prompt tokens."""
    variables = _vars(server)
    out = _estimate(_db(tmp_path), variables)
    labels, vectors = out["labeller"], out["embeddings"]
    assert (labels["labeller"], labels["rediscover"]) == ("openai", "yes")
    assert labels["calls"] == 0 and labels["calls_at_most"] > 0
    assert labels["calls_at_most"] == (
        labels["names_at_most"] + labels["grouping_calls_at_most"] + labels["public_labels_at_most"]
    )
    assert (vectors["texts"], vectors["new_summary_texts"], vectors["calls"]) == (0, N, 4)
    assert vectors["cost_usd"] == vectors["prompt_tokens"] * 0.02 / 1e6

    # the build: summaries (local), embeddings (openai), then the discovery (openai names)
    config = _config(variables)
    summaries = summarise(_transcripts(_texts()), None, config)
    before = len(server.requests)
    embedded = embed(summaries, None, config)
    assert embedded["error"].isna().all()
    assert len(server.requests) - before == vectors["calls"]

    store = Store()
    store.summaries = summaries[["conversation_id", "summary", "request", "error"]]
    store.embeddings = embedded[["conversation_id", "text_hash", "model", "embedding", "error"]]
    before, counted = len(server.requests), len(server.usage)
    rows = store.build(**{k: v for k, v in config.items() if k != "embedder"})
    sent = len(server.requests) - before
    clusters = rows[rows["record_type"] == "cluster"]
    assert (clusters["llm_calls"].sum(), clusters["label_error"].sum()) == (sent, 0)
    assert 0 < sent <= labels["calls_at_most"], (sent, labels)
    # here the bound is reached: 6 base names, one proposal, one deduplication, 6 assignments
    # and 2 parents' names (no public label: no user is known, so no threshold hides a cluster)
    assert sent == labels["names_at_most"] + labels["grouping_calls_at_most"] == 16
    # the base names alone: one per base cluster, as many as kura__n_base_clusters
    assert (clusters["level"] == 0).sum() == 6 <= labels["names_at_most"]
    prompt = sum(p for p, _ in server.usage[counted:])
    assert prompt <= labels["prompt_tokens_at_most"], (prompt, labels["prompt_tokens_at_most"])


def test_the_embedders_requests_and_tokens_are_those_the_build_sends(tmp_path, server):
    """Summaries written, none embedded yet: the estimate selects the texts with the
    kura__embeddings model's own SQL; the build sends as many requests and the same texts
    (their tokens counted alike); the local embedder sends nothing."""
    variables = _vars(server)
    config = _config(variables)
    summaries = summarise(_transcripts(_texts()), None, config)
    db = _db(tmp_path, summaries)
    vectors = _estimate(db, variables)["embeddings"]
    assert (vectors["texts"], vectors["new_summary_texts"]) == (N, 0)
    assert vectors["calls"] == 4 and vectors["tokens_from_history"]

    before = len(server.requests)
    embed(summaries, None, config)
    sent = server.requests[before:]
    assert len(sent) == vectors["calls"]
    inputs = [t for body in sent for t in body["input"]]
    assert len(inputs) == N
    assert sum(approx_tokens(t) for t in inputs) == vectors["prompt_tokens"]

    local = _estimate(db, {**variables, "kura__embedder": "local"})["embeddings"]
    assert (local["texts"], local["calls"], local["prompt_tokens"]) == (N, 0, 0)


def test_without_a_rediscovery_only_public_labels_may_be_asked_for(tmp_path):
    """After a discovery, kura__rediscover: never: no name, no grouping; at most a public label
    per current parent (the thresholds decide which parents need one). A changed clustering
    setting re-discovers: names and grouping calls again, at most."""
    from .test_estimate_cluster_texts import _taxonomy_db

    db, store = _taxonomy_db(tmp_path)
    query = (
        "select count(*) from state where record_type = 'cluster' "
        "and retired_epoch is null and level > 0"
    )
    parents = int(store.con.execute(query).fetchone()[0])
    assert parents > 0
    same = {
        "kura__seed": 7,
        "kura__max_top_clusters": 2,
        "kura__rediscover_min_conversations": 1,
        "kura__labeller": "openai",
        "kura__llm_model": "test-model",
    }
    labels = _estimate(db, {**same, "kura__rediscover": "never"})["labeller"]
    assert labels["rediscover"] == "no"
    assert (labels["names_at_most"], labels["grouping_calls_at_most"]) == (0, 0)
    assert labels["public_labels_at_most"] == labels["calls_at_most"] == parents
    changed = _estimate(db, {**same, "kura__max_top_clusters": 3})["labeller"]
    assert changed["rediscover"] == "yes" and changed["names_at_most"] > 0
    assert changed["grouping_calls_at_most"] > 0
    from kura_dbt.cli import app

    table = ["estimate", "--db", str(db), "--vars", json.dumps(same)]
    shown = CliRunner().invoke(app, table, terminal_width=120).output
    assert "Next run of the cluster names (openai, test-model)" in shown
    assert "public labels (at most)" in shown and "kura__embeddings (local" in shown
    local = _estimate(db, {**same, "kura__labeller": "local", "kura__max_top_clusters": 3})
    assert (local["labeller"]["calls_at_most"], local["labeller"]["cost_usd_at_most"]) == (0, 0.0)


def test_the_cortex_labellers_tokens_come_from_the_prompt_its_model_builds(tmp_path):
    """With kura__labeller: cortex, a re-discovery's names are estimated from the prompt
    models/cortex/int_kura__cortex_cluster_names.sql builds (its example and contrast bounds
    read from the model's SQL here, so the two cannot drift apart), and the completion tokens
    from the Cortex names stored before."""
    from pathlib import Path

    from kura_dbt.labels import estimate as le

    from .test_estimate_cluster_texts import _taxonomy_db, _write

    model = (
        Path(__file__).resolve().parents[2] / "models/cortex/int_kura__cortex_cluster_names.sql"
    ).read_text()
    assert f"left(summaries.summary, {le.CORTEX_EXAMPLE_CHARS})" in model
    assert f"floor(members / {le.CORTEX_BASE_EXAMPLES}))) < {le.CORTEX_BASE_EXAMPLES}" in model
    assert f"where position <= {le.CORTEX_PARENT_EXAMPLES}" in model
    assert f"where position <= {le.CORTEX_CONTRAST}" in model
    assert "'\\n</inside_examples>\\n<outside_examples>\\n'" in model
    short, cut = le.cortex_name_tokens(100)[0], le.cortex_name_tokens(400)[0]
    assert short < cut == le.cortex_name_tokens(4000)[0]  # a summary counts to the cut

    db, _ = _taxonomy_db(tmp_path)
    variables = {
        "kura__seed": 7,
        "kura__max_top_clusters": 3,  # another setting than the discovery's: re-discovers
        "kura__rediscover_min_conversations": 1,
        "kura__labeller": "cortex",
        "kura__llm_input_cost_per_mtok": 2.0,
        "kura__llm_output_cost_per_mtok": 8.0,
    }
    labels = _estimate(db, variables)["labeller"]
    assert labels["labeller"] == "cortex" and labels["rediscover"] == "yes"
    assert labels["calls_at_most"] == labels["names_at_most"] > 0
    assert labels["grouping_calls_at_most"] == labels["public_labels_at_most"] == 0
    names, low, high = labels["names_at_most"], le.cortex_name_tokens(1), le.cortex_name_tokens(400)
    assert names * min(low) <= labels["prompt_tokens_at_most"] <= names * max(high)
    assert not labels["completion_from_history"] and labels["cost_usd_at_most"] > 0

    answered = pd.DataFrame({"completion_tokens": [30, 50, 999], "error": [None, None, "x"]})
    _write(db, int_kura__cortex_cluster_names=answered)
    again = _estimate(db, variables)["labeller"]
    assert again["completion_from_history"] and again["completion_per_call"] == 40.0


def test_the_cortex_embedder_makes_one_call_per_text_it_has_not_embedded(tmp_path, server):
    """models/cortex/kura__embeddings.sql embeds each text with AI_EMBED: the estimate selects
    the texts with the same rule, keyed on cortex and its model (a text Cortex embedded with
    this model is not sent; one embedded by another embedder is), one call each, the same
    tokens as the openai estimate counts for them. It said 0 ("not estimated here")."""
    from .test_estimate_cluster_texts import _write

    variables = _vars(server)
    summaries = summarise(_transcripts(_texts()), None, _config(variables))
    db = _db(tmp_path, summaries)
    texts = _estimate(db, variables)["embeddings"]  # openai: all 120 texts, in 4 requests
    cortex_vars = {**variables, "kura__embedder": "cortex"}
    cortex = _estimate(db, cortex_vars)["embeddings"]
    assert (cortex["embedder"], cortex["model"]) == ("cortex", "snowflake-arctic-embed-m-v1.5")
    assert (cortex["texts"], cortex["calls"]) == (N, N)
    assert cortex["prompt_tokens"] == texts["prompt_tokens"] and cortex["cost_usd"] > 0

    from kura_dbt.sql import embedded_text

    with duckdb.connect(str(db)) as con:  # ten embedded by Cortex already, ten by openai
        hashed = con.execute(
            f"select conversation_id, md5({embedded_text('request', 's')}) "
            "from main_kura_private.kura__summaries as s order by 1 limit 20"
        ).fetchall()
    done = pd.DataFrame(
        {
            "conversation_id": [c for c, _ in hashed],
            "text_hash": [h for _, h in hashed],
            "embedder": ["cortex"] * 10 + ["openai"] * 10,
            "model": ["snowflake-arctic-embed-m-v1.5"] * 10 + ["text-embedding-3-small"] * 10,
            "error": [None] * 20,
        }
    )
    _write(db, kura__embeddings=done)
    later = _estimate(db, cortex_vars)["embeddings"]
    assert (later["texts"], later["calls"]) == (N - 10, N - 10)
