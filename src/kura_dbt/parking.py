"""Bounded retries: a row that keeps failing is parked, so that no night bills for nothing.

Every row of a stage that calls a model row by row (summaries, embeddings, cluster names,
classifications) counts ``attempts``: the runs that sent it for its current input key (its
content or text hash, backend, model and prompt version), the successful one included. A row
whose input key changed starts again at 1. After ``kura__llm_max_attempts`` failures (default
3) the row is parked: ``gave_up`` is true, ``error`` keeps the last error, and it is not sent
again until its input key changes or the user sets var ``kura__llm_retry_gave_up: true`` (then
it is sent once more per run, and parked again if it fails again).

The failure policy of a run (:mod:`kura_dbt.failures`) is unchanged: a run in which every row
it attempted failed fails the model, unless every one was a retry of an earlier failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kura_dbt import sql
from kura_dbt.frames import WarehouseReader

__all__ = ["RetryPolicy", "stamp", "state_columns"]


@dataclass(frozen=True)
class RetryPolicy:
    """Vars ``kura__llm_max_attempts`` and ``kura__llm_retry_gave_up``."""

    max_attempts: int = 3
    retry_gave_up: bool = False

    @classmethod
    def of(cls, settings: Any) -> RetryPolicy:
        """The policy of a run's :class:`~kura_dbt.settings.Settings` (its ``llm`` vars)."""
        llm = settings.llm_settings()
        return cls(llm.max_attempts, llm.retry_gave_up)

    def gave_up(self, error: str | None, attempts: int) -> bool:
        """Whether a row that ended its ``attempts``-th try with ``error`` is parked."""
        return error is not None and attempts >= self.max_attempts


def state_columns(warehouse: WarehouseReader, relation: str | None) -> set[str]:
    """The (lower-case) column names of a state table, read without reading a row; a table
    written before the attempt columns existed lacks them until its next build appends them
    (``on_schema_change: append_new_columns``)."""
    if relation is None:
        return set()
    frame = warehouse.query(sql.no_rows(relation))
    return {str(c).lower() for c in frame.columns}


def parked_count(warehouse: WarehouseReader, count: Callable[[str], str]) -> int:
    """How many of a stage's inputs are parked: ``count(state)`` is the query that counts them
    (``n``, e.g. :func:`kura_dbt.sql.parked_summaries`); 0 before the stage's state table exists
    or has a ``gave_up`` column."""
    if warehouse.state is None or "gave_up" not in state_columns(warehouse, warehouse.state):
        return 0
    return int(warehouse.query(count(warehouse.state))["n"].iloc[0])


def stamp(
    frame: pd.DataFrame, previous: Sequence[Any], policy: RetryPolicy, sent: Sequence[bool]
) -> pd.DataFrame:
    """``frame`` (one row per row sent this run, in order) with ``attempts`` and ``gave_up``:
    ``previous`` has each row's earlier attempts for the same key, ``sent`` whether a call was
    made for it (a row with nothing to ask about, such as an empty conversation, is not
    counted as an attempt)."""
    before = [0 if pd.isna(p) else int(p) for p in previous]
    attempts = [b + 1 if s else b for b, s in zip(before, sent, strict=True)]
    errors = frame["error"].tolist() if len(frame) else []
    gave_up = [
        policy.gave_up(None if pd.isna(e) else e, a) for e, a in zip(errors, attempts, strict=True)
    ]
    return frame.assign(
        attempts=pd.array(attempts, dtype="Int64"), gave_up=pd.array(gave_up, dtype="boolean")
    )
