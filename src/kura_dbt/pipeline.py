"""What the dbt Python models call: pandas in, pandas out, one function per model.

Each function takes the frames a model read (already converted by ``kura_dbt.frames``) and the
model's settings (dbt vars passed through the model's config), and returns a frame with a fixed,
typed schema so that an empty result still has the right column types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.registry import backend_key, build_backend
from kura_dbt.clustering import make_clusterer
from kura_dbt.settings import setting
from kura_dbt.embed import LocalEmbedder
from kura_dbt.hierarchy import HIERARCHY_COLUMNS, build_hierarchy, cluster_id
from kura_dbt.labelling import make_labeller
from kura_dbt.projection import make_projector
from kura_dbt.summarise import LocalSummariser, Message

SUMMARY_SCHEMA: dict[str, str] = {
    "conversation_id": "string",
    "content_hash": "string",
    "summary": "string",
    "request": "string",
    "task": "string",
    "languages": "string",
    "concerning_score": "Int64",
    "user_frustration": "Int64",
    "assistant_errors": "string",
    "extra_facets": "string",
    "flags": "string",
    "turn_count": "Int64",
    "user_turns": "Int64",
    "assistant_turns": "Int64",
    "summariser": "string",
    "model": "string",
    "prompt_version": "string",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "cost_usd": "float64",
    "llm_calls": "Int64",
    "error": "string",
    "summarised_at": "datetime64[us]",
}
SUMMARY_STATE_COLUMNS = ["conversation_id", "content_hash", "summariser", "model", "prompt_version", "error"]

EMBEDDING_SCHEMA: dict[str, str] = {
    "conversation_id": "string",
    "text_hash": "string",
    "embedding": "object",
    "embedder": "string",
    "model": "string",
    "dimensions": "Int64",
    "embedded_at": "datetime64[us]",
    "error": "string",
    "prompt_tokens": "Int64",
    "llm_calls": "Int64",
}
EMBEDDING_STATE_COLUMNS = ["conversation_id", "text_hash", "embedder", "model", "error"]

CONVERSATION_CLUSTER_SCHEMA: dict[str, str] = {
    "conversation_id": "string",
    "cluster_id": "string",
    "distance": "float64",
    "is_unclustered": "boolean",
    "clusterer": "string",
}

HIERARCHY_SCHEMA: dict[str, str] = {
    "cluster_id": "string",
    "level": "Int64",
    "parent_id": "string",
    "top_cluster_id": "string",
    "name": "string",
    "description": "string",
    "keywords": "string",
    "size": "Int64",
    "distinct_users": "Int64",
    "child_count": "Int64",
    "labeller": "string",
    "label_key": "string",
    "llm_calls": "Int64",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
}
assert list(HIERARCHY_SCHEMA) == HIERARCHY_COLUMNS
HIERARCHY_CACHE_COLUMNS = ["cluster_id", "parent_id", "label_key", "name", "description", "keywords"]

PROJECTION_SCHEMA: dict[str, str] = {
    "point_type": "string",
    "point_id": "string",
    "cluster_id": "string",
    "level": "Int64",
    "x": "float64",
    "y": "float64",
    "projector": "string",
}


# --------------------------------------------------------------------------- settings


# --------------------------------------------------------------------------- helpers


def typed_frame(rows: list[dict[str, Any]] | pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(schema))
    frame = frame.reindex(columns=list(schema))
    for column, dtype in schema.items():
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame.reset_index(drop=True)


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def parse_messages(messages_json: str | None) -> list[Message]:
    if not messages_json:
        return []
    return [
        Message(role=str(m.get("role") or ""), content=str(m.get("content") or ""))
        for m in json.loads(messages_json)
    ]


def _needs_work(current: pd.DataFrame, previous: pd.DataFrame | None, keys: dict[str, Any]) -> pd.Series:
    """True for rows of ``current`` with no valid previous result under the same keys.

    ``keys`` maps a state column to the value it must have: ``None`` means "the value in the
    same column of ``current``" (e.g. a content hash), anything else is a constant (e.g. the
    model name). A previous row with an error is always redone.
    """
    if previous is None or previous.empty:
        return pd.Series(True, index=current.index)
    expected = pd.DataFrame({"conversation_id": current["conversation_id"].to_numpy()})
    for key, value in keys.items():
        expected[key] = current[key].to_numpy() if value is None else value
    old = previous.drop_duplicates("conversation_id").set_index("conversation_id")
    stale = ~expected["conversation_id"].isin(old.index)
    for key in keys:
        before = expected["conversation_id"].map(old[key]).astype("string").fillna("\0")
        stale |= before != expected[key].astype("string").fillna("\0")
    if "error" in old:
        stale |= expected["conversation_id"].map(old["error"]).notna()
    return pd.Series(stale.to_numpy(), index=current.index)


# --------------------------------------------------------------------------- summaries


def make_summariser(name: str, config: Mapping[str, Any] | None = None):
    """Build a summariser from its config name (var ``kura__summariser``) and settings."""
    config = config or {}

    def local() -> LocalSummariser:
        return LocalSummariser(max_chars=setting(config, "summariser_max_chars", 20_000, int))

    def openai():
        from kura_dbt.llm import LLMSettings
        from kura_dbt.summarise_llm import OpenAISummariser, parse_facets

        return OpenAISummariser(
            LLMSettings.from_config(config), parse_facets(config.get("extra_facets"))
        )

    return build_backend("summariser", name, {"local": local, "openai": openai})


def summarise(
    transcripts: pd.DataFrame, previous: pd.DataFrame | None, config: Mapping[str, Any]
) -> pd.DataFrame:
    """Summaries for the conversations that are new, changed, failed last time, or were
    summarised by another backend, model or prompt version. Returns only those rows: the
    incremental model's unique key replaces their old versions."""
    summariser = make_summariser(setting(config, "summariser", "local"), config)
    keys = {
        "content_hash": None,
        "summariser": summariser.name,
        "model": summariser.model,
        "prompt_version": summariser.prompt_version,
    }
    todo = transcripts[_needs_work(transcripts, previous, keys)]
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


