"""The classifier interface: a pinned taxonomy's leaves, learnt from labelled conversations and
the file's examples, applied to conversations that have no label.

A backend is built from the run's :class:`~kura_dbt.settings.Settings` by its factory in
:data:`kura_dbt.classify.CLASSIFIERS` (var ``kura__classifier``). It gets a
:class:`TrainingSet` once per build (``fit``) and then lists of :class:`Item` (``classify``),
and answers one :class:`Prediction` per item, in order, never raising for an item: a call that
failed is a prediction with ``error`` (the row is kept and classified again on the next run).

``needs_vectors``: whether it reads embeddings (the local one) or texts only (an LLM, or a
warehouse function such as Snowflake Cortex ``AI_CLASSIFY``). A backend that runs in the
warehouse gets the model's :class:`kura_dbt.frames.Warehouse` through ``bind`` before
``classify`` (see docs/ARCHITECTURE.md, "Adding a classifier").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from kura_dbt.frames import WarehouseReader

OTHER = "other"


@dataclass
class LeafCategory:
    """A category conversations can be classified into, as a backend sees it."""

    category_id: str
    name: str
    description: str
    examples: list[str]  # the file's examples, then (for few-shot) member texts


@dataclass
class TrainingSet:
    """What a classifier learns from: the leaf categories, and labelled texts (the categories'
    members, then the file's examples), with their vectors when the backend needs them."""

    categories: list[LeafCategory]
    texts: list[str]
    labels: list[str]
    vectors: np.ndarray | None = None  # one row per text (unit length), or None
    is_example: list[bool] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [c.category_id for c in self.categories]


@dataclass
class Item:
    conversation_id: str
    text: str
    vector: np.ndarray | None = None


@dataclass
class Prediction:
    """One conversation's category (``other`` when the backend abstains or the answer was
    never valid), the backend's best category even when it abstained, its confidence (NULL for
    backends without one), and what it cost."""

    category_id: str | None
    nearest_category_id: str | None = None
    confidence: float | None = None
    error: str | None = None
    note: str | None = None  # why it is other: abstained, invalid answer
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class Classifier(Protocol):
    """``name`` and ``model`` are stored with every row: changing either reclassifies the
    conversations the backend classified (labelled members keep their label)."""

    name: str
    model: str
    needs_vectors: bool

    def fit(self, training: TrainingSet) -> object: ...  # what it returns is not read

    def classify(self, items: Sequence[Item]) -> list[Prediction]: ...


def bind(classifier: Classifier, warehouse: WarehouseReader) -> None:
    """Give a warehouse-side backend its session (optional capability ``bind``)."""
    method = getattr(classifier, "bind", None)
    if callable(method):
        method(warehouse)
