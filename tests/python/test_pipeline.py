"""The functions the dbt Python models call: incremental selection, schemas, errors."""

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from kura_dbt import pipeline
from kura_dbt.frames import Warehouse
from kura_dbt.settings import Settings

from .state_store import (
    FakeDbt,
    Store,
    _blobs,
    _centres,
    embed,
    merge_into_state,
    summarise,
    text_hash,
)


def _transcripts(texts: dict[str, str]) -> pd.DataFrame:
    rows = []
    for cid, text in texts.items():
        messages = json.dumps(
            [{"role": "user", "content": text}, {"role": "assistant", "content": "Sure."}]
        )
        rows.append(
            {
                "conversation_id": cid,
                "user_id": "u1",
                "messages_json": messages,
                "content_hash": pipeline.text_hash(messages),
            }
        )
    return pd.DataFrame(rows)


def test_summarise_first_run_then_only_new_changed_and_failed():
    first = _transcripts({"a": "Find me a bus to Fresno.", "b": "Book a table for two tonight."})
    done = summarise(first, None, {})
    assert list(done["conversation_id"]) == ["a", "b"]
    assert done["summary"].str.contains("Fresno").iloc[0]
    assert list(done.columns) == list(pipeline.SUMMARY_SCHEMA)

    state = done.copy()
    state.loc[state["conversation_id"] == "b", "error"] = "RateLimitError: try later"
    second = _transcripts(
        {
            "a": "Find me a bus to Fresno.",
            "b": "Book a table for two tonight.",
            "c": "What is the weather in Paris?",
        }
    )
    redo = summarise(second, state, {})
    assert sorted(redo["conversation_id"]) == ["b", "c"]  # b failed last time, c is new

    changed = _transcripts({"a": "Find me a train to Fresno instead."})
    assert list(summarise(changed, done, {})["conversation_id"]) == ["a"]
    unchanged = summarise(first, done, {})
    assert unchanged.empty and list(unchanged.columns) == list(pipeline.SUMMARY_SCHEMA)


def test_the_models_select_their_pending_rows_in_sql():
    """kura__summaries and kura__embeddings read only their pending rows, selected in SQL against
    their previous state: new, changed, failed, or embedded from another text."""
    con = duckdb.connect()
    first = _transcripts({"a": "Find me a bus to Fresno.", "b": "Book a table for two tonight."})
    with Warehouse(FakeDbt(False), con, transcripts=first) as wh:
        done = pipeline.summarise_new(wh, {})
    assert list(done["conversation_id"]) == ["a", "b"]
    done.loc[done["conversation_id"] == "b", "error"] = "RateLimitError: try later"
    con.register("rows", done)
    con.execute("create table state as select * from rows")
    second = _transcripts(
        {
            "a": "Find me a bus to Fresno.",
            "b": "Book a table for two tonight.",
            "c": "What is the weather in Paris?",
            "d": "Sing me a song.",
        }
    )
    second.loc[second["conversation_id"] == "d", "content_hash"] = "changed"
    with Warehouse(FakeDbt(True), con, transcripts=second) as wh:
        redo = pipeline.summarise_new(wh, {})
    assert list(redo["conversation_id"]) == ["b", "c", "d"]  # failed, new, changed
    assert (
        con.execute(
            "select count(*) from information_schema.tables where table_name like 'kura_input%'"
        ).fetchone()[0]
        == 0
    )  # the input views are dropped again

    summaries = summarise(second, None, {})
    summaries.loc[summaries["conversation_id"] == "c", "summary"] = "   "
    con.execute(
        "create table embedded as select conversation_id, 'local' as embedder, "
        "'all-MiniLM-L6-v2' as model, md5(summary) as text_hash, "
        "case when conversation_id = 'b' then 'failed' end as error "
        "from summaries where conversation_id in ('a', 'b')"
    )
    con.execute("update embedded set text_hash = 'stale' where conversation_id = 'a'")

    class Embedded(FakeDbt):
        def __init__(self) -> None:
            super().__init__(True)
            self.this = "embedded"

    with Warehouse(Embedded(), con, summaries=summaries) as wh:
        pending = pipeline.embed_new(wh, {"embedder": "local", "embedding_text": "summary"})
    assert list(pending["conversation_id"]) == ["a", "b", "d"]  # stale, failed, new; c is blank
    # the default embeds the local summariser's request: every stored hash (of the summary) is
    # stale, and c, whose request is not blank, is embedded too
    with Warehouse(Embedded(), con, summaries=summaries) as wh:
        pending = pipeline.embed_new(wh, {"embedder": "local"})
    assert list(pending["conversation_id"]) == ["a", "b", "c", "d"]


