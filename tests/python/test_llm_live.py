"""Against the real API, only when an API key is set (skipped otherwise): one conversation
through the OpenAI summariser, one cluster name through the OpenAI labeller, and three
embeddings through the OpenAI embedder."""

import os

import pytest

from kura_dbt.llm import LLMSettings
from kura_dbt.summaries import Message

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENAI_API_KEY"), reason="live LLM test: set OPENAI_API_KEY to run it"
)


def live_settings() -> LLMSettings:
    return LLMSettings(
        model=os.environ.get("KURA_LIVE_MODEL", "gpt-4o-mini"),
        base_url=os.environ.get("KURA_LIVE_BASE_URL") or None,
        max_concurrency=2,
        max_retries=2,
    )


def test_live_summary_has_every_facet():
    from kura_dbt.summaries.openai import OpenAISummariser

    record = OpenAISummariser(live_settings()).summarise(
        [
            Message(
                "user",
                "My name is Jane Doe, jane@example.com. Why does my pandas merge duplicate rows?",
            ),
            Message("assistant", "Your right table has repeated keys; deduplicate it first."),
        ],
        "live-1",
    )
    assert record.error is None, record.error
    assert record.summary and "jane@example.com" not in record.summary
    assert record.concerning_score in {1, 2, 3, 4, 5}
    assert record.prompt_tokens and record.completion_tokens


def test_live_cluster_name():
    from kura_dbt.labels.openai import OpenAILabeller

    [label] = OpenAILabeller(live_settings()).label(
        [["The user asks how to fix a pandas merge.", "The user asks why groupby drops NaN keys."]],
        ["The user asks how to fix a pandas merge."],
        [2],
        [["The user asks for a pasta recipe."]],
    )
    assert label.name and not label.name.startswith("Unnamed")


def test_live_embeddings_put_related_texts_closer():
    from kura_dbt.embeddings.openai import OpenAIEmbedder

    run = OpenAIEmbedder(
        live_settings(), model=os.environ.get("KURA_LIVE_EMBEDDING_MODEL", "text-embedding-3-small")
    ).embed_with_usage(
        [
            "The user asks how to fix a pandas merge.",
            "The user asks why a pandas join duplicates rows.",
            "The user asks for a pasta recipe.",
        ]
    )
    assert run.errors == [None, None, None] and run.prompt_tokens[0]
    similarity = run.vectors @ run.vectors.T
    assert similarity[0, 1] > similarity[0, 2]
