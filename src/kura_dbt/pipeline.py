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
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt import sql
from kura_dbt.audit.stage import audit_new
from kura_dbt.budget import StageMonitor, budgeted, is_skipped, llm_of, monitoring
from kura_dbt.embeddings import EMBEDDERS
from kura_dbt.failures import check_failures
from kura_dbt.frames import WarehouseReader
from kura_dbt.incremental import text_hash
from kura_dbt.llm import describe
from kura_dbt.parking import RetryPolicy, parked_count, stamp, state_columns
from kura_dbt.privacy_relabel import relabel_withheld
from kura_dbt.progress import Progress, emit, run_summary
from kura_dbt.projection import PROJECTORS
from kura_dbt.projection.map import MAP_SCHEMA, update_map
from kura_dbt.settings import Settings, setting
from kura_dbt.summaries import SUMMARISERS, Message
from kura_dbt.summaries.cortex import CortexSummaries
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
    "audit_new",
    "EMBEDDING_STATE_COLUMNS",
    "SUMMARY_SCHEMA",
    "SUMMARY_STATE_COLUMNS",
    "cluster_state",
    "embed_new",
    "map_points",
    "relabel_withheld",
    "setting",
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


def summarise_new(warehouse: WarehouseReader, config: Config) -> pd.DataFrame:
    """The rows of the ``kura__summaries`` model this build adds or replaces: the conversations
    that are new, changed, failed last time (and are not parked, see :mod:`kura_dbt.parking`),
    or were summarised by another backend, model or prompt version, selected in SQL
    (:func:`pending_summaries`), so only they are read into Python.

    With an LLM summariser the calls run under the stage's :class:`~kura_dbt.budget.
    StageMonitor`: progress lines, and the budget cap (``kura__llm_max_calls``,
    ``kura__llm_max_cost_usd``) past which the rest stays pending. The model ends with one
    run summary line (:func:`kura_dbt.progress.run_summary`)."""
    settings = Settings.from_config(config)
    summariser = SUMMARISERS.build(settings.summariser, settings)
    started = time.monotonic()
    todo = pending_summaries(warehouse, summariser, RetryPolicy.of(settings))
    rows_in = _count(warehouse, warehouse.views["transcripts"])
    llm = llm_of(summariser)
    progress = Progress.of(
        "kura__summaries", settings, unit="calls" if llm is not None else "conversations"
    )
    completion = None
    if llm is not None:
        completion = _completion_history(warehouse, summariser)
        if llm.budget_action == "fail" and (llm.max_calls is not None or llm.max_cost_usd):
            _refuse_over_budget(estimate_summaries(todo, summariser, completion), llm)
    if len(todo):
        progress.say(f"{len(todo)} of {rows_in} conversations to summarise")
    guess = int(completion or DEFAULT_SUMMARY_COMPLETION_TOKENS)
    with budgeted(progress, llm, completion_guess=guess) as monitor:
        frame = _summaries_of(summariser, todo, progress, RetryPolicy.of(settings))
    if monitor is not None and monitor.capped:
        left = int(frame["pending_after_cap"].max()) if len(frame) else len(todo)
        monitor.say_capped(
            f"{monitor.started} calls made, {left} conversations left pending for the next run "
            "(nothing failed; run again or raise the cap)"
        )
    if settings.progress:
        emit(_summary_line("kura__summaries", frame, rows_in, len(todo), started, llm), "info")
    return frame