def make_embedder(config: Mapping[str, Any]):
    """The embedder named by var ``kura__embedder``, with its settings."""
    batch_size = setting(config, "embedding_batch_size", None, int)  # None: the backend's default

    def local():
        return LocalEmbedder(batch_size=64 if batch_size is None else batch_size)

    def openai():
        from kura_dbt.embed_llm import OpenAIEmbedder
        from kura_dbt.llm import LLMSettings

        return OpenAIEmbedder(
            LLMSettings.from_config(config),
            model=setting(config, "embedding_model", "text-embedding-3-small", str),
            dimensions=setting(config, "embedding_dimensions", None, int),
            batch_size=256 if batch_size is None else batch_size,  # texts per request
        )

    return build_backend("embedder", setting(config, "embedder", "local"), {"local": local, "openai": openai})


def embed(
    summaries: pd.DataFrame, previous: pd.DataFrame | None, config: Mapping[str, Any]
) -> pd.DataFrame:
    """Embeddings of the summaries that are new, whose text or embedding model changed, or
    whose embedding failed last time (a row with ``error`` and no vector)."""
    embedder = make_embedder(config)
    todo = embeddable(summaries)
    todo = todo[_needs_work(todo, previous, {"text_hash": None, "embedder": embedder.name, "model": embedder.model})]
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


def assign_base_clusters(
    summaries: pd.DataFrame, embeddings: pd.DataFrame, config: Mapping[str, Any]
) -> pd.DataFrame:
    """Each summarised conversation's base cluster and its cosine distance to the centroid."""
    current, X = current_embeddings(summaries, embeddings)
    name = backend_key(setting(config, "clusterer", "kmeans"))  # its settings are chosen by name
    seed = setting(config, "seed", 42, int)
    params: dict[str, Any] = {"random_state": seed}
    if name in ("kmeans", "minibatch_kmeans"):
        params["n_clusters"] = setting(config, "n_base_clusters", None, int)
    elif name == "hdbscan":
        params = {"min_cluster_size": setting(config, "hdbscan_min_cluster_size", 10, int), "random_state": seed}
    clusterer = make_clusterer(name, **params)
    if len(current) == 0:
        return typed_frame([], CONVERSATION_CLUSTER_SCHEMA)
    labels = clusterer.fit_predict(X)
    centers = np.asarray(clusterer.cluster_centers_, dtype=np.float64)
    distance = np.full(len(X), np.nan)
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        centre = centers[label] / (np.linalg.norm(centers[label]) or 1.0)
        distance[members] = 1.0 - X[members] @ centre
    frame = pd.DataFrame(
        {
            "conversation_id": current["conversation_id"],
            "cluster_id": [cluster_id(0, int(b)) if b >= 0 else None for b in labels],
            "distance": np.clip(distance, 0.0, 2.0),
            "is_unclustered": labels < 0,
            "clusterer": name,
        }
    )
    return typed_frame(frame, CONVERSATION_CLUSTER_SCHEMA)


