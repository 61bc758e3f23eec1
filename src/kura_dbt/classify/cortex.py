"""The Cortex classifier (var ``kura__classifier: cortex``): Snowflake ``AI_CLASSIFY`` in SQL.

The calls are made by the SQL model ``int_kura__cortex_classifications`` (macros/cortex/
classify.sql), which runs before ``int_kura__classification_state`` and classifies every
embedded text once per taxonomy, level by level. This backend only reads those answers, by the
MD5 of the item's text (the ``text_hash`` of ``kura__embeddings``), so the conversations it is
asked about and the held-out members of the evaluation get exactly the answers the SQL model
stored. It makes no call and counts none: the calls, estimated tokens, attempts and parked rows
are the SQL model's columns, which ``kura__llm_usage`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kura_dbt import sql
from kura_dbt.classify.base import OTHER, Item, Prediction, TrainingSet
from kura_dbt.frames import WarehouseReader
from kura_dbt.incremental import text_hash

# hashes per look-up query
CHUNK = 1000
MISSING = (
    "no AI_CLASSIFY answer for this text in int_kura__cortex_classifications (it classifies "
    "every embedded text before this model runs; build it with kura__classifier: cortex)"
)


class CortexClassifier:
    name = "cortex"
    model = "ai_classify"
    needs_vectors = False

    def __init__(self) -> None:
        self._warehouse: WarehouseReader | None = None
        self.leaves: set[str] = set()

    def bind(self, warehouse: WarehouseReader) -> None:
        if "cortex_classifications" not in warehouse.views:
            raise ValueError(
                "kura: the cortex classifier reads int_kura__cortex_classifications, which "
                "this model was not given"
            )
        self._warehouse = warehouse

    def fit(self, training: TrainingSet) -> CortexClassifier:
        """Nothing to learn: the file's descriptions and examples travel in the calls."""
        self.leaves = set(training.ids)
        return self

    def classify(self, items: Sequence[Item]) -> list[Prediction]:
        if not items:
            return []
        if self._warehouse is None:
            raise ValueError("kura: the cortex classifier runs inside a dbt model (bind first)")
        hashes = [text_hash(item.text) for item in items]
        answers = _answers(self._warehouse, sorted(set(hashes)))
        return [_prediction(answers.get(h), self.leaves) for h in hashes]


def _answers(warehouse: WarehouseReader, hashes: list[str]) -> dict[str, dict[str, Any]]:
    """The stored answers of the texts with these ``hashes``, by hash."""
    view = warehouse.views["cortex_classifications"]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(hashes), CHUNK):
        frame = warehouse.query(sql.cortex_answers(view, hashes[start : start + CHUNK]))
        found.update({r["text_hash"]: r for r in frame.to_dict("records")})
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _prediction(row: dict[str, Any] | None, leaves: set[str]) -> Prediction:
    """A stored answer as a prediction: its leaf, ``other`` (answered other, or a category the
    taxonomy no longer has as a leaf), or its error (a parked row says so)."""
    if row is None:
        return Prediction(None, error=MISSING)
    error = _text(row.get("error"))
    if error is not None:
        if bool(row.get("gave_up")):
            error = f"parked after {row.get('attempts')} failed AI_CLASSIFY attempts: {error}"
        return Prediction(None, error=error)
    category = _text(row.get("category_id"))
    path = _text(row.get("path"))
    note = _text(row.get("note"))
    if category == OTHER:
        return Prediction(OTHER, None, None, note=note or "answered other")
    if category not in leaves:
        return Prediction(OTHER, None, None, note=f"not a leaf of the taxonomy: {path}")
    return Prediction(category, category, None, note=f"path: {path}" if path else None)
