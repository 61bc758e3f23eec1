"""How good is the classifier: hold out part of each category's labelled members, learn from
the rest (and the file's examples), classify the held-out ones, and report per category
precision, recall, F1, support and the category it is most often confused with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from kura_dbt.classify.base import OTHER, Classifier, Item, TrainingSet


def holdout_split(
    training: TrainingSet, share: float, seed: int, cap: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices into ``training``: per category, ``share`` of its members
    (at least one when it has two or more, at most ``cap``); examples, and members whose text
    is one of the examples (they are in the prompt), always train."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"kura: var kura__classifier_holdout must be in (0, 1), got {share}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(training.labels, dtype=object)
    examples = np.asarray(training.is_example or [False] * len(labels), dtype=bool)
    example_texts = {t for t, e in zip(training.texts, examples, strict=True) if e}
    shown = np.array([t in example_texts for t in training.texts], dtype=bool)
    held = np.zeros(len(labels), dtype=bool)
    for label in sorted(set(labels)):
        members = np.flatnonzero((labels == label) & ~examples & ~shown)
        if len(members) + int(((labels == label) & ~examples & shown).sum()) < 2:
            continue
        n = max(1, int(round(share * len(members))))
        if cap is not None:
            n = min(n, cap)
        if len(members) and n:
            held[rng.choice(members, min(n, len(members)), replace=False)] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def _subset(training: TrainingSet, rows: np.ndarray) -> TrainingSet:
    return replace(
        training,
        texts=[training.texts[i] for i in rows],
        labels=[training.labels[i] for i in rows],
        vectors=None if training.vectors is None else training.vectors[rows],
        is_example=[training.is_example[i] for i in rows] if training.is_example else [],
    )


def evaluate(
    make: Callable[[], Classifier],
    training: TrainingSet,
    share: float,
    seed: int,
    cap: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per-category rows (``category_id``, ``support``, ``train_size``, ``predicted``,
    ``precision``, ``recall``, ``f1``, ``most_confused_with``, ``confused_count``,
    ``accuracy``, ``abstained``) and the LLM usage of the evaluation."""
    train, held = holdout_split(training, share, seed, cap)
    usage = {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    if len(held) == 0:
        return [], usage
    classifier = make()
    classifier.fit(_subset(training, train))
    items = [
        Item(
            f"holdout-{i}",
            training.texts[i],
            None if training.vectors is None else training.vectors[i],
        )
        for i in held
    ]
    predictions = classifier.classify(items)
    truth = [training.labels[i] for i in held]
    guessed = []
    for p in predictions:
        usage["llm_calls"] += p.llm_calls
        usage["prompt_tokens"] += p.prompt_tokens
        usage["completion_tokens"] += p.completion_tokens
        guessed.append(p.category_id if p.error is None and p.category_id else OTHER)
    return metrics(truth, guessed, training.ids, [training.labels[i] for i in train]), usage


def metrics(
    truth: list[str], guessed: list[str], categories: list[str], trained_on: list[str]
) -> list[dict[str, Any]]:
    """Per-category precision, recall, F1, support and most confused category."""
    pairs = Counter(zip(truth, guessed, strict=True))
    support = Counter(truth)
    predicted = Counter(guessed)
    train_size = Counter(trained_on)
    accuracy = sum(t == g for t, g in zip(truth, guessed, strict=True)) / len(truth)
    rows = []
    for c in categories:
        tp = pairs[(c, c)]
        precision = tp / predicted[c] if predicted[c] else None
        recall = tp / support[c] if support[c] else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else (0.0 if precision is not None and recall is not None else None)
        )
        wrong = [(n, g) for (t, g), n in pairs.items() if t == c and g != c]
        worst = max(wrong, key=lambda x: (x[0], x[1] != OTHER, x[1]), default=(0, None))
        rows.append(
            {
                "category_id": c,
                "support": support[c],
                "train_size": train_size[c],
                "predicted": predicted[c],
                "true_positives": tp,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "most_confused_with": worst[1],
                "confused_count": worst[0],
                "abstained": pairs[(c, OTHER)],
                "accuracy": accuracy,
            }
        )
    return rows