def pending_summaries(
    warehouse: WarehouseReader,
    summariser: Any,
    policy: RetryPolicy | None = None,
    transcript: bool = False,
) -> pd.DataFrame:
    """The conversations the next :func:`summarise_new` sends to ``summariser``, selected in
    SQL: a join of ``transcripts`` with the model's previous state on the content hash,
    backend, model and prompt version. ``reason``: ``new``, ``changed`` (content), ``failed``
    (the last attempt has an error) or ``other model or prompt version``; ``previous_error``:
    a retry of a row that failed before (see :mod:`kura_dbt.failures`); ``previous_attempts``:
    the runs that already sent it for the same input key. A row parked for that key
    (:mod:`kura_dbt.parking`) is left out unless ``policy.retry_gave_up``. Sorted by id.
    ``transcript``: with the transcript's text (``kura estimate`` of the Cortex model)."""
    policy = policy or RetryPolicy()
    transcripts, state = warehouse.views["transcripts"], warehouse.state
    known = state_columns(warehouse, state)
    query = sql.pending_summaries(
        transcripts, state, summariser, known, policy.retry_gave_up, transcript
    )
    todo = warehouse.query(query)
    return todo.sort_values("conversation_id").reset_index(drop=True)


def parked_summaries(warehouse: WarehouseReader, summariser: Any) -> int:
    """Conversations whose summary is parked for their current input (not sent again)."""
    transcripts = warehouse.views["transcripts"]
    return parked_count(warehouse, lambda s: sql.parked_summaries(transcripts, s, summariser))


# completion tokens per summary before any history (a ConversationSummary answer in JSON)
DEFAULT_SUMMARY_COMPLETION_TOKENS = 200


def estimate_summaries(
    todo: pd.DataFrame, summariser: Any, completion_per_call: float | None = None
) -> dict[str, Any]:
    """What summarising ``todo`` (from :func:`pending_summaries`) will send: conversations by
    reason, calls (one per conversation with text; an empty one makes none), prompt tokens
    (the system prompt, the schema instructor adds and the transcript as the summariser cuts
    it, at about 4 characters per token) and completion tokens (``completion_per_call``: the
    mean of earlier summaries by the same model, else
    :data:`DEFAULT_SUMMARY_COMPLETION_TOKENS`), and the cost at the configured prices."""
    from kura_dbt.llm import approx_tokens, request_overhead_tokens

    reasons = todo["reason"].value_counts().to_dict() if "reason" in todo else {}
    out: dict[str, Any] = {
        "conversations": len(todo),
        "by_reason": {str(k): int(v) for k, v in reasons.items()},
        "calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "completion_per_call": None,
    }
    llm = llm_of(summariser)
    draft = getattr(summariser, "_draft", None)
    per_call = completion_per_call or DEFAULT_SUMMARY_COMPLETION_TOKENS
    if isinstance(summariser, CortexSummaries) and llm is not None:  # the prompt, in SQL
        prompts = [summariser.prompt(str(t or "")) for t in todo.get("transcript", [])]
        out["calls"] = sum(p is not None for p in prompts)
        overhead = summariser.overhead_tokens
        out["prompt_tokens"] = sum(overhead + approx_tokens(p) for p in prompts if p is not None)
    elif llm is None or draft is None:  # a local summariser: nothing is sent, nothing is spent
        return out
    else:
        from kura_dbt.summaries.openai import SYSTEM_PROMPT

        answer_model = getattr(summariser, "_answer_model", None)
        overhead = approx_tokens(SYSTEM_PROMPT)
        if answer_model is not None:
            overhead += request_overhead_tokens(answer_model, llm.mode)
        for record in todo.itertuples(index=False):
            _, _, prompt = draft(record.conversation_id, parse_messages(record.messages_json))
            if prompt is None:
                continue
            out["calls"] += 1
            out["prompt_tokens"] += overhead + approx_tokens(prompt)
    out["completion_per_call"] = float(per_call)
    out["completion_tokens"] = int(round(out["calls"] * per_call))
    out["cost_usd"] = llm.cost(out["prompt_tokens"], out["completion_tokens"])
    return out


def _completion_history(warehouse: WarehouseReader, summariser: Any) -> float | None:
    """Mean completion tokens of the summaries the same model wrote before (None: none)."""
    if warehouse.state is None:
        return None
    mean = warehouse.query(sql.average_completion_tokens(warehouse.state, summariser))["mean"].iloc[
        0
    ]
    return None if pd.isna(mean) else float(mean)


