"""The ``int_kura__privacy_audit`` model's work: the texts not yet scored by this auditor,
selected in SQL (:func:`kura_dbt.sql.pending_audits`), scored, typed.

An LLM auditor runs under the stage's :class:`~kura_dbt.budget.StageMonitor` (progress lines
and the budget cap, ``kura__llm_max_calls`` / ``kura__llm_max_cost_usd``: texts the cap kept
from being sent are not written and stay pending, so the marts withhold them until a later run
scores them). The failure policy is the other stages' (:func:`kura_dbt.failures.check_failures`):
a failed text is kept with its error, withheld and audited again next run; a run in which every
text failed fails the model.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from kura_dbt import sql
from kura_dbt.audit import build_auditor
from kura_dbt.budget import budgeted, is_skipped, llm_of
from kura_dbt.failures import check_failures
from kura_dbt.frames import WarehouseReader
from kura_dbt.parking import RetryPolicy, parked_count, stamp, state_columns
from kura_dbt.progress import Progress, emit, run_summary
from kura_dbt.settings import Settings
from kura_dbt.tables import AUDIT_SCHEMA, typed_frame

__all__ = ["audit_new", "parked_audits", "pending_audits"]

# completion tokens of one PrivacyScore answer before any history (a sentence and a number)
DEFAULT_AUDIT_COMPLETION_TOKENS = 60


def pending_audits(
    warehouse: WarehouseReader, auditor: Any, policy: RetryPolicy | None = None
) -> pd.DataFrame:
    """The distinct texts of ``texts`` that ``auditor`` has not scored yet, or failed on and
    has not given up on (unless ``policy.retry_gave_up``), with ``previous_error`` and
    ``previous_attempts``."""
    policy = policy or RetryPolicy()
    known = state_columns(warehouse, warehouse.state)
    query = sql.pending_audits(
        warehouse.views["texts"], warehouse.state, auditor, known, policy.retry_gave_up
    )
    return warehouse.query(query).reset_index(drop=True)


def parked_audits(warehouse: WarehouseReader, auditor: Any) -> int:
    """Distinct texts whose audit by ``auditor`` is parked (withheld, not sent again)."""
    texts = warehouse.views["texts"]
    return parked_count(warehouse, lambda state: sql.parked_audits(texts, state, auditor))


def audit_new(warehouse: WarehouseReader, config: Any) -> pd.DataFrame:
    """The rows of ``int_kura__privacy_audit`` this build adds or replaces."""
    settings = Settings.from_config(config)
    auditor = build_auditor(settings)
    started = time.monotonic()
    policy = RetryPolicy.of(settings)
    todo = pending_audits(warehouse, auditor, policy)
    llm = llm_of(auditor)
    progress = Progress.of(
        "int_kura__privacy_audit", settings, unit="calls" if llm is not None else "texts"
    )
    if len(todo):
        progress.say(f"{len(todo)} texts to audit")
    with budgeted(progress, llm, completion_guess=DEFAULT_AUDIT_COMPLETION_TOKENS) as monitor:
        frame = scored(auditor, todo, policy)
    if monitor is not None and monitor.capped:
        monitor.say_capped(f"{len(todo) - len(frame)} texts left pending (withheld until audited)")
    if settings.progress:
        emit(_summary_line(frame, len(todo), started), "info")
    return frame


def scored(auditor: Any, todo: pd.DataFrame, policy: RetryPolicy | None = None) -> pd.DataFrame:
    """``todo``'s texts scored by ``auditor``: skipped ones (budget cap) left out, the failure
    policy applied, attempts counted (:func:`kura_dbt.parking.stamp`)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    items = [(str(r.text_hash), str(r.kind), str(r.text)) for r in todo.itertuples(index=False)]
    records = [r.as_row() for r in auditor.audit_many(items)] if items else []
    sent = pd.Series([not is_skipped(row.get("error")) for row in records], dtype=bool)
    todo = todo.reset_index(drop=True)[sent.to_numpy()] if len(todo) else todo
    kept = [
        {**row, "kind": kind, "audited_at": now}
        for row, (_, kind, _), keep in zip(records, items, sent, strict=True)
        if keep
    ]
    previous = _column(todo, "previous_attempts", 0).fillna(0).astype(int)
    retries = (previous > 0) | _column(todo, "previous_error", None).notna()
    check_failures(
        "privacy audits",
        [row.get("error") for row in kept],
        f"auditor {auditor.name}, model {auditor.model}",
        retries.tolist(),
    )
    frame = typed_frame(kept, AUDIT_SCHEMA)
    frame = stamp(frame, previous.tolist(), policy or RetryPolicy(), [True] * len(kept))
    return typed_frame(frame, AUDIT_SCHEMA)


def _column(frame: pd.DataFrame, name: str, default: Any) -> pd.Series:
    """``frame[name]``, or ``default`` on every row when it has no such column."""
    return frame[name] if name in frame else pd.Series(default, index=frame.index, dtype=object)


def _summary_line(frame: pd.DataFrame, pending: int, started: float) -> str:
    errors = int(frame["error"].notna().sum()) if len(frame) else 0
    withheld = int((frame["score"].fillna(5) < 3).sum()) if len(frame) else 0
    costs = frame["cost_usd"].dropna()
    parked = int(frame["gave_up"].fillna(False).sum()) if len(frame) else 0
    notes = [f"{withheld} scored below 3"] if withheld else []
    if parked:
        notes.append(f"{parked} parked after kura__llm_max_attempts failures (withheld)")
    return run_summary(
        "int_kura__privacy_audit",
        rows_in=pending,
        done=len(frame) - errors,
        reused=0,
        errors=errors,
        calls=int(frame["llm_calls"].fillna(0).sum()) if len(frame) else 0,
        prompt_tokens=int(frame["prompt_tokens"].fillna(0).sum()) if len(frame) else 0,
        completion_tokens=int(frame["completion_tokens"].fillna(0).sum()) if len(frame) else 0,
        cost_usd=float(costs.sum()) if len(costs) else 0.0,
        seconds=time.monotonic() - started,
        extra="; ".join(notes),
    )
