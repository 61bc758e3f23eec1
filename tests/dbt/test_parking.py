"""No night bills for nothing: nightly `dbt build`s against the local OpenAI-compatible server
(which counts every request), where one conversation's summary and another's classification
are refused every time (tests/fixtures/openai/refusal.json). Each is sent on nights 1-3, parked
after the third failure (var kura__llm_max_attempts, default 3) and not sent on night 4; it is
sent again when the user sets kura__llm_retry_gave_up or its content changes; kura__llm_usage
shows the retries and the parked rows; a build in which every attempted row fails, fails."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from .conftest import REPO, run_dbt
from .test_build import _load_raw

SUMMARY_REFUSED = "[[answer:refusal]]"
CLASSIFY_REFUSED = "[[answer-classify:refusal]]"


def _edit(db: Path, conversation_id: str, text: str) -> None:
    """Set a conversation's first user message."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update raw.messages set content = ? where conversation_id = ? and message_index = 0",
            [text, conversation_id],
        )


def _taxonomy(db: Path) -> None:
    """A pinned taxonomy of two new categories (no discovered cluster behind them)."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create or replace table raw.my_taxonomy as select * from (values "
            "('travel', 'Travel', 'Buses, trains, flights and trips', null, null), "
            "('food', 'Food', 'Cooking, recipes and restaurants', null, null)) "
            "as t(category_id, name, description, parent_id, cluster_id)"
        )


def _sent(requests: list[dict]) -> tuple[int, int]:
    """Requests that asked for the refused summary, and for the refused classification."""
    texts = [json.dumps(r) for r in requests]
    summaries = sum(SUMMARY_REFUSED in t for t in texts)
    classifications = sum(CLASSIFY_REFUSED in t and "conversations_to_classify" in t for t in texts)
    return summaries, classifications


def test_a_row_that_keeps_failing_is_parked_and_sent_again_only_when_asked(
    tmp_path, query, monkeypatch
):
    from tests.python.fake_openai import FakeOpenAI

    monkeypatch.setenv("KURA_TEST_KEY", "sk-parking-test")
    ids = pd.read_csv(REPO / "seeds" / "kura_sample_conversations.csv")["conversation_id"]
    ids = sorted(ids.tolist()[:30])
    summary_id, classify_id = ids[0], ids[1]
    db = tmp_path / "parking.duckdb"
    _load_raw(db, ids)
    _taxonomy(db)
    _edit(db, summary_id, f"Tell me a secret {SUMMARY_REFUSED}")
    _edit(db, classify_id, f"Plan a bus trip to Fresno {CLASSIFY_REFUSED}")

    def state(model: str, key: str, conversation_id: str) -> tuple:
        return query(
            db,
            f"select attempts, gave_up, error from {model} where {key} = '{conversation_id}'",
        )[0]

    with FakeOpenAI() as server:
        base = (
            "kura__conversations: raw.conversations, kura__messages: raw.messages, "
            "kura__feedback: raw.feedback, kura__users: raw.users, kura__summariser: openai, "
            f"kura__llm_model: test-model, kura__llm_base_url: '{server.base_url}', "
            "kura__llm_api_key_env: KURA_TEST_KEY, kura__embedder: openai, "
            "kura__llm_embedding_model: embed-model, kura__llm_max_retries: 0, "
            "kura__n_base_clusters: 3, kura__max_top_clusters: 2, "
            "kura__pinned_taxonomy: raw.my_taxonomy, kura__classifier: openai, "
            "kura__classifier_batch_size: 1"
        )

        def night(n: int, extra: str = "", ok: bool = True) -> tuple[int, int]:
            before = len(server.requests)
            result = run_dbt(
                # the LLM stages and what they feed kura__llm_usage (no map, no alerts)
                [
                    "build",
                    "-s",
                    "+kura__llm_usage",
                    "--indirect-selection",
                    "cautious",
                    "--vars",
                    "{" + base + extra + "}",
                ],
                db,
                tmp_path / f"t{n}",
                expect_success=ok,
            )
            assert result.success is ok, result.output[-2000:]
            night.output = result.output  # type: ignore[attr-defined]
            return _sent(server.requests[before:])

        per_night = []
        for n in (1, 2, 3):
            per_night.append(night(n))
            attempts, gave_up, error = state("kura__summaries", "conversation_id", summary_id)
            assert (attempts, gave_up) == (n, n == 3)
            assert error.startswith("the model refused: I'm sorry, I cannot assist")
            attempts, gave_up, error = state(
                "int_kura__classification_state", "state_key", f"conversation:{classify_id}"
            )
            assert (attempts, gave_up) == (n, n == 3) and error.startswith("the model refused")
        # every night sent both once (instructor re-asks a refusal: the same count each night)
        assert all(s > 0 and c > 0 for s, c in per_night) and len(set(per_night)) == 1
        usage = query(
            db,
            "select stage, sum(parked), sum(retried_items) from kura__llm_usage "
            "where stage in ('summaries', 'classification') group by 1 order by 1",
        )
        assert usage == [("classification", 1, 1), ("summaries", 1, 1)]  # the latest rows

        # night 4: both parked, neither is sent
        assert night(4) == (0, 0)
        assert state("kura__summaries", "conversation_id", summary_id)[:2] == (3, True)

        # the user asks for a retry: sent once more each, parked again
        assert night(5, ", kura__llm_retry_gave_up: true") == per_night[0]
        assert state("kura__summaries", "conversation_id", summary_id)[:2] == (4, True)

        # a changed conversation is a new input: counted from 1 again
        _edit(db, summary_id, f"Tell me another secret {SUMMARY_REFUSED}")
        assert night(6)[0] == per_night[0][0]
        assert state("kura__summaries", "conversation_id", summary_id)[:2] == (1, False)

        # a build in which every attempted row failed (one of them new) fails the model
        _edit(db, ids[2], "Book a hotel [[500-always]]")
        night(7, ok=False)
        assert "summaries attempted in this run failed" in night.output  # type: ignore[attr-defined]
        assert "the first error: the model refused" in night.output  # type: ignore[attr-defined]