def _refuse_over_budget(estimate: dict[str, Any], llm: Any) -> None:
    """``kura__llm_budget_action: fail``: fail before any call when the pending work is over
    the cap."""
    over = []
    if llm.max_calls is not None and estimate["calls"] > llm.max_calls:
        over.append(f"{estimate['calls']} calls > kura__llm_max_calls={llm.max_calls}")
    cost = estimate["cost_usd"]
    if llm.max_cost_usd is not None and cost is not None and cost > llm.max_cost_usd:
        over.append(f"about ${cost:.4f} > kura__llm_max_cost_usd={llm.max_cost_usd:g}")
    if over:
        raise RuntimeError(
            f"kura: kura__summaries would go over its LLM budget ({'; '.join(over)}) and "
            "kura__llm_budget_action is fail: nothing was sent. Raise the cap, or set "
            "kura__llm_budget_action: warn to summarise up to the cap and leave the rest pending"
        )


@contextmanager
def _llm_stage(name: str, settings: Settings) -> Iterator[StageMonitor]:
    """A state model's LLM work (names, hierarchy, classification) under one monitor: progress
    lines per call, counted for the run summary (:func:`_spent`)."""
    progress = Progress.of(name, settings, unit="calls")
    monitor = StageMonitor(progress, llm=settings.llm_settings())
    with monitoring(monitor):
        yield monitor


def _spent(monitor: StageMonitor) -> dict[str, Any]:
    """What a monitored stage's calls spent, as :func:`kura_dbt.progress.run_summary` takes it."""
    return {
        "calls": monitor.requests,
        "prompt_tokens": monitor.prompt_tokens,
        "completion_tokens": monitor.completion_tokens,
        "cost_usd": monitor.cost_usd if monitor.finished_calls else 0.0,
    }


def _count(warehouse: WarehouseReader, relation: str) -> int:
    return int(warehouse.query(sql.count_rows(relation))["n"].iloc[0])


def _summary_line(
    model: str, frame: pd.DataFrame, rows_in: int, pending: int, started: float, llm: Any
) -> str:
    errors = int(frame["error"].notna().sum()) if len(frame) else 0
    prompt = int(frame["prompt_tokens"].fillna(0).sum()) if "prompt_tokens" in frame else 0
    completion = (
        int(frame["completion_tokens"].fillna(0).sum()) if "completion_tokens" in frame else 0
    )
    costs = frame["cost_usd"].dropna() if "cost_usd" in frame else pd.Series(dtype=float)
    cost = float(costs.sum()) if len(costs) else (0.0 if llm is None or not len(frame) else None)
    skipped = pending - len(frame)
    notes = [f"{skipped} left pending by the budget cap"] if skipped else []
    parked = int(frame["gave_up"].fillna(False).sum()) if "gave_up" in frame else 0
    if parked:
        notes.append(f"{parked} parked after kura__llm_max_attempts failures (not sent again)")
    return run_summary(
        model,
        rows_in=rows_in,
        done=len(frame) - errors,
        reused=rows_in - pending,
        errors=errors,
        calls=int(frame["llm_calls"].fillna(0).sum()) if "llm_calls" in frame else 0,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        seconds=time.monotonic() - started,
        extra="; ".join(notes),
    )


def _retries(todo: pd.DataFrame) -> list[bool]:
    """Per row: whether it is a retry of a row that failed before (``previous_error``, or
    earlier attempts for the same input key)."""
    retry = pd.Series(False, index=todo.index)
    if "previous_error" in todo:
        retry |= todo["previous_error"].notna()
    if "previous_attempts" in todo:
        retry |= todo["previous_attempts"].fillna(0).astype(int) > 0
    return retry.tolist()


def _previous_attempts(todo: pd.DataFrame) -> list[Any]:
    """Per row: the runs that already sent it for its current input key (0 when unknown)."""
    if "previous_attempts" not in todo:
        return [0] * len(todo)
    return todo["previous_attempts"].tolist()


