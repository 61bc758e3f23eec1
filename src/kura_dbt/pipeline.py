"""What the dbt Python models call: pandas in, pandas out, one function per model.

Each function reads the frames a model was given (already converted by ``kura_dbt.frames``),
calls the stages (``summaries``, ``embeddings``, ``clustering``, ``hierarchy``/``labels``,
``projection``) with the run's :class:`~kura_dbt.settings.Settings`, and returns a frame typed
by its schema in ``kura_dbt.tables``. No stage logic lives here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.clustering import CLUSTERERS
from kura_dbt.clustering.base import cosine_distances_to_centroids
from kura_dbt.embeddings import EMBEDDERS
from kura_dbt.hierarchy import build_hierarchy, cluster_id, label_cache
from kura_dbt.incremental import needs_work, text_hash
from kura_dbt.labels import LABELLERS
from kura_dbt.projection import PROJECTORS, cluster_points
from kura_dbt.settings import Settings, setting
from kura_dbt.summaries import SUMMARISERS, Message
from kura_dbt.tables import (
    CONVERSATION_CLUSTER_SCHEMA,
    EMBEDDING_SCHEMA,
    EMBEDDING_STATE_COLUMNS,
    HIERARCHY_CACHE_COLUMNS,
    HIERARCHY_SCHEMA,
    PROJECTION_SCHEMA,
    SUMMARY_SCHEMA,
    SUMMARY_STATE_COLUMNS,
    typed_frame,
)

__all__ = [
    "EMBEDDING_SCHEMA", "EMBEDDING_STATE_COLUMNS", "HIERARCHY_CACHE_COLUMNS", "SUMMARY_SCHEMA",
    "SUMMARY_STATE_COLUMNS", "assign_base_clusters", "cluster_hierarchy", "current_embeddings",
    "embed", "project", "setting", "summarise", "text_hash",
]

Config = Settings | Mapping[str, Any]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def parse_messages(messages_json: str | None) -> list[Message]:
    """A transcript's ``messages_json`` (from ``int_kura__transcripts``) as messages."""
    if not messages_json:
        return []
    return [
        Message(role=str(m.get("role") or ""), content=str(m.get("content") or ""))
        for m in json.loads(messages_json)
    ]


# --------------------------------------------------------------------------- summaries


def summarise(transcripts: pd.DataFrame, previous: pd.DataFrame | None, config: Config) -> pd.DataFrame:
    """Summaries for the conversations that are new, changed, failed last time, or were
    summarised by another backend, model or prompt version. Returns only those rows: the
    incremental model's unique key replaces their old versions."""
    settings = Settings.from_config(config)
    summariser = SUMMARISERS.build(settings.summariser, settings)
    keys = {
        "content_hash": None,
        "summariser": summariser.name,
        "model": summariser.model,
        "prompt_version": summariser.prompt_version,
    }
    todo = transcripts[needs_work(transcripts, previous, keys)]
    now = _now()
    pairs = [(r.conversation_id, parse_messages(r.messages_json)) for r in todo.itertuples(index=False)]
    try:
        records = [record.to_row() for record in summariser.summarise_many(pairs)]
    except Exception as exc:  # the backend failed as a whole: every row keeps the error
        error = f"{type(exc).__name__}: {exc}"[:1000]
        records = [{"error": error, "flags": ["error"]} for _ in pairs]
    rows = []
    for record, result in zip(todo.itertuples(index=False), records, strict=True):
        row: dict[str, Any] = {
            "conversation_id": record.conversation_id,
            "content_hash": record.content_hash,
            "summariser": summariser.name,
            "model": summariser.model,
            "prompt_version": summariser.prompt_version,
            "summarised_at": now,
        }
        for column in ("summary", "request", "task", "concerning_score", "user_frustration",
                       "turn_count", "user_turns", "assistant_turns", "error", "prompt_tokens",
                       "completion_tokens", "cost_usd", "llm_calls"):
            row[column] = result.get(column)
        row["languages"] = _json_or_none(result.get("languages") or [])
        row["assistant_errors"] = _json_or_none(result.get("assistant_errors"))
        row["extra_facets"] = _json_or_none(result.get("extra_facets"))
        row["flags"] = _json_or_none(result.get("flags") or [])
        rows.append(row)
    return typed_frame(rows, SUMMARY_SCHEMA)


# --------------------------------------------------------------------------- embeddings


def embeddable(summaries: pd.DataFrame) -> pd.DataFrame:
    """Conversations that have a summary to embed, with the hash of that text."""
    ok = summaries[summaries["summary"].notna() & summaries["error"].isna()].copy()
    ok["summary"] = ok["summary"].astype(str)
    ok = ok[ok["summary"].str.strip() != ""]
    ok["text_hash"] = [text_hash(t) for t in ok["summary"]]
    return ok.sort_values("conversation_id").reset_index(drop=True)