def _base_labels(conversation_clusters: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    mapping = conversation_clusters.set_index("conversation_id")["cluster_id"]
    base = ids.map(mapping)
    return np.array(
        [int(str(c).split("-")[1]) if isinstance(c, str) and c else -1 for c in base], dtype=int
    )


def _label_cache(previous: pd.DataFrame | None) -> dict[str, Any] | None:
    """Names by label key, and each child's parent (both by label key), from the last build."""
    if previous is None or previous.empty:
        return None
    rows = previous[HIERARCHY_CACHE_COLUMNS].dropna(subset=["label_key"])
    cache: dict[str, Any] = {
        row.label_key: (row.name, row.description, row.keywords) for row in rows.itertuples(index=False)
    }
    key_of = dict(zip(rows["cluster_id"], rows["label_key"], strict=True))
    cache["__parents__"] = {
        row.label_key: key_of[row.parent_id]
        for row in rows.itertuples(index=False)
        if isinstance(row.parent_id, str) and row.parent_id in key_of
    }
    return cache


def cluster_hierarchy(
    conversation_clusters: pd.DataFrame,
    summaries: pd.DataFrame,
    embeddings: pd.DataFrame,
    transcripts: pd.DataFrame,
    config: Mapping[str, Any],
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Name the base clusters and build the levels above them. ``previous`` (the last build's
    rows) lets an LLM labeller reuse the names of clusters whose inputs did not change."""
    current, X = current_embeddings(summaries, embeddings)
    if current.empty:
        return typed_frame([], HIERARCHY_SCHEMA)
    labels = _base_labels(conversation_clusters, current["conversation_id"])
    users = current["conversation_id"].map(transcripts.set_index("conversation_id")["user_id"])
    labeller_name = setting(config, "labeller", "local")
    if str(labeller_name).strip().lower() == "openai":
        from kura_dbt.labelling_llm import OpenAILabeller
        from kura_dbt.llm import LLMSettings

        labeller = OpenAILabeller(LLMSettings.from_config(config))
    else:
        labeller = make_labeller(
            labeller_name, quote_example=setting(config, "label_quotes_example", True, bool)
        )
    frame = build_hierarchy(
        X,
        labels,
        current["summary"].tolist(),
        [None if pd.isna(u) else str(u) for u in users],
        max_top=setting(config, "max_top_clusters", 8, int),
        branching=setting(config, "hierarchy_branching", 5.0, float),
        labeller=labeller,
        cache=_label_cache(previous),
    )
    return typed_frame(frame, HIERARCHY_SCHEMA)


# --------------------------------------------------------------------------- projection


def project(
    summaries: pd.DataFrame,
    embeddings: pd.DataFrame,
    conversation_clusters: pd.DataFrame,
    hierarchy: pd.DataFrame,
    config: Mapping[str, Any],
) -> pd.DataFrame:
    """2D coordinates for every embedded conversation and every cluster (mean of its members)."""
    current, X = current_embeddings(summaries, embeddings)
    if current.empty:
        return typed_frame([], PROJECTION_SCHEMA)
    name = setting(config, "projector", "umap")
    projector = make_projector(name, random_state=setting(config, "seed", 42, int))
    xy = projector.fit_transform(X)
    base = current["conversation_id"].map(
        conversation_clusters.set_index("conversation_id")["cluster_id"]
    )
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
    rows = [points]
    if not hierarchy.empty:
        coords = pd.DataFrame({"cluster_id": base.to_numpy(), "x": xy[:, 0], "y": xy[:, 1]})
        coords = coords[coords["cluster_id"].notna()]
        parent = hierarchy.set_index("cluster_id")["parent_id"]
        level_of = hierarchy.set_index("cluster_id")["level"]
        membership = coords
        for level in sorted(hierarchy["level"].unique()):
            means = membership.groupby("cluster_id", sort=True)[["x", "y"]].mean().reset_index()
            rows.append(
                pd.DataFrame(
                    {
                        "point_type": "cluster",
                        "point_id": means["cluster_id"],
                        "cluster_id": means["cluster_id"],
                        "level": means["cluster_id"].map(level_of).astype("Int64"),
                        "x": means["x"],
                        "y": means["y"],
                        "projector": name,
                    }
                )
            )
            membership = membership.assign(cluster_id=membership["cluster_id"].map(parent))
            membership = membership[membership["cluster_id"].notna()]
    return typed_frame(pd.concat(rows, ignore_index=True), PROJECTION_SCHEMA)
