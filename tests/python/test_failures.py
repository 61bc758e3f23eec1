"""One failure policy for every stage (kura_dbt.failures): a run in which every row the stage
attempted failed fails the model with the first error; partial failures are kept, counted and
retried on the next run; nothing to do is not a failure. Against the local OpenAI-compatible
server, with the real `openai` client and `instructor`."""

import json
import os

import duckdb
import numpy as np
import pandas as pd
import pytest

from kura_dbt import pipeline
from kura_dbt.failures import StageFailed, check_failures
from kura_dbt.frames import Warehouse

from .fake_openai import FakeOpenAI
from .state_store import FakeDbt, embed, summarise

RIGHT_KEY = "sk-right-key-0123456789"
WRONG_KEY = "wrong-key-abcdef0123456789"  # not sk-...: scrubbed as the key, not as a pattern


@pytest.fixture
def server():
    os.environ["KURA_TEST_KEY"] = RIGHT_KEY
    with FakeOpenAI(api_key=RIGHT_KEY) as fake:
        yield fake


def _config(server: FakeOpenAI, **extra) -> dict:
    return {
        "summariser": "openai",
        "embedder": "openai",
        "embedding_model": "embed-model",
        "llm_model": "test-model",
        "llm_base_url": server.base_url,
        "llm_api_key_env": "KURA_TEST_KEY",
        "llm_timeout_s": "3",
        "llm_max_retries": "1",
        "llm_backoff_base_s": "0.01",
        **extra,
    }