def embed(summaries: pd.DataFrame, previous: pd.DataFrame | None, config: Config) -> pd.DataFrame:
    """Embeddings of the summaries that are new, whose text or embedding model changed, or
    whose embedding failed last time (a row with ``error`` and no vector)."""
    settings = Settings.from_config(config)
    embedder = EMBEDDERS.build(settings.embedder, settings)
    todo = embeddable(summaries)
    keys = {"text_hash": None, "embedder": embedder.name, "model": embedder.model}
    todo = todo[needs_work(todo, previous, keys)]
    run = embedder.embed_with_usage(todo["summary"].tolist())
    vectors, errors = run.vectors, run.errors
    dimensions = vectors.shape[1] if len(vectors) else embedder.dimensions
    frame = pd.DataFrame(
        {
            "conversation_id": todo["conversation_id"].to_numpy(),
            "text_hash": todo["text_hash"].to_numpy(),
            "embedding": [None if e is not None else v for v, e in zip(vectors, errors, strict=True)],
            "embedder": embedder.name,
            "model": embedder.model,
            "dimensions": [None if e is not None else dimensions for e in errors],
            "embedded_at": _now(),
            "error": errors,
            "prompt_tokens": run.prompt_tokens,
            "llm_calls": run.llm_calls,
        }
    )
    return typed_frame(frame, EMBEDDING_SCHEMA)


def current_embeddings(summaries: pd.DataFrame, embeddings: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Join summaries with the embeddings of their current text, sorted by conversation id."""
    stored = embeddings[["conversation_id", "text_hash", "embedding"]].astype(
        {"conversation_id": "string", "text_hash": "string"}
    )  # an empty table may come back with untyped (float) columns
    if "error" in embeddings:  # a failed embedding has an error and no vector
        stored = stored[embeddings["error"].isna().to_numpy()]
    stored = stored[stored["embedding"].notna()]
    current = embeddable(summaries).astype({"conversation_id": "string", "text_hash": "string"}).merge(
        stored,
        on=["conversation_id", "text_hash"],
        how="inner",
    )
    current = current.sort_values("conversation_id").reset_index(drop=True)
    if current.empty:
        return current, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([np.asarray(v, dtype=np.float32) for v in current["embedding"]])
    return current, matrix


# --------------------------------------------------------------------------- clustering


def assign_base_clusters(summaries: pd.DataFrame, embeddings: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Each summarised conversation's base cluster and its cosine distance to the centroid."""
    settings = Settings.from_config(config)
    name = CLUSTERERS.key(settings.clusterer)
    clusterer = CLUSTERERS.build(name, settings)
    current, X = current_embeddings(summaries, embeddings)
    if len(current) == 0:
        return typed_frame([], CONVERSATION_CLUSTER_SCHEMA)
    labels = clusterer.fit_predict(X)
    frame = pd.DataFrame(
        {
            "conversation_id": current["conversation_id"],
            "cluster_id": [cluster_id(0, int(b)) if b >= 0 else None for b in labels],
            "distance": cosine_distances_to_centroids(X, labels, clusterer.cluster_centers_),
            "is_unclustered": labels < 0,
            "clusterer": name,
        }
    )
    return typed_frame(frame, CONVERSATION_CLUSTER_SCHEMA)


def _base_labels(conversation_clusters: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Positions 0..k-1 of each conversation's base cluster (ids in order), -1 for none."""
    base = ids.map(conversation_clusters.set_index("conversation_id")["cluster_id"])
    order = sorted(base.dropna().unique())
    return pd.Categorical(base, categories=order).codes.astype(int)


def cluster_hierarchy(
    conversation_clusters: pd.DataFrame,
    summaries: pd.DataFrame,
    embeddings: pd.DataFrame,
    transcripts: pd.DataFrame,
    config: Config,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Name the base clusters and build the levels above them. ``previous`` (the last build's
    rows) lets an LLM labeller reuse the names of clusters whose inputs did not change."""
    settings = Settings.from_config(config)
    current, X = current_embeddings(summaries, embeddings)
    if current.empty:
        return typed_frame([], HIERARCHY_SCHEMA)
    labels = _base_labels(conversation_clusters, current["conversation_id"])
    users = current["conversation_id"].map(transcripts.set_index("conversation_id")["user_id"])
    frame = build_hierarchy(
        X,
        labels,
        current["summary"].tolist(),
        [None if pd.isna(u) else str(u) for u in users],
        max_top=settings.max_top_clusters,
        branching=settings.hierarchy_branching,
        labeller=LABELLERS.build(settings.labeller, settings),
        cache=label_cache(previous),
    )
    return typed_frame(frame, HIERARCHY_SCHEMA)


# --------------------------------------------------------------------------- projection


def project(
    summaries: pd.DataFrame,
    embeddings: pd.DataFrame,
    conversation_clusters: pd.DataFrame,
    hierarchy: pd.DataFrame,
    config: Config,
) -> pd.DataFrame:
    """2D coordinates for every embedded conversation and every cluster (mean of its members)."""
    settings = Settings.from_config(config)
    current, X = current_embeddings(summaries, embeddings)
    if current.empty:
        return typed_frame([], PROJECTION_SCHEMA)
    name = PROJECTORS.key(settings.projector)
    xy = PROJECTORS.build(name, settings).fit_transform(X)
    base = current["conversation_id"].map(conversation_clusters.set_index("conversation_id")["cluster_id"])
    points = pd.DataFrame(
        {
            "point_type": "conversation",
            "point_id": current["conversation_id"],
            "cluster_id": base.to_numpy(),
            "level": pd.NA,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "projector": name,
        }
    )
    clusters = cluster_points(points, hierarchy).assign(
        point_type="cluster", projector=name, point_id=lambda f: f["cluster_id"]
    )
    return typed_frame(pd.concat([points, clusters], ignore_index=True), PROJECTION_SCHEMA)
