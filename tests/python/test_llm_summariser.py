"""The LLM summariser with the real `openai` client and `instructor`, against an
OpenAI-compatible server on localhost that replays errors."""

import os

import pandas as pd
import pytest

from kura_dbt.llm import LLMSettings, fit_to_budget
from kura_dbt.summaries import Message
from kura_dbt.summaries.openai import OpenAISummariser, parse_facets

from .fake_openai import FakeOpenAI
from .state_store import summarise


def settings(server: FakeOpenAI, **overrides) -> LLMSettings:
    return server.settings(**{"max_retries": 3, **overrides})


def convo(text: str) -> list[Message]:
    return [Message("user", text), Message("assistant", "Sure, here you go.")]


@pytest.fixture
def server():
    os.environ["KURA_TEST_KEY"] = "sk-test-secret-key-1234567890"
    with FakeOpenAI(slow_s=5.0) as fake:
        yield fake


def test_structured_summary_with_usage_and_cost(server):
    record = OpenAISummariser(settings(server)).summarise(convo("Find me a bus to Fresno."), "c1")
    assert record.error is None
    assert record.summary == "The user asks for help: Find me a bus to Fresno."
    assert record.concerning_score == 1 and record.user_frustration == 2
    assert record.assistant_errors == []
    assert (record.prompt_tokens, record.completion_tokens, record.llm_calls) == (100, 20, 1)
    assert record.cost_usd == pytest.approx((100 * 1.0 + 20 * 2.0) / 1e6)
    sent = server.requests[0]
    assert sent["model"] == "test-model"
    assert "Leave out names" in sent["messages"][0]["content"]


@pytest.mark.parametrize("http_client", ["aiohttp", "httpx"])
@pytest.mark.parametrize("marker", ["[[429]]", "[[500-once]]", "[[slow]]"])
def test_transient_failures_are_retried(server, marker, http_client):
    summariser = OpenAISummariser(settings(server, http_client=http_client))
    record = summariser.summarise(convo(f"Book a hotel {marker}"), "c1")
    assert record.error is None, record.error
    assert record.llm_calls == 2
    assert len(server.requests) == 2


def test_both_http_transports_send_the_same_request(server):
    for kind in ("aiohttp", "httpx"):
        record = OpenAISummariser(settings(server, http_client=kind)).summarise(
            convo("Fix my bike."), "c1"
        )
        assert record.error is None, (kind, record.error)
    assert len(server.requests) == 2
    assert server.requests[0] == server.requests[1]


def test_unknown_http_client_is_named():
    with pytest.raises(ValueError, match="kura__llm_http_client 'requests'"):
        LLMSettings(http_client="requests")
    with pytest.raises(ValueError, match="kura__llm_max_requests_per_minute must be positive"):
        LLMSettings.from_config({"llm": '{"max_requests_per_minute": 0}'})
    assert (
        LLMSettings.from_config(
            {"llm": '{"max_requests_per_minute": null}'}
        ).max_requests_per_minute
        is None
    )
    assert (
        LLMSettings.from_config(
            {"llm": '{"max_requests_per_minute": "500"}'}
        ).max_requests_per_minute
        == 500
    )


