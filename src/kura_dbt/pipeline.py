"""What the dbt Python models call: pandas in, pandas out, one function per model.

Each function reads the frames a model was given (already converted by ``kura_dbt.frames``),
calls the stages (``summaries``, ``embeddings``, ``clustering``, ``hierarchy``/``labels``,
``projection``) with the run's :class:`~kura_dbt.settings.Settings`, and returns a frame typed
by its schema in ``kura_dbt.tables``. No stage logic lives here. The two state models
(``cluster_state``, ``map_points``) get a :class:`kura_dbt.frames.Warehouse` instead of frames:
they select their new rows in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.embeddings import EMBEDDERS
from kura_dbt.failures import check_failures
from kura_dbt.incremental import needs_work, text_hash
from kura_dbt.llm import describe
from kura_dbt.projection import PROJECTORS
from kura_dbt.projection.map import MAP_SCHEMA, update_map
from kura_dbt.settings import Settings, setting
from kura_dbt.summaries import SUMMARISERS, Message
from kura_dbt.tables import (
    EMBEDDING_SCHEMA,
    EMBEDDING_STATE_COLUMNS,
    SUMMARY_SCHEMA,
    SUMMARY_STATE_COLUMNS,
    typed_frame,
)
from kura_dbt.taxonomy import update_taxonomy

__all__ = [
    "EMBEDDING_SCHEMA",
    "EMBEDDING_STATE_COLUMNS",
    "SUMMARY_SCHEMA",
    "SUMMARY_STATE_COLUMNS",
    "cluster_state",
    "current_embeddings",
    "embed",
    "embed_new",
    "map_points",
    "setting",
    "summarise",
    "summarise_new",
    "text_hash",
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


def summarise(
    transcripts: pd.DataFrame, previous: pd.DataFrame | None, config: Config
) -> pd.DataFrame:
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
    return _summaries_of(summariser, transcripts[needs_work(transcripts, previous, keys)])


def summarise_new(warehouse: Any, config: Config) -> pd.DataFrame:
    """:func:`summarise` for the ``kura__summaries`` model: the conversations to summarise are
    selected in SQL (a join of ``transcripts`` with the model's previous state on the content
    hash, backend, model and prompt version), so only they are read into Python."""
    settings = Settings.from_config(config)
    summariser = SUMMARISERS.build(settings.summariser, settings)
    transcripts, state = warehouse.views["transcripts"], warehouse.state
    columns = "t.conversation_id, t.content_hash, t.messages_json"
    if state is None:
        todo = warehouse.query(f"select {columns} from {transcripts} as t")
    else:
        # previous_error: a retry of a row that failed before (see kura_dbt.failures)
        todo = warehouse.query(
            f"select {columns}, f.error as previous_error from {transcripts} as t "
            f"left join {state} as f on f.conversation_id = t.conversation_id "
            f"left join {state} as s "
            "on s.conversation_id = t.conversation_id and s.content_hash = t.content_hash "
            f"and coalesce(s.summariser, '') = {_literal(summariser.name)} "
            f"and coalesce(s.model, '') = {_literal(summariser.model)} "
            f"and coalesce(s.prompt_version, '') = {_literal(summariser.prompt_version)} "
            "and s.error is null where s.conversation_id is null"
        )
    return _summaries_of(summariser, todo.sort_values("conversation_id").reset_index(drop=True))


def _retries(todo: pd.DataFrame) -> list[bool]:
    """Per row: whether it is a retry of a row that failed before (``previous_error``)."""
    if "previous_error" not in todo:
        return [False] * len(todo)
    return list(todo["previous_error"].notna())


def _literal(value: Any) -> str:
    """A SQL string literal ('' for None, as the state columns are compared with coalesce)."""
    return "'" + ("" if value is None else str(value)).replace("'", "''") + "'"


def _summaries_of(summariser: Any, todo: pd.DataFrame) -> pd.DataFrame:
    now = _now()
    pairs = [
        (r.conversation_id, parse_messages(r.messages_json)) for r in todo.itertuples(index=False)
    ]
    # the failure policy (kura_dbt.failures): a run in which every conversation the backend
    # tried failed fails the model; otherwise the failed rows are kept and retried next run.
    # A conversation with nothing to summarise (no text: no call, no error) is not counted.
    where = f"summariser {summariser.name}, model {summariser.model}"
    try:
        records = [record.to_row() for record in summariser.summarise_many(pairs)]
    except Exception as exc:  # the backend failed as a whole, so did every row
        records = [{"error": describe(exc), "flags": ["error"]} for _ in pairs]
        check_failures("summaries", [r["error"] for r in records], where, _retries(todo))
    retry = _retries(todo)
    tried = [
        i
        for i, r in enumerate(records)
        if r.get("error") is not None or r.get("summary") is not None
    ]
    check_failures(
        "summaries", [records[i].get("error") for i in tried], where, [retry[i] for i in tried]
    )
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
        for column in (
            "summary",
            "request",
            "task",
            "concerning_score",
            "user_frustration",
            "turn_count",
            "user_turns",
            "assistant_turns",
            "error",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "llm_calls",
        ):
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
    return _embeddings_of(embedder, todo[needs_work(todo, previous, keys)])


def embed_new(warehouse: Any, config: Config) -> pd.DataFrame:
    """:func:`embed` for the ``kura__embeddings`` model: the summaries to embed are selected in
    SQL (a join with the model's previous state on the text hash, embedder and model)."""
    settings = Settings.from_config(config)
    embedder = EMBEDDERS.build(settings.embedder, settings)
    summaries, state = warehouse.views["summaries"], warehouse.state
    usable = (
        f"select conversation_id, summary, error from {summaries} "
        "where summary is not null and error is null"
    )
    if state is None:
        todo = warehouse.query(usable)
    else:
        todo = warehouse.query(
            f"select s.conversation_id, s.summary, s.error, f.error as previous_error "
            f"from ({usable}) as s left join {state} as f on f.conversation_id = s.conversation_id "
            f"left join {state} as e "
            "on e.conversation_id = s.conversation_id and e.text_hash = md5(s.summary) "
            f"and coalesce(e.embedder, '') = {_literal(embedder.name)} "
            f"and coalesce(e.model, '') = {_literal(embedder.model)} "
            "and e.error is null where e.conversation_id is null"
        )
    return _embeddings_of(embedder, embeddable(todo))


def _embeddings_of(embedder: Any, todo: pd.DataFrame) -> pd.DataFrame:
    run = embedder.embed_with_usage(todo["summary"].tolist())
    vectors, errors = run.vectors, run.errors
    # the failure policy (kura_dbt.failures): every embedding failed -> the model fails
    check_failures(
        "embeddings", errors, f"embedder {embedder.name}, model {embedder.model}", _retries(todo)
    )
    dimensions = vectors.shape[1] if len(vectors) else embedder.dimensions
    frame = pd.DataFrame(
        {
            "conversation_id": todo["conversation_id"].to_numpy(),
            "text_hash": todo["text_hash"].to_numpy(),
            "embedding": [
                None if e is not None else v for v, e in zip(vectors, errors, strict=True)
            ],
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


def current_embeddings(
    summaries: pd.DataFrame, embeddings: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """Join summaries with the embeddings of their current text, sorted by conversation id."""
    stored = embeddings[["conversation_id", "text_hash", "embedding"]].astype(
        {"conversation_id": "string", "text_hash": "string"}
    )  # an empty table may come back with untyped (float) columns
    if "error" in embeddings:  # a failed embedding has an error and no vector
        stored = stored[embeddings["error"].isna().to_numpy()]
    stored = stored[stored["embedding"].notna()]
    current = (
        embeddable(summaries)
        .astype({"conversation_id": "string", "text_hash": "string"})
        .merge(
            stored,
            on=["conversation_id", "text_hash"],
            how="inner",
        )
    )
    current = current.sort_values("conversation_id").reset_index(drop=True)
    if current.empty:
        return current, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([np.asarray(v, dtype=np.float32) for v in current["embedding"]])
    return current, matrix


# --------------------------------------------------------------------------- taxonomy


def cluster_state(warehouse: Any, config: Config) -> pd.DataFrame:
    """The rows of ``int_kura__cluster_state`` this build adds or replaces: assignments of the
    new or changed conversations (or, at a re-discovery, of all), the taxonomy, one run row
    and lineage. ``warehouse`` is a :class:`kura_dbt.frames.Warehouse` with the views
    ``embeddings`` and ``summaries``."""
    return update_taxonomy(warehouse, Settings.from_config(config), _now())


# --------------------------------------------------------------------------- map


def map_points(warehouse: Any, config: Config) -> pd.DataFrame:
    """The rows of ``int_kura__map_points`` this build adds or replaces: the new or changed
    conversations placed on the existing map, or every conversation when the map is fitted."""
    settings = Settings.from_config(config)
    name = PROJECTORS.key(settings.projector)
    frame = update_map(warehouse, settings, _now(), PROJECTORS.build(name, settings), name)
    return typed_frame(frame, MAP_SCHEMA)
