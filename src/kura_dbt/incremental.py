"""Which rows an incremental model must (re)compute, from its previous state (``{{ this }}``)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd


def text_hash(text: str) -> str:
    """The hash stored with a result to tell whether its input changed."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def embedded_texts(summaries: pd.DataFrame, column: str) -> pd.Series:
    """:func:`kura_dbt.sql.embedded_text` for a frame of summaries."""
    texts = summaries["summary"]
    if column != "summary" and column in summaries:
        chosen = summaries[column].astype("string")
        texts = chosen.where(chosen.str.strip().fillna("") != "", texts)
    return texts


def _expected(current: pd.DataFrame, keys: dict[str, Any]) -> pd.DataFrame:
    """The key values each row of ``current`` must find in its previous state row."""
    expected = pd.DataFrame({"conversation_id": current["conversation_id"].to_numpy()})
    for key, value in keys.items():
        expected[key] = current[key].to_numpy() if value is None else value
    return expected


def _same_key(expected: pd.DataFrame, old: pd.DataFrame, keys: dict[str, Any]) -> pd.Series:
    """Per expected row: a previous row exists with the same values of every key."""
    same = expected["conversation_id"].isin(old.index)
    for key in keys:
        before = expected["conversation_id"].map(old[key]).astype("string").fillna("\0")
        same &= before == expected[key].astype("string").fillna("\0")
    return same


def needs_work(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    keys: dict[str, Any],
    retry_gave_up: bool = False,
) -> pd.Series:
    """True for rows of ``current`` with no valid previous result under the same keys.

    ``keys`` maps a state column to the value it must have: ``None`` means "the value in the
    same column of ``current``" (e.g. a content hash), anything else is a constant (e.g. the
    model name). A previous row with an error is redone, unless it is parked for the same keys
    (``gave_up``, see :mod:`kura_dbt.parking`) and ``retry_gave_up`` is not set.
    """
    if previous is None or previous.empty:
        return pd.Series(True, index=current.index)
    expected = _expected(current, keys)
    old = previous.drop_duplicates("conversation_id").set_index("conversation_id")
    same = _same_key(expected, old, keys)
    stale = ~same
    if "error" in old:
        failed = expected["conversation_id"].map(old["error"]).notna()
        if "gave_up" in old and not retry_gave_up:
            parked = expected["conversation_id"].map(old["gave_up"]).fillna(False).astype(bool)
            failed &= ~(same & parked)
        stale |= failed
    return pd.Series(stale.to_numpy(), index=current.index)


def previous_attempts(
    current: pd.DataFrame, previous: pd.DataFrame | None, keys: dict[str, Any]
) -> pd.Series:
    """Per row of ``current``: the attempts its previous state row made for the same keys (as
    in :func:`needs_work`); 0 when the keys changed or there is no row, 1 for a row written
    before ``attempts`` existed."""
    if previous is None or previous.empty:
        return pd.Series(0, index=current.index, dtype="Int64")
    expected = _expected(current, keys)
    old = previous.drop_duplicates("conversation_id").set_index("conversation_id")
    same = _same_key(expected, old, keys)
    before = (
        expected["conversation_id"].map(old["attempts"]).astype("Float64").fillna(1)
        if "attempts" in old
        else pd.Series(1, index=expected.index)
    )
    counts = before.where(same.to_numpy(), 0).astype("Int64")
    return pd.Series(counts.to_numpy(), index=current.index)