def _transcripts(texts: dict[str, str]) -> pd.DataFrame:
    rows = []
    for cid, text in texts.items():
        messages = (
            []
            if not text
            else [{"role": "user", "content": text}, {"role": "assistant", "content": "Sure."}]
        )
        rows.append(
            {
                "conversation_id": cid,
                "user_id": "u",
                "messages_json": json.dumps(messages),
                "content_hash": pipeline.text_hash(json.dumps(messages)),
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the policy


def test_the_policy():
    assert check_failures("summaries", []) == 0  # nothing to do is not a failure
    assert check_failures("summaries", [None, None]) == 0
    assert check_failures("summaries", [None, "boom", "bang"]) == 2  # kept and counted
    with pytest.raises(
        StageFailed,
        match=r"2 of 2 embeddings attempted in this run "
        r"failed \(embedder x\); the first error: boom$",
    ) as failed:
        check_failures("embeddings", ["boom", "bang"], "embedder x")
    assert isinstance(failed.value, RuntimeError) and failed.value.first_error == "boom"
    # only retries of earlier failures: kept, counted, not a failed model
    assert check_failures("summaries", ["boom", "bang"], retries=[True, True]) == 2
    with pytest.raises(StageFailed):
        check_failures("summaries", ["boom", "bang"], retries=[True, False])


# ----------------------------------------------------------------------------- summaries


def test_a_wrong_key_fails_the_summaries_with_the_first_error(server, monkeypatch):
    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    transcripts = _transcripts({"a": "Find a bus to Fresno.", "b": "Bake bread.", "c": ""})
    expected = (
        r"2 of 2 summaries attempted .*"
        r"\(summariser openai, model test-model\); the first error: .*401"
    )
    with pytest.raises(StageFailed, match=expected) as failed:
        summarise(transcripts, None, _config(server))
    assert WRONG_KEY not in str(failed.value) and "[API_KEY]" in str(failed.value)
    assert len(server.requests) == 2  # a 401 is not retried; the empty conversation is not asked


def test_a_wrong_key_fails_the_summaries_model_too(server, monkeypatch):
    """The same through the dbt model's path (the rows to do selected in SQL)."""
    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    transcripts = _transcripts({"a": "Find a bus to Fresno."})
    with Warehouse(FakeDbt(False), duckdb.connect(), transcripts=transcripts) as wh:
        with pytest.raises(StageFailed, match="401"):
            pipeline.summarise_new(wh, _config(server))


def test_every_call_failing_fails_the_summaries(server):
    transcripts = _transcripts(
        {"a": "Plan a trip [[500-always]]", "b": "Fix a bug [[500-always]]", "empty": ""}
    )
    with pytest.raises(StageFailed, match=r"2 summaries .*the first error: .*500"):
        summarise(transcripts, None, _config(server))
    assert len(server.requests) == 4  # each conversation: one try and one retry


def test_a_partial_failure_is_kept_counted_and_retried_next_run(server):
    transcripts = _transcripts(
        {"a": "Find a bus to Fresno.", "b": "Book a hotel [[500-once]]", "empty": ""}
    )
    config = _config(server, llm_max_retries="0")
    first = summarise(transcripts, None, config)
    assert list(first["conversation_id"]) == ["a", "b", "empty"]
    errors = dict(zip(first["conversation_id"], first["error"]))
    assert pd.isna(errors["a"]) and pd.isna(errors["empty"])
    assert "500" in errors["b"] and pd.isna(first.loc[1, "summary"])
    assert first["error"].notna().sum() == 1  # counted: kura__llm_usage sums this column
    calls = len(server.requests)
    # the next run retries only the failed conversation, which now succeeds
    second = summarise(transcripts, first, config)
    assert list(second["conversation_id"]) == ["b"]
    assert second["error"].isna().all() and second["summary"].notna().all()
    assert len(server.requests) == calls + 1


def test_a_conversation_that_always_fails_does_not_fail_every_nightly_build(server):
    """Only retries of earlier failures in a run: kept and counted, the model does not fail
    (a new conversation failing with them still fails it, see test_the_policy)."""
    con = duckdb.connect()
    transcripts = _transcripts({"a": "Find a bus to Fresno.", "b": "Refused [[500-always]]"})
    config = _config(server, llm_max_retries="0")
    with Warehouse(FakeDbt(False), con, transcripts=transcripts) as wh:
        first = pipeline.summarise_new(wh, config)
    assert first["error"].notna().sum() == 1
    con.register("rows", first)
    con.execute("create table state as select * from rows")
    with Warehouse(FakeDbt(True), con, transcripts=transcripts) as wh:
        again = pipeline.summarise_new(wh, config)  # only b, which fails again: no StageFailed
    assert list(again["conversation_id"]) == ["b"] and again["error"].notna().all()
    changed = _transcripts(
        {
            "a": "Find a bus to Fresno.",
            "b": "Refused [[500-always]]",
            "c": "Also refused [[500-always]]",
        }
    )
    with Warehouse(FakeDbt(True), con, transcripts=changed) as wh:
        with pytest.raises(StageFailed):  # a new conversation failed too
            pipeline.summarise_new(wh, config)


def test_nothing_to_summarise_is_not_a_failure(server, monkeypatch):
    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    done = summarise(_transcripts({"empty": ""}), None, _config(server))
    assert len(done) == 1 and done["error"].isna().all()  # an empty conversation: no call
    columns = ["conversation_id", "user_id", "messages_json", "content_hash"]
    nothing = summarise(_transcripts({}).reindex(columns=columns), None, _config(server))
    assert nothing.empty and server.requests == []


# ----------------------------------------------------------------------------- embeddings


def _summaries(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "conversation_id": [f"c{i}" for i in range(len(texts))],
            "summary": texts,
            "error": [None] * len(texts),
        }
    )


def test_a_wrong_key_fails_the_embeddings_with_the_first_error(server, monkeypatch):
    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    with pytest.raises(
        StageFailed,
        match=r"3 of 3 embeddings attempted .*"
        r"\(embedder openai, model embed-model\); the first error: .*401",
    ) as failed:
        embed(_summaries(["Plan a trip", "Fix a bug", "Bake bread"]), None, _config(server))
    assert WRONG_KEY not in str(failed.value)


def test_a_partial_embedding_failure_is_kept(server):
    done = embed(
        _summaries(["Plan a trip", "Fix a bug [[embed-500]]"]),
        None,
        _config(server, embedding_batch_size=1),
    )
    assert done["error"].notna().tolist() == [False, True]


def test_nothing_to_embed_is_not_a_failure(server, monkeypatch):
    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    assert embed(_summaries([]), None, _config(server)).empty
    assert server.requests == []


# ----------------------------------------------------------------------------- cluster names


def _clusters(k: int = 4, n: int = 5):
    rng = np.random.default_rng(0)
    X = np.concatenate([c + 0.05 * rng.normal(size=(n, 8)) for c in rng.normal(size=(k, 8))])
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    labels = np.repeat(np.arange(k), n)
    return X, labels, [f"topic {label} question {i}" for i, label in enumerate(labels)]


def test_a_wrong_key_fails_the_cluster_names_at_once(server, monkeypatch):
    from kura_dbt.hierarchy import build_hierarchy
    from kura_dbt.labels import LABELLERS
    from kura_dbt.settings import Settings

    monkeypatch.setenv("KURA_TEST_KEY", WRONG_KEY)
    labeller = LABELLERS.build("openai", Settings.from_config(_config(server, labeller="openai")))
    X, labels, texts = _clusters()
    with pytest.raises(
        StageFailed,
        match=r"4 of 4 cluster names attempted .*"
        r"\(labeller openai\); the first error: .*401",
    ) as failed:
        build_hierarchy(X, labels, texts, [None] * len(texts), max_top=2, labeller=labeller)
    assert WRONG_KEY not in str(failed.value)
    assert len(server.requests) == 4  # the base names; no grouping or parent calls after them


def test_some_names_failing_keep_their_rows_with_label_error(server):
    from kura_dbt.hierarchy import build_hierarchy
    from kura_dbt.labels.openai import OpenAILabeller
    from kura_dbt.llm import LLMSettings

    settings = LLMSettings(
        model="test-model",
        base_url=server.base_url,
        api_key_env="KURA_TEST_KEY",
        max_retries=0,
        backoff_base_s=0.01,
    )
    X, labels, texts = _clusters()
    texts = [t + (" [[500-always]]" if label == 2 else "") for t, label in zip(texts, labels)]
    frame = build_hierarchy(
        X,
        labels,
        texts,
        [None] * len(texts),
        max_top=8,
        n_contrast=0,
        labeller=OpenAILabeller(settings),
    )
    failed = frame[frame["label_error"]]
    assert len(failed) == 1 and failed["name"].iloc[0].startswith("Unnamed cluster")
    assert failed[["attempts", "gave_up"]].values.tolist() == [[1, False]]
    assert "500" in failed["error"].iloc[0]
    assert frame.loc[~frame["label_error"], "error"].isna().all()


# ----------------------------------------------------------------------------- parking


def _night(con, transcripts, config, exists: bool) -> pd.DataFrame:
    """One build of kura__summaries: rows selected in SQL, merged into the table ``state``."""
    from .state_store import merge_into_state

    with Warehouse(FakeDbt(exists), con, transcripts=transcripts) as wh:
        rows = pipeline.summarise_new(wh, config)
    merge_into_state(con, rows, "conversation_id", exists)
    return rows


def _sent(server: FakeOpenAI, marker: str) -> int:
    return sum(marker in json.dumps(r) for r in server.requests)


def test_a_conversation_that_keeps_failing_is_parked_after_three_nights(server):
    """kura_dbt.parking: attempts counted per input key; after kura__llm_max_attempts (3)
    failing nights the row is parked (gave_up, its last error kept) and not sent again until
    its content changes or kura__llm_retry_gave_up is set."""
    con = duckdb.connect()
    config = _config(server, llm_max_retries="0", llm_max_validation_retries="0")
    texts = {"a": "Find a bus to Fresno.", "b": "Tell me a secret [[answer:refusal]]"}
    for night in (1, 2, 3):
        texts[f"new{night}"] = f"Plan day {night} of a trip."  # every night has new work
        _night(con, _transcripts(texts), config, exists=night > 1)
        query = "select attempts, gave_up, error from state where conversation_id = 'b'"
        attempts, gave_up, error = con.execute(query).fetchall()[0]
        assert attempts == night and gave_up is (night == 3)
        assert error.startswith("the model refused: I'm sorry, I cannot assist")
    assert _sent(server, "[[answer:refusal]]") == 3
    # night 4: parked, not sent; the rest of the build goes on
    texts["new4"] = "Plan day 4 of a trip."
    rows = _night(con, _transcripts(texts), config, exists=True)
    assert list(rows["conversation_id"]) == ["new4"]
    assert _sent(server, "[[answer:refusal]]") == 3
    assert con.execute("select attempts from state where conversation_id = 'a'").fetchall() == [
        (1,)
    ]
    # the user asks for one more try: sent once, parked again
    retried = _night(con, _transcripts(texts), {**config, "llm_retry_gave_up": "true"}, True)
    assert list(retried["conversation_id"]) == ["b"] and _sent(server, "[[answer:refusal]]") == 4
    assert retried[["attempts", "gave_up"]].values.tolist() == [[4, True]]
    # its content changes: a new input key, counted from 1 again
    texts["b"] = "Tell me a secret, please [[answer:refusal]]"
    changed = _night(con, _transcripts(texts), config, exists=True)
    assert changed[["conversation_id", "attempts", "gave_up"]].values.tolist() == [["b", 1, False]]


def test_the_frame_path_parks_too(server):
    transcripts = _transcripts({"a": "Find a bus.", "b": "A secret [[answer:content_filter]]"})
    config = _config(server, llm_max_retries="0", llm_max_attempts="2")
    first = summarise(transcripts, None, config)
    second = summarise(transcripts, first, config)
    assert second[["conversation_id", "attempts", "gave_up"]].values.tolist() == [["b", 2, True]]
    assert "content filter stopped the answer" in second["error"].iloc[0]
    state = pd.concat([first[first["conversation_id"] == "a"], second])
    third = summarise(transcripts, state, config)
    assert third.empty


def test_an_embedding_that_keeps_failing_is_parked(server):
    con = duckdb.connect()
    summaries = _summaries(["Plan a trip", "Fix a bug [[embed-500]]"]).assign(request=None)
    config = _config(server, embedding_batch_size=1, llm_max_retries="0")
    for night in (1, 2, 3, 4):
        with Warehouse(FakeDbt(night > 1), con, summaries=summaries) as wh:
            rows = pipeline.embed_new(wh, config)
        from .state_store import merge_into_state

        merge_into_state(con, rows, "conversation_id", night > 1)
        if night < 4:
            assert rows[["conversation_id", "attempts"]].values.tolist()[-1] == ["c1", night]
    assert rows.empty  # night 4: parked
    assert con.execute("select gave_up from state where conversation_id = 'c1'").fetchall() == [
        (True,)
    ]
    assert _sent(server, "[[embed-500]]") == 3


def test_a_cluster_name_that_keeps_failing_is_parked(server):
    """A name asked for at each discovery: counted per label key, parked after 3 failures, not
    asked at the 4th, asked again with retry_gave_up; the error says what the answer lacked."""
    from kura_dbt.hierarchy import build_hierarchy, label_cache
    from kura_dbt.labels.openai import OpenAILabeller
    from kura_dbt.parking import RetryPolicy

    labeller = OpenAILabeller(server.settings(max_retries=0, max_validation_retries=0))
    X, labels, texts = _clusters()
    marker = "[[answer-names:missing_field]]"
    texts = [t + (f" {marker}" if label == 2 else "") for t, label in zip(texts, labels)]
    frame = None

    def discover(policy: RetryPolicy) -> pd.DataFrame:
        cache = label_cache(frame)
        return build_hierarchy(
            X,
            labels,
            texts,
            [None] * len(texts),
            8,
            labeller=labeller,
            n_contrast=0,
            cache=cache,
            policy=policy,
        )

    for night in (1, 2, 3, 4):
        frame = discover(RetryPolicy())
        failed = frame[frame["label_error"]]
        assert failed[["attempts", "gave_up"]].values.tolist() == [[min(night, 3), night >= 3]]
        assert (
            failed["error"]
            .iloc[0]
            .startswith("the answer misses required field(s): name, description")
        )
        assert _sent(server, marker) == min(night, 3)  # night 4: parked, not asked
    assert failed["name"].iloc[0].startswith("Unnamed cluster")
    assert len(server.requests) == 4 + 2  # 4 names, then the failing one twice more
    frame = discover(RetryPolicy(retry_gave_up=True))
    assert _sent(server, marker) == 4
    assert frame.loc[frame["label_error"], "attempts"].tolist() == [4]


STOPPED = [
    ("refusal", "the model refused: I'm sorry, I cannot assist with that request."),
    ("length", "answer cut at max_tokens (finish_reason length after 24 completion tokens)"),
    ("content_filter", "the provider's content filter stopped the answer"),
]
RECORDED = [*STOPPED, ("missing_field", "the answer misses required field(s): ")]


@pytest.mark.parametrize(("fixture", "expected"), RECORDED)
def test_recorded_answers_fail_a_summary_and_a_name_with_their_cause(server, fixture, expected):
    """tests/fixtures/openai: each recorded answer through the real client and instructor; the
    row keeps the cause first, and the tokens the failed answers were billed."""
    from kura_dbt.labels.openai import OpenAILabeller

    transcripts = _transcripts({"a": f"A bus [[answer:{fixture}]]", "b": "Bake bread."})
    rows = summarise(transcripts, None, _config(server))
    assert rows["error"].iloc[0].startswith(expected) and pd.isna(rows["error"].iloc[1])
    assert rows["prompt_tokens"].iloc[0] > 0  # the failed answers' usage, as the body says
    # a refusal or a filtered or cut answer is not re-asked (it would come back the same); an
    # answer missing a field is, max_validation_retries (2) times
    assert rows["llm_calls"].iloc[0] == (3 if fixture == "missing_field" else 1)
    labeller = OpenAILabeller(server.settings(max_retries=0))
    named, failed = labeller.label(
        [["buses"], [f"trains [[answer-names:{fixture}]]"]], ["buses", "trains"], [1, 1]
    )
    assert named.error is None and failed.error.startswith(expected)


@pytest.mark.parametrize(("fixture", "expected"), STOPPED)
def test_recorded_answers_fail_a_classification_with_their_cause(server, fixture, expected):
    from kura_dbt.classify.base import Item, TrainingSet
    from kura_dbt.classify.openai import LLMClassifier

    from .test_classify import CATEGORIES

    classifier = LLMClassifier(server.settings(max_retries=0), batch_size=2)
    classifier.fit(TrainingSet(CATEGORIES, [], [], None, []))
    items = [Item("a", f"a bus journey [[answer-classify:{fixture}]]"), Item("b", "the weather")]
    predictions = classifier.classify(items)
    assert [p.category_id for p in predictions] == [None, None]  # one batch, one answer
    assert all(p.error.startswith(expected) for p in predictions)


def test_a_classification_answer_missing_its_field_is_other_with_the_cause(server):
    """An answer that never validates is `other` (kura_dbt.classify.openai), noted with what
    it lacked; the model answered, so it is not an error to retry."""
    from kura_dbt.classify.base import Item, TrainingSet
    from kura_dbt.classify.openai import LLMClassifier

    from .test_classify import CATEGORIES

    classifier = LLMClassifier(server.settings(max_retries=0), batch_size=1)
    classifier.fit(TrainingSet(CATEGORIES, [], [], None, []))
    items = [Item("a", "a bus [[answer-classify:missing_field]]"), Item("b", "weather today")]
    first, second = classifier.classify(items)
    assert first.category_id == "other" and first.error is None
    assert first.note == "invalid answer: the answer misses required field(s): answers"
    assert second.category_id == "weather" and second.note is None


def test_the_run_summary_counts_the_parked_rows(server):
    from kura_dbt.pipeline import _summary_line

    transcripts = _transcripts({"a": "Find a bus.", "b": "A secret [[answer:refusal]]"})
    config = _config(server, llm_max_retries="0", llm_max_attempts="1")
    frame = summarise(transcripts, None, config)
    line = _summary_line("kura__summaries", frame, 2, 2, 0.0, object())
    assert "1 errors" in line and "1 parked after kura__llm_max_attempts failures" in line