def test_the_local_summariser_s_request_is_embedded_not_its_template():
    """kura__embedding_text auto: the user's own words for the local summariser (its summary
    wraps them in a template that would cluster by phrasing); the summary when asked, or for an
    LLM summariser; a conversation without a request falls back to its summary."""
    summaries = summarise(_transcripts({"a": "Find me a bus to Fresno.", "b": "hi"}), None, {})
    request_a = summaries.set_index("conversation_id").loc["a", "request"]
    summary_b = summaries.set_index("conversation_id").loc["b", "summary"]
    assert "The user" not in request_a
    chosen = embed(summaries, None, {"embedder": "local"})  # the model's own selection
    assert list(chosen["text_hash"]) == [text_hash(request_a), text_hash(summary_b)]
    as_summary = embed(summaries, None, {"embedder": "local", "embedding_text": "summary"})
    assert list(as_summary["text_hash"]) == [text_hash(t) for t in summaries["summary"]]
    assert Settings(summariser="openai").embedded_column() == "summary"
    with pytest.raises(ValueError, match="kura__embedding_text"):
        Settings(embedding_text="title").embedded_column()


def test_a_new_prompt_version_resummarises_everything():
    first = _transcripts({"a": "Find me a bus to Fresno."})
    state = summarise(first, None, {})
    state["prompt_version"] = "local-v0"
    assert len(summarise(first, state, {})) == 1


def test_unknown_backend_names_fail_with_the_valid_names():
    with pytest.raises(ValueError, match="valid names: cortex, local, openai"):
        summarise(_transcripts({"a": "hi"}), None, {"summariser": "gpt"})


def test_settings_coerce_rendered_vars():
    assert pipeline.setting({"k": "None"}, "k", None, int) is None
    assert pipeline.setting({"k": "12"}, "k", 5, int) == 12
    assert pipeline.setting({}, "k", 5, int) == 5
    assert pipeline.setting({"k": "null"}, "k", 5, int) == 5
    with pytest.raises(ValueError, match="'k' must be int"):
        pipeline.setting({"k": "twelve"}, "k", 5, int)


def test_llm_settings_from_rendered_vars():
    from kura_dbt.llm import LLMSettings

    settings = LLMSettings.from_config(
        {
            "llm": (
                '{"model": "m", "base_url": null, "max_concurrency": "7", '
                '"input_cost_per_mtok": "0.5"}'
            ),
            "llm_timeout_s": "12",
        }
    )
    assert (settings.model, settings.base_url, settings.max_concurrency) == ("m", None, 7)
    assert (settings.input_cost_per_mtok, settings.timeout_s) == (0.5, 12.0)
    with pytest.raises(ValueError, match="kura__llm_max_retries must be int"):
        LLMSettings.from_config({"llm": '{"max_retries": "many"}'})


def test_cluster_state_from_embeddings_names_a_hierarchy_and_skips_stale_vectors():
    store = Store()
    store.add(
        "c", _blobs(_centres(6, d=32), 20, seed=0), [f"topic {i // 20} words" for i in range(120)]
    )
    # a summary whose text changed after embedding is not clustered with a stale vector
    store.summaries.loc[0, ["summary", "request"]] = "edited text"
    rows = store.build(max_top_clusters=2, seed=42)
    assigned = rows[rows["record_type"] == "conversation"]
    assert len(assigned) == 119 and "c0000" not in set(assigned["conversation_id"])
    assert assigned["cluster_id"].nunique() == 6
    assert (assigned["distance"] < 0.1).all()
    tree = rows[rows["record_type"] == "cluster"]
    assert tree["parent_id"].isna().sum() <= 2
    assert tree.loc[tree["level"] == 0, "size_at_discovery"].sum() == 119


