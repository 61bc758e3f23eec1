"""A few dbt builds of the clustering state without dbt: a real DuckDB connection as the
warehouse, the model's frames registered as its inputs, and the returned rows merged into the
state table by delete+insert on state_key, as dbt-duckdb's incremental strategy does."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd

from kura_dbt import pipeline
from kura_dbt.frames import Warehouse
from kura_dbt.incremental import text_hash


def _blobs(centres: np.ndarray, n: int, seed: int, noise: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + noise * rng.normal(size=(n, centres.shape[1])) for c in centres])
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _centres(k: int, d: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(k, d))


class _This:
    identifier = "state"

    def __str__(self) -> str:
        return "state"


class FakeDbt:
    """What a Python model's `dbt` object offers the Warehouse: `this` (the table `state`) and
    `is_incremental`."""

    def __init__(self, incremental: bool) -> None:
        self.this = _This()
        self.is_incremental = incremental


def merge_into_state(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, key: str, exists: bool):
    """What dbt-duckdb's incremental merge does with a model's rows: delete+insert on ``key``
    into the table ``state`` (created by the first build)."""
    con.register("new_rows", rows)
    if exists:
        con.execute(f"delete from state where {key} in (select {key} from new_rows)")
        con.execute("insert into state by name select * from new_rows")
    else:
        con.execute("create table state as select * from new_rows")
    con.unregister("new_rows")


def build(
    model: Callable[[Warehouse, dict], pd.DataFrame],
    state: pd.DataFrame | None,
    config: dict,
    **inputs: pd.DataFrame,
) -> pd.DataFrame:
    """One build of an incremental Python model through its own pipeline function (e.g.
    ``pipeline.summarise_new``): ``inputs`` as its input views and ``state`` (the rows earlier
    builds wrote; None on the first build) as its table, in a fresh DuckDB database."""
    con = duckdb.connect()
    if state is not None:
        con.register("earlier_rows", state)
        con.execute("create table state as select * from earlier_rows")
        con.unregister("earlier_rows")
    with Warehouse(FakeDbt(state is not None), con, **inputs) as wh:
        return model(wh, config)


def summarise(transcripts: pd.DataFrame, state: pd.DataFrame | None, config: dict) -> pd.DataFrame:
    """One build of ``kura__summaries`` (:func:`build` with ``pipeline.summarise_new``)."""
    return build(pipeline.summarise_new, state, config, transcripts=transcripts)


def embed(summaries: pd.DataFrame, state: pd.DataFrame | None, config: dict) -> pd.DataFrame:
    """One build of ``kura__embeddings`` (:func:`build` with ``pipeline.embed_new``)."""
    return build(pipeline.embed_new, state, config, summaries=summaries)


class Store:
    """The warehouse side of a few builds: embeddings, summaries and the state table."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.embeddings = pd.DataFrame(
            columns=["conversation_id", "text_hash", "model", "embedding", "error"]
        )
        self.summaries = pd.DataFrame(columns=["conversation_id", "summary", "request", "error"])
        # stg_kura__conversations (user and start); passed to the model once any is added
        self.conversations = pd.DataFrame(columns=["conversation_id", "user_id", "created_at"])
        self.built = False

    def add(
        self,
        prefix: str,
        X: np.ndarray,
        words: list[str],
        users: list[str | None] | None = None,
        created_at: list[pd.Timestamp] | None = None,
    ) -> list[str]:
        ids = [f"{prefix}{i:04d}" for i in range(len(X))]
        if users is not None or created_at is not None:
            who = pd.DataFrame(
                {
                    "conversation_id": ids,
                    "user_id": users or [None] * len(ids),
                    "created_at": pd.to_datetime(created_at or [None] * len(ids)),
                }
            )
            self.conversations = pd.concat([self.conversations, who], ignore_index=True)
        rows = pd.DataFrame(
            {
                "conversation_id": ids,
                "text_hash": [text_hash(w) for w in words],
                "model": "m",
                "embedding": [list(map(float, v)) for v in X],
                "error": None,
            }
        )
        texts = pd.DataFrame(
            {"conversation_id": ids, "summary": words, "request": words, "error": None}
        )
        self.embeddings = pd.concat([self.embeddings, rows], ignore_index=True)
        self.summaries = pd.concat([self.summaries, texts], ignore_index=True)
        return ids

    def build(self, **settings) -> pd.DataFrame:
        config = {"seed": 7, "max_top_clusters": 2, "rediscover_min_conversations": 1, **settings}
        inputs = {"embeddings": self.embeddings, "summaries": self.summaries}
        if len(self.conversations):
            inputs["conversations"] = self.conversations
        with Warehouse(FakeDbt(self.built), self.con, **inputs) as wh:
            rows = pipeline.cluster_state(wh, config)
        merge_into_state(self.con, rows, "state_key", self.built)
        self.built = True
        return rows

    def assignment(self) -> dict[str, str | None]:
        rows = self.con.execute(
            "select conversation_id, cluster_id from state where record_type = 'conversation'"
        ).fetchall()
        return dict(rows)

    def clusters(self, level: int = 0) -> pd.DataFrame:
        return self.con.execute(
            "select * from state where record_type = 'cluster' and retired_epoch is null "
            f"and level = {level} "
            "order by cluster_id"
        ).df()

    def runs(self) -> pd.DataFrame:
        return self.con.execute(
            "select * from state where record_type = 'run' order by run_number"
        ).df()

    def lineage(self) -> pd.DataFrame:
        return self.con.execute("select * from state where record_type = 'lineage'").df()
