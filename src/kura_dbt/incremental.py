"""Which rows an incremental model must (re)compute, from its previous state (``{{ this }}``)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd


def text_hash(text: str) -> str:
    """The hash stored with a result to tell whether its input changed."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def embedded_text_sql(column: str, alias: str) -> str:
    """SQL for the text that is embedded from a ``kura__summaries`` row ``alias``: the
    ``column`` chosen by ``Settings.embedded_column``; a conversation without a request (a
    greeting, only code) falls back to its summary, so it is still clustered."""
    if column == "summary":
        return f"{alias}.summary"
    return f"coalesce(nullif(trim({alias}.{column}), ''), {alias}.summary)"


def embedded_texts(summaries: pd.DataFrame, column: str) -> pd.Series:
    """:func:`embedded_text_sql` for a frame of summaries."""
    texts = summaries["summary"]
    if column != "summary" and column in summaries:
        chosen = summaries[column].astype("string")
        texts = chosen.where(chosen.str.strip().fillna("") != "", texts)
    return texts


def needs_work(
    current: pd.DataFrame, previous: pd.DataFrame | None, keys: dict[str, Any]
) -> pd.Series:
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
