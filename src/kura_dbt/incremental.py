"""Which rows an incremental model must (re)compute, from its previous state (``{{ this }}``)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd


def text_hash(text: str) -> str:
    """The hash stored with a result to tell whether its input changed."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


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