def _summarise_all(summariser: Any, pairs: list[Any], progress: Progress | None) -> list[Any]:
    """``summariser.summarise_many(pairs)``; a backend that makes no LLM call (the local one)
    goes in tenths so that ``progress`` can say how far it is (an LLM backend's calls report
    to the stage's monitor themselves, all in one batch for full concurrency)."""
    if progress is None or llm_of(summariser) is not None or len(pairs) < 1000:
        return list(summariser.summarise_many(pairs))
    progress.add_total(len(pairs))
    size = -(-len(pairs) // 10)
    records = []
    for start in range(0, len(pairs), size):
        chunk = list(summariser.summarise_many(pairs[start : start + size]))
        records += chunk
        progress.advance(len(chunk), errors=sum(r.error is not None for r in chunk))
    return records


def _summaries_of(
    summariser: Any,
    todo: pd.DataFrame,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Summarise ``todo`` and type the rows: the budget cap's skipped conversations are left
    out (pending), the failure policy is applied, attempts are counted."""
    now = _now()
    records = _summary_records(summariser, todo, progress)
    # conversations the budget cap kept from being sent (kura_dbt.budget) are not written: they
    # stay pending, and the next run summarises them; they are neither errors nor failures
    kept = [not is_skipped(r.get("error")) for r in records]
    left_pending = len(records) - sum(kept)
    if left_pending:
        todo = todo[kept].reset_index(drop=True)
        records = [r for r, keep in zip(records, kept, strict=True) if keep]
    sent = [r.get("error") is not None or r.get("summary") is not None for r in records]
    retry = _retries(todo)
    check_failures(
        "summaries",
        [r.get("error") for r, tried in zip(records, sent, strict=True) if tried],
        _summariser_text(summariser),
        [again for again, tried in zip(retry, sent, strict=True) if tried],
    )
    rows = [
        _summary_row(summariser, record, result, now, left_pending)
        for record, result in zip(todo.itertuples(index=False), records, strict=True)
    ]
    frame = stamp(
        typed_frame(rows, SUMMARY_SCHEMA), _previous_attempts(todo), policy or RetryPolicy(), sent
    )
    return typed_frame(frame, SUMMARY_SCHEMA)


def _summariser_text(summariser: Any) -> str:
    return f"summariser {summariser.name}, model {summariser.model}"


def _summary_records(
    summariser: Any, todo: pd.DataFrame, progress: Progress | None
) -> list[dict[str, Any]]:
    """One record per row of ``todo`` (``ConversationSummary.to_row``); when the backend fails
    as a whole, every row has its error, and the failure policy (:mod:`kura_dbt.failures`)
    decides at once whether the model fails. A conversation with nothing to summarise (no
    text: no call, no error) is not counted as tried."""
    pairs = [
        (r.conversation_id, parse_messages(r.messages_json)) for r in todo.itertuples(index=False)
    ]
    try:
        return [record.to_row() for record in _summarise_all(summariser, pairs, progress)]
    except Exception as exc:  # the backend failed as a whole, so did every row
        records: list[dict[str, Any]] = [
            {"error": describe(exc), "flags": ["error"]} for _ in pairs
        ]
        check_failures(
            "summaries",
            [r["error"] for r in records],
            _summariser_text(summariser),
            _retries(todo),
        )
        return records


# the summary columns a record gives as they are
_SUMMARY_VALUES = (
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
)


def _summary_row(
    summariser: Any, record: Any, result: dict[str, Any], now: datetime, left_pending: int
) -> dict[str, Any]:
    """The ``kura__summaries`` row of one transcript ``record`` and its summary ``result``."""
    return {
        "conversation_id": record.conversation_id,
        "content_hash": record.content_hash,
        "summariser": summariser.name,
        "model": summariser.model,
        "prompt_version": summariser.prompt_version,
        "summarised_at": now,
        **{column: result.get(column) for column in _SUMMARY_VALUES},
        "languages": _json_or_none(result.get("languages") or []),
        "assistant_errors": _json_or_none(result.get("assistant_errors")),
        "extra_facets": _json_or_none(result.get("extra_facets")),
        "flags": _json_or_none(result.get("flags") or []),
        "pending_after_cap": left_pending or None,
    }


# --------------------------------------------------------------------------- embeddings


def _hashed(todo: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``todo`` whose ``text`` is not blank, with ``text_hash``, by conversation."""
    ok = todo.assign(text=todo["text"].astype(str))
    ok = ok[ok["text"].str.strip() != ""]
    ok = ok.assign(text_hash=[text_hash(t) for t in ok["text"]])
    return ok.sort_values("conversation_id").reset_index(drop=True)


def embed_new(warehouse: WarehouseReader, config: Config) -> pd.DataFrame:
    """The rows of the ``kura__embeddings`` model this build adds or replaces: the summaries
    that are new, whose text or embedding model changed, or whose embedding failed last time
    (and is not parked), selected in SQL (a join with the model's previous state on the text
    hash, embedder and model)."""
    settings = Settings.from_config(config)
    embedder = EMBEDDERS.build(settings.embedder, settings)
    summaries, state = warehouse.views["summaries"], warehouse.state
    policy = RetryPolicy.of(settings)
    todo = warehouse.query(
        sql.pending_embeddings(
            summaries,
            state,
            settings.embedded_column(),
            embedder,
            state_columns(warehouse, state),
            policy.retry_gave_up,
        )
    )
    # progress lines and a run summary (kura_dbt.progress); an LLM embedder's requests report
    # to the stage's monitor, a local one goes in tenths (_embed_texts)
    started = time.monotonic()
    progress = Progress.of(
        "kura__embeddings", settings, unit="requests" if llm_of(embedder) is not None else "texts"
    )
    with monitoring(StageMonitor(progress, llm=llm_of(embedder))):
        frame = _embeddings_of(embedder, _hashed(todo), policy)
    if settings.progress:
        rows_in = _count(warehouse, summaries)
        emit(
            _summary_line("kura__embeddings", frame, rows_in, len(frame), started, llm_of(embedder))
        )
    return frame


EMBED_CHUNK_MAX = 1024  # texts per call of a local embedder: about 8 s on 2 cores


def _embed_texts(embedder: Any, texts: list[str]) -> Any:
    """``embedder.embed_with_usage(texts)``; a local embedder (no LLM requests to report)
    goes in tenths of the texts, at most :data:`EMBED_CHUNK_MAX` at a time, so that the
    stage's progress speaks at any size, every tenth or every ``kura__progress_interval_s``."""
    from kura_dbt.budget import current_monitor
    from kura_dbt.embeddings.base import EmbeddingRun

    monitor = current_monitor()
    if monitor is None or llm_of(embedder) is not None or not texts:
        return embedder.embed_with_usage(texts)
    size = min(EMBED_CHUNK_MAX, -(-len(texts) // 10))
    monitor.progress.add_total(len(texts))
    parts = []
    for start in range(0, len(texts), size):
        parts.append(embedder.embed_with_usage(texts[start : start + size]))
        monitor.progress.advance(len(texts[start : start + size]))
    return EmbeddingRun(
        np.vstack([p.vectors for p in parts]),
        [e for p in parts for e in p.errors],
        [t for p in parts for t in p.prompt_tokens],
        [c for p in parts for c in p.llm_calls],
    )


def _embeddings_of(
    embedder: Any, todo: pd.DataFrame, policy: RetryPolicy | None = None
) -> pd.DataFrame:
    run = _embed_texts(embedder, todo["text"].tolist())
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
    frame = stamp(frame, _previous_attempts(todo), policy or RetryPolicy(), [True] * len(frame))
    return typed_frame(frame, EMBEDDING_SCHEMA)


# --------------------------------------------------------------------------- taxonomy


def cluster_state(warehouse: WarehouseReader, config: Config) -> pd.DataFrame:
    """The rows of ``int_kura__cluster_state`` this build adds or replaces: assignments of the
    new or changed conversations (or, at a re-discovery, of all), the taxonomy, one run row
    and lineage. ``warehouse`` is a :class:`kura_dbt.frames.Warehouse` with the views
    ``embeddings`` and ``summaries``. The labeller's LLM calls (names, the CLIO hierarchy)
    report progress to the stage's monitor; the model ends with a run summary line."""
    settings = Settings.from_config(config)
    started = time.monotonic()
    with _llm_stage("int_kura__cluster_state (names and hierarchy)", settings) as monitor:
        frame = update_taxonomy(warehouse, settings, _now())
    if settings.progress:
        kinds = frame["record_type"].value_counts().to_dict() if len(frame) else {}
        done = int(kinds.get("conversation", 0))
        rows_in = _count(warehouse, warehouse.views["embeddings"])
        labelled = frame[frame["record_type"] == "cluster"] if len(frame) else frame
        errors = int(labelled["label_error"].fillna(False).sum()) if len(labelled) else 0
        decisions = list(frame.loc[frame["record_type"] == "run", "decision"]) if len(frame) else []
        emit(
            run_summary(
                "int_kura__cluster_state",
                rows_in=rows_in,
                done=done,
                reused=max(0, rows_in - done),
                errors=errors,
                **_spent(monitor),
                seconds=time.monotonic() - started,
                extra=f"{kinds.get('cluster', 0)} cluster rows written"
                + (f", decision {decisions[0]}" if decisions else ""),
            )
        )
    return frame


# --------------------------------------------------------------------------- classification


def classification_state(warehouse: WarehouseReader, config: Config) -> pd.DataFrame:
    """The rows of ``int_kura__classification_state`` this build adds or replaces: every new
    or changed conversation labelled or classified into the pinned taxonomy
    (var ``kura__pinned_taxonomy``; nothing in discovery mode), see
    :mod:`kura_dbt.classify.run`. The classifier's LLM calls report progress to the stage's
    monitor (and its budget cap)."""
    from kura_dbt.classify.run import update_classifications

    settings = Settings.from_config(config)
    started = time.monotonic()
    with _llm_stage("int_kura__classification_state", settings) as monitor:
        frame = update_classifications(warehouse, settings, _now())
    if settings.progress and settings.pinned_taxonomy is not None:
        conversations = frame[frame["record_type"] == "conversation"]
        rows_in = _count(warehouse, warehouse.views["embeddings"])
        emit(
            run_summary(
                "int_kura__classification_state",
                rows_in=rows_in,
                done=int(conversations["error"].isna().sum()),
                reused=max(0, rows_in - len(conversations)),
                errors=int(conversations["error"].notna().sum()),
                **_spent(monitor),
                seconds=time.monotonic() - started,
                extra=f"taxonomy version {frame['taxonomy_version'].dropna().iloc[-1]}"
                if len(frame)
                else "",
            )
        )
    return frame


# --------------------------------------------------------------------------- map


def map_points(warehouse: WarehouseReader, config: Config) -> pd.DataFrame:
    """The rows of ``int_kura__map_points`` this build adds or replaces: the new or changed
    conversations placed on the existing map, or every conversation when the map is fitted."""
    settings = Settings.from_config(config)
    name = PROJECTORS.key(settings.projector)
    started = time.monotonic()
    frame = update_map(warehouse, settings, _now(), PROJECTORS.build(name, settings), name)
    frame = typed_frame(frame, MAP_SCHEMA)
    if settings.progress:
        rows_in = _count(warehouse, warehouse.views["embeddings"])
        fitted = int((frame["placed_by"] == "fit").sum()) if len(frame) else 0
        emit(
            run_summary(
                "int_kura__map_points",
                rows_in=rows_in,
                done=len(frame),
                reused=max(0, rows_in - len(frame)),
                errors=0,
                seconds=time.monotonic() - started,
                cost_usd=0.0,
                extra=f"{fitted} placed by a {name} fit, {len(frame) - fitted} from neighbours",
            )
        )
    return frame