@pytest.mark.parametrize("spelling", ["kmeans", "KMeans", " minibatch-kmeans "])
def test_clusterer_settings_apply_whatever_the_spelling_of_its_name(spelling):
    store = Store()
    store.add("c", _blobs(_centres(6, d=16, seed=1), 30, seed=1), [f"s {i}" for i in range(180)])
    rows = store.build(clusterer=spelling, n_base_clusters=4)
    assert rows.loc[rows["record_type"] == "conversation", "cluster_id"].nunique() == 4
    run = rows[rows["record_type"] == "run"].iloc[0]
    assert run["clusterer"] == spelling.strip().lower().replace("-", "_")


class _Map:
    """Builds of int_kura__map_points on a real DuckDB connection, merged by conversation_id
    as dbt-duckdb's incremental strategy does."""

    def __init__(self) -> None:
        self.con, self.built = duckdb.connect(), False
        self.embeddings = pd.DataFrame(
            columns=["conversation_id", "text_hash", "model", "embedding", "error"]
        )

    def add(self, prefix: str, X: np.ndarray) -> None:
        rows = pd.DataFrame(
            {
                "conversation_id": [f"{prefix}{i:03d}" for i in range(len(X))],
                "text_hash": [f"h{prefix}{i}" for i in range(len(X))],
                "model": "m",
                "embedding": [list(map(float, v)) for v in X],
                "error": None,
            }
        )
        self.embeddings = pd.concat([self.embeddings, rows], ignore_index=True)

    def build(self, **settings) -> pd.DataFrame:
        with Warehouse(FakeDbt(self.built), self.con, embeddings=self.embeddings) as wh:
            rows = pipeline.map_points(wh, {"seed": 1, **settings})
        merge_into_state(self.con, rows, "conversation_id", self.built)
        self.built = True
        return rows


def test_the_map_records_the_method_that_ran(monkeypatch):
    """UMAP falls back to PCA below 20 points: the map says pca, not umap, and is fitted again
    with UMAP (once) when there are enough points; a PCA map stays put while there are not."""
    import sys
    import types

    class FakeUMAP:  # stands in for umap-learn (no numba compilation in this test)
        def __init__(self, **kwargs) -> None:
            pass

        def fit_transform(self, X):
            return np.asarray(X)[:, :2]

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    points = _Map()
    points.add("a", _blobs(_centres(3, d=8), 4, seed=0))  # 12 points
    first = points.build(projector="umap")
    assert set(first["projector"]) == {"pca"} and set(first["placed_by"]) == {"fit"}
    points.add("b", _blobs(_centres(3, d=8), 1, seed=1))  # 15: PCA again, so the map stays
    second = points.build(projector="umap")
    assert list(second["placed_by"].unique()) == ["neighbours"] and len(second) == 3
    assert set(second["projector"]) == {"pca"}
    points.add("c", _blobs(_centres(3, d=8), 3, seed=2))  # 24: UMAP runs, the map is refitted
    third = points.build(projector="umap")
    assert len(third) == 24 and set(third["projector"]) == {"umap"}
    assert set(third["map_version"]) == {2}
    points.add("d", _blobs(_centres(3, d=8), 1, seed=3))
    fourth = points.build(projector="umap")  # placed on the UMAP map
    assert len(fourth) == 3 and set(fourth["projector"]) == {"umap"}
    assert set(fourth["placed_by"]) == {"neighbours"}
    # the projector the map was configured with is pca: recorded as pca
    pca = _Map()
    pca.add("a", _blobs(_centres(3, d=8), 10, seed=0))
    assert set(pca.build(projector="pca")["projector"]) == {"pca"}
