"""The OpenAI-compatible embedder (var kura__embedder: openai) with the real `openai` client
against the embeddings endpoint of the local test server."""

import os

import duckdb
import numpy as np
import pandas as pd
import pytest

from kura_dbt.embeddings.openai import OpenAIEmbedder
from kura_dbt.frames import Warehouse
from kura_dbt.llm import LLMSettings
from kura_dbt.settings import Settings
from kura_dbt.taxonomy import current_embeddings_sql

from .fake_openai import FakeOpenAI, word_vector
from .state_store import FakeDbt, embed


@pytest.fixture
def server():
    os.environ["KURA_TEST_KEY"] = "sk-test-secret-key-1234567890"
    with FakeOpenAI() as fake:
        yield fake


def settings(server: FakeOpenAI, **overrides) -> LLMSettings:
    return server.settings(
        **{
            "model": "gpt-4o-mini",
            "max_concurrency": 3,
            "input_cost_per_mtok": None,
            "output_cost_per_mtok": None,
            **overrides,
        }
    )


TEXTS = [f"The user asks about topic {i % 4} and detail {i}" for i in range(10)]


def test_batches_come_back_in_order_normalised_with_usage(server):
    embedder = OpenAIEmbedder(settings(server), model="embed-model", batch_size=4)
    run = embedder.embed_with_usage(TEXTS)
    assert run.vectors.shape == (10, 64)
    expected = np.array([word_vector(t, 64) for t in TEXTS], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(run.vectors, expected, rtol=1e-6)  # by index, not by answer order
    assert sorted(len(r["input"]) for r in server.requests) == [2, 4, 4]  # concurrent: any order
    assert {r["model"] for r in server.requests} == {"embed-model"}
    assert run.errors == [None] * 10
    assert sum(run.prompt_tokens) == sum(len(t.split()) for t in TEXTS)  # shares add up
    assert run.llm_calls == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0]


def test_dimensions_are_requested_and_part_of_the_model_name(server):
    embedder = OpenAIEmbedder(settings(server), model="embed-model", dimensions=16)
    assert embedder.embed(TEXTS[:2]).shape == (2, 16)
    assert server.requests[0]["dimensions"] == 16
    assert embedder.model == "embed-model@16"  # a new size re-embeds


def test_a_failed_batch_keeps_its_rows_with_the_error_and_others_go_on(server):
    texts = [*TEXTS[:4], "this one fails [[embed-500]]", *TEXTS[4:7]]
    run = OpenAIEmbedder(settings(server), batch_size=4).embed_with_usage(texts)
    assert run.errors[:4] == [None] * 4
    assert all("500" in e for e in run.errors[4:])
    assert np.isnan(run.vectors[4:]).all() and not np.isnan(run.vectors[:4]).any()
    assert run.llm_calls[4] == 3  # the failed batch: first try and two retries


def test_every_batch_failing_is_a_clear_error(server):
    """The embedder reports each text's error; the stage's failure policy (kura_dbt.failures,
    applied by the pipeline as for every stage) fails the model when every one failed."""
    run = OpenAIEmbedder(settings(server)).embed_with_usage(["all fail [[embed-500]]"] * 2)
    assert all("500" in e for e in run.errors)
    config = {
        "embedder": "openai",
        "embedding_model": "embed-model",
        "llm": {
            "base_url": server.base_url,
            "api_key_env": "KURA_TEST_KEY",
            "max_retries": 1,
            "backoff_base_s": 0.01,
        },
    }
    summaries = pd.DataFrame(
        {
            "conversation_id": ["a", "b"],
            "request": [
                None,
                None,
            ],  # kura__summaries' columns: no request, the summary is embedded
            "error": [None, None],
            "summary": ["all fail [[embed-500]]", "this too [[embed-500]]"],
        }
    )
    with pytest.raises(
        RuntimeError,
        match="2 of 2 embeddings attempted in this run "
        r"failed \(embedder openai, model embed-model\); the first error: .*500",
    ):
        embed(summaries, None, config)


def test_pipeline_stores_errors_and_redoes_only_them_next_run(server):
    summaries = pd.DataFrame(
        {
            "conversation_id": [f"c{i}" for i in range(6)],
            "summary": [
                "Plan a trip",
                "Fix a bug",
                "Bake bread",
                "Learn chess [[embed-500]]",
                "Buy shoes",
                "Sing",
            ],
            "request": [None] * 6,
            "error": [None] * 6,
        }
    )
    config = {
        "embedder": "openai",
        "embedding_batch_size": 3,
        "embedding_model": "embed-model",
        "llm": {
            "base_url": server.base_url,
            "api_key_env": "KURA_TEST_KEY",
            "max_retries": 1,
            "backoff_base_s": 0.01,
        },
    }
    first = embed(summaries, None, config)
    assert len(first) == 6
    failed = first[first["error"].notna()]
    assert sorted(failed["conversation_id"]) == ["c3", "c4", "c5"]
    assert failed["embedding"].isna().all() and failed["dimensions"].isna().all()
    assert (
        first["llm_calls"].sum() == len(server.requests) == 3
    )  # one batch, one failing batch twice
    # the failed rows are not clustered: they have no current embedding
    with Warehouse(FakeDbt(False), duckdb.connect(), summaries=summaries, embeddings=first) as wh:
        current = wh.query(current_embeddings_sql(wh, Settings.from_config(config)))
    assert sorted(current["conversation_id"]) == ["c0", "c1", "c2"]
    assert {len(v) for v in current["embedding"]} == {64}
    # the next run (the endpoint recovered) embeds only the failed conversations
    fixed = summaries.assign(
        summary=summaries["summary"].str.replace(" [[embed-500]]", "", regex=False)
    )
    server.requests.clear()
    second = embed(fixed, first, config)
    assert sorted(second["conversation_id"]) == ["c3", "c4", "c5"]
    assert second["error"].isna().all()
    assert len(server.requests) == 1
