"""The tables the Python models write: one typed schema each, so that an empty result still
has the right column types, and the state columns an incremental model reads back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

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
    # conversations this run left pending because its LLM budget cap was reached (NULL: not
    # capped), on every row the run wrote (kura__llm_usage.budget_cap_reached)
    "pending_after_cap": "Int64",
    # bounded retries (kura_dbt.parking): runs that sent the row for its current input key,
    # and whether it is parked after kura__llm_max_attempts failures
    "attempts": "Int64",
    "gave_up": "boolean",
}
SUMMARY_STATE_COLUMNS = [
    "conversation_id",
    "content_hash",
    "summariser",
    "model",
    "prompt_version",
    "error",
    "attempts",
    "gave_up",
]

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
    "attempts": "Int64",  # as in SUMMARY_SCHEMA (kura_dbt.parking)
    "gave_up": "boolean",
}
EMBEDDING_STATE_COLUMNS = [
    "conversation_id",
    "text_hash",
    "embedder",
    "model",
    "error",
    "attempts",
    "gave_up",
]


AUDIT_SCHEMA: dict[str, str] = {
    "text_hash": "string",
    "kind": "string",
    "score": "Int64",
    "reason": "string",
    "error": "string",
    "auditor": "string",
    "model": "string",
    "prompt_version": "string",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "cost_usd": "float64",
    "llm_calls": "Int64",
    "audited_at": "datetime64[us]",
    "attempts": "Int64",  # as in SUMMARY_SCHEMA (kura_dbt.parking)
    "gave_up": "boolean",
}


def typed_frame(
    rows: list[dict[str, Any]] | pd.DataFrame, schema: Mapping[str, str]
) -> pd.DataFrame:
    """``rows`` as a frame with exactly the schema's columns, in order, with its types."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(schema))
    frame = frame.reindex(columns=list(schema))
    for column, dtype in schema.items():
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame.reset_index(drop=True)