def test_connections_are_closed_after_each_run(server):
    """Each run opens its client on its own event loop and closes it there: nothing leaks
    (aiohttp warns about an unclosed session when it is garbage-collected)."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            records = OpenAISummariser(settings(server)).summarise_many(
                [(str(i), convo(f"Question {i}")) for i in range(6)]
            )
            assert all(r.error is None for r in records)
        gc.collect()
    assert not [w for w in caught if "nclosed" in str(w.message)], [str(w.message) for w in caught]


def test_response_schema_is_computed_once_and_sent_unchanged(server, monkeypatch):
    from pydantic.json_schema import GenerateJsonSchema

    from kura_dbt.llm import prepare_response_model
    from kura_dbt.summaries import ConversationSummary

    prepared = prepare_response_model(ConversationSummary)
    assert prepare_response_model(ConversationSummary) is prepared
    schema = prepared.model_json_schema()
    schema["properties"].clear()  # a caller editing its copy does not change the next one
    assert (
        prepared.model_json_schema()["properties"].keys() == ConversationSummary.model_fields.keys()
    )
    generated = []
    original = GenerateJsonSchema.generate
    monkeypatch.setattr(
        GenerateJsonSchema,
        "generate",
        lambda self, *a, **k: generated.append(1) or original(self, *a, **k),
    )
    summariser = OpenAISummariser(settings(server))
    records = summariser.summarise_many([(str(i), convo(f"Question {i}")) for i in range(5)])
    assert all(r.error is None for r in records)
    assert generated == []  # five requests, no schema generation
    assert all('"concerning_score"' in r["messages"][0]["content"] for r in server.requests)
    assert ConversationSummary.model_json_schema.__func__ is not prepared.model_json_schema.__func__


def test_malformed_json_is_reasked_by_instructor(server):
    record = OpenAISummariser(settings(server)).summarise(convo("Plan a trip [[malformed]]"), "c1")
    assert record.error is None, record.error
    assert len(server.requests) == 2


def test_persistent_failures_become_rows_with_errors_and_nothing_is_lost(server):
    summariser = OpenAISummariser(settings(server, max_retries=2))
    records = summariser.summarise_many(
        [
            ("ok", convo("Find a restaurant.")),
            ("down", convo("Anything [[500-always]]")),
            ("bad", convo("Anything [[badschema]]")),
            ("empty", [Message("user", "   ")]),
        ]
    )
    by_id = {r.conversation_id: r for r in records}
    assert set(by_id) == {"ok", "down", "bad", "empty"}
    assert by_id["ok"].error is None
    assert "500" in by_id["down"].error and by_id["down"].llm_calls == 3
    assert by_id["bad"].error is not None and by_id["bad"].summary is None
    assert by_id["empty"].llm_calls == 0 and "empty" in by_id["empty"].flags


def test_an_echoed_api_key_is_scrubbed_from_errors_and_logs(server, monkeypatch, caplog):
    """The server repeats the key it was sent in its error message ([[echo-key]]): the stored
    error and the libraries' log lines have [API_KEY] instead. The key is not sk-..., so it is
    scrubbed as the key itself, not by the pattern; and it is scrubbed before the error is cut
    to 500 characters, so a cut through the key leaves no part of it."""
    import logging

    key = "xq7-secret-0123456789abcdef"
    monkeypatch.setenv("KURA_TEST_KEY", key)
    summariser = OpenAISummariser(settings(server, max_retries=0))
    with caplog.at_level(logging.DEBUG):
        [echoed] = summariser.summarise_many([("c1", convo("Anything [[echo-key]]"))])
        assert "400" in echoed.error and "[API_KEY]" in echoed.error
        assert key not in echoed.error
        # the same message with the key across the 500th character
        pad = 500 - len(key) // 2 - echoed.error.index("[API_KEY]")
        [cut] = summariser.summarise_many([("c2", convo(f"Anything [[echo-key:{pad}]]"))])
    assert len(cut.error) <= 500 and key[:6] not in cut.error
    assert "[API_KEY]" in caplog.text  # instructor logged the failed calls ...
    assert key[:6] not in caplog.text  # ... without the key


def test_concurrency_is_bounded(tmp_path):
    os.environ["KURA_TEST_KEY"] = "k"
    with FakeOpenAI(latency_s=0.2) as server:
        summariser = OpenAISummariser(settings(server, max_concurrency=3))
        records = summariser.summarise_many([(str(i), convo(f"question {i}")) for i in range(12)])
    assert all(r.error is None for r in records)
    assert server.max_in_flight == 3


def test_extra_facets_come_back_typed(server):
    facets = parse_facets(
        [
            {"name": "topic", "question": "What is the topic?", "type": "text"},
            {"name": "urgency", "question": "How urgent is it?", "type": "score"},
            {"name": "resolved", "question": "Was it resolved?", "type": "boolean"},
            {"name": "products", "question": "Which products?", "type": "list"},
            {
                "name": "channel",
                "question": "Which channel?",
                "type": "choice",
                "values": ["web", "app"],
            },
        ]
    )
    summariser = OpenAISummariser(settings(server), facets)
    record = summariser.summarise(convo("Find me a bus."), "c1")
    assert record.extra_facets == {
        "topic": "travel",
        "urgency": 4,
        "resolved": True,
        "products": ["bus"],
        "channel": "web",
    }
    assert summariser.prompt_version != OpenAISummariser(settings(server)).prompt_version


def test_bad_facet_declarations_are_named():
    with pytest.raises(ValueError, match=r"kura__extra_facets\[0\]\.type"):
        parse_facets([{"name": "x", "question": "q", "type": "number"}])
    with pytest.raises(ValueError, match="at least two values"):
        parse_facets([{"name": "x", "question": "q", "type": "choice", "values": ["a"]}])
    with pytest.raises(ValueError, match="built-in facet"):
        parse_facets([{"name": "summary", "question": "q"}])


def test_long_transcripts_keep_start_and_end_and_are_flagged(server):
    text, cut = fit_to_budget("START " + "x" * 100_000 + " END", 1_000)
    assert cut and text.startswith("START") and text.endswith("END") and len(text) < 4_200
    record = OpenAISummariser(settings(server, max_transcript_tokens=500)).summarise(
        convo("Summarise this: " + "word " * 20_000), "c1"
    )
    assert "truncated" in record.flags
    sent = [
        m["content"] for m in server.requests[-1]["messages"] if "<transcript>" in str(m["content"])
    ]
    assert len(sent) == 1 and len(sent[0]) < 2_500


def test_missing_api_key_for_the_openai_api_is_a_clear_error():
    os.environ.pop("KURA_MISSING_KEY", None)
    summariser = OpenAISummariser(LLMSettings(api_key_env="KURA_MISSING_KEY"))
    with pytest.raises(RuntimeError, match="KURA_MISSING_KEY"):
        summariser.summarise(convo("hi there, book a flight"))


def test_pipeline_reruns_make_no_calls_and_a_model_change_resummarises(server):
    messages = '[{"role": "user", "content": "Find a bus to Fresno."}]'
    transcripts = pd.DataFrame(
        {
            "conversation_id": ["a", "b"],
            "user_id": ["u", "u"],
            "messages_json": [messages, messages.replace("Fresno", "Reno")],
            "content_hash": ["h1", "h2"],
        }
    )
    config = {
        "summariser": "openai",
        "llm_model": "test-model",
        "llm_base_url": server.base_url,
        "llm_api_key_env": "KURA_TEST_KEY",
        "llm_timeout_s": "3",
        "llm_backoff_base_s": "0.01",
    }
    first = summarise(transcripts, None, config)
    assert len(first) == 2 and first["error"].isna().all()
    calls = len(server.requests)
    again = summarise(transcripts, first, config)
    assert again.empty and len(server.requests) == calls
    other = summarise(transcripts, first, {**config, "llm_model": "other"})
    assert len(other) == 2 and len(server.requests) == calls + 2


def test_clio_hierarchy_proposes_deduplicates_assigns_and_never_leaves_one_child(server):
    import numpy as np

    from kura_dbt.hierarchy import build_hierarchy, label_cache
    from kura_dbt.labels.openai import OpenAILabeller

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(24, 16))
    X = np.concatenate([c + 0.05 * rng.normal(size=(5, 16)) for c in centres]).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = np.repeat(np.arange(24), 5)
    texts = [f"topic {label} question" + (" [[invalid]]" if label == 3 else "") for label in labels]
    labeller = OpenAILabeller(settings(server, max_concurrency=8))
    labeller.neighbourhood_size = 10  # several neighbourhoods, so names overlap and get merged
    frame = build_hierarchy(
        X,
        labels,
        texts,
        [f"u{i}" for i in range(len(labels))],
        max_top=3,
        branching=4,
        labeller=labeller,
    )
    top = frame[frame["parent_id"].isna()]
    assert len(top) == 3  # exactly kura__max_top_clusters, whatever the model proposed
    assert top["size"].sum() == len(labels)
    children = frame[frame["parent_id"].notna()].groupby("parent_id").size()
    assert children.min() >= 2
    for level, rows in frame.groupby("level"):
        assert rows["size"].sum() <= len(labels)
    prompts = [m["content"] for r in server.requests for m in r["messages"]]
    assert any("Propose about" in p for p in prompts)
    assert any("<candidates>" in p for p in prompts)
    assert sum("<categories>" in p for p in prompts) >= 24
    assert labeller.unresolved >= 1  # the [[invalid]] answer was resolved by its neighbours
    # a rerun with the stored names and groups asks the model nothing
    cache = label_cache(frame)  # what a re-discovery reads from the stored taxonomy
    before = len(server.requests)
    again = build_hierarchy(
        X,
        labels,
        texts,
        [f"u{i}" for i in range(len(labels))],
        max_top=3,
        branching=4,
        labeller=labeller,
        cache=cache,
    )
    assert len(server.requests) == before
    assert again[["cluster_id", "parent_id", "name"]].equals(
        frame[["cluster_id", "parent_id", "name"]]
    )
    # every call is accounted for on the cluster rows (names + shares of the grouping calls)
    assert frame["llm_calls"].sum() == before and again["llm_calls"].sum() == 0


def test_first_wave_requests_leave_while_the_rest_are_built():
    """gather_bounded starts the first wave one job per loop turn: a job that has started
    and is waiting on I/O gets to send before the last of the wave is built. Results stay in
    order and the bound holds."""
    import asyncio

    from kura_dbt.llm import gather_bounded

    events: list[str] = []
    in_flight = [0, 0]

    def job(i: int):
        async def run():
            events.append(f"build {i}")
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            await asyncio.sleep(0)  # the socket write
            events.append(f"sent {i}")
            await asyncio.sleep(0.01)  # the answer
            in_flight[0] -= 1
            return i

        return run

    results = asyncio.run(gather_bounded([job(i) for i in range(12)], max_concurrency=5))
    assert results == list(range(12))
    assert in_flight[1] == 5
    assert events.index("sent 0") < events.index("build 4")


def test_requests_are_paced_to_the_requests_per_minute_limit():
    """With kura__llm_max_requests_per_minute, requests leave evenly spaced whatever the
    concurrency: 600 a minute is one every 0.1 s."""
    os.environ["KURA_TEST_KEY"] = "sk-test-secret-key-1234567890"
    with FakeOpenAI() as fake:
        summariser = OpenAISummariser(
            settings(fake, max_concurrency=8, max_requests_per_minute=600)
        )
        records = summariser.summarise_many(
            [(str(i), convo(f"Pace question {i}")) for i in range(8)]
        )
    assert all(r.error is None for r in records)
    gaps = [b - a for a, b in zip(fake.arrivals, fake.arrivals[1:])]
    assert len(gaps) == 7
    # unpaced, eight concurrent requests arrive within a few ms of each other; paced, 0.1 s
    # apart (give or take the time a new connection takes to open)
    assert fake.arrivals[-1] - fake.arrivals[0] > 0.6, gaps
    assert sorted(gaps)[len(gaps) // 2] > 0.08, gaps


def test_a_429_holds_the_other_calls_until_retry_after():
    """The first request of the run is rate limited with Retry-After 0.8 s: the calls that were
    not yet sent wait for it too, instead of each running into the limit."""
    os.environ["KURA_TEST_KEY"] = "sk-test-secret-key-1234567890"
    with FakeOpenAI(latency_s=0.05, rate_limit_first_s=0.8) as fake:
        summariser = OpenAISummariser(settings(fake, max_concurrency=2, backoff_base_s=0.01))
        records = summariser.summarise_many(
            [(str(i), convo(f"Limit question {i}")) for i in range(6)]
        )
    assert all(r.error is None for r in records), [r.error for r in records]
    assert len(fake.arrivals) == 7  # six answers and the one 429
    limited = fake.limited_at
    # a request already in flight when the 429 came may arrive around it; none after it
    # arrives before the pause is over
    early = [t - limited for t in fake.arrivals if 0.2 < t - limited < 0.75]
    assert early == [], early
