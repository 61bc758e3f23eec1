"""Classifier quality on banking77: how close a pinned taxonomy with a few labelled examples per
category gets to a classifier trained on everything.

The banking77 train split (10,003 queries) and test split (3,080 queries, 77 intents) are
embedded with all-MiniLM-L6-v2 (``cluster_quality.py``'s loading, embedding and cache in
benchmarks/.cache/). Per seed:

1. a taxonomy from the train split: the 77 intents as categories, with 5, 10 or 20 labelled
   examples each (a seeded sample);
2. the test split is classified by the local classifier (``kura__classifier: local``, the
   class the ``int_kura__classification_state`` model builds: logistic regression on the
   examples' embeddings, temperature-calibrated), and, side by side, by nearest centroid on the
   same examples;
3. the ceiling: logistic regression (the same estimator) on the whole train split.

Accuracy and macro-F1 over the test split, without abstention (``min_confidence`` 0); then,
at the default abstain threshold (``kura__classifier_min_confidence`` 0.5), the share of test
queries kept (not sent to ``other``), the accuracy on those, and the expected calibration error
(15 bins) of the calibrated confidence.

The target: with 20 examples per intent, within 5 points of the ceiling.

Usage (from the repository root)::

    python benchmarks/classifier_quality.py [--data-dir ../shared/data] [--sizes 5 10 20] \
        [--seeds 42 0 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.cluster_quality import embed, load_banking77, machine_line  # noqa: E402
from kura_dbt.classify.base import Item, LeafCategory, TrainingSet  # noqa: E402
from kura_dbt.classify.local import LocalClassifier  # noqa: E402
from kura_dbt.clustering.assign import unit_rows  # noqa: E402

DEFAULT_THRESHOLD = 0.5


def macro_f1(truth: list[str], guess: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, guess, average="macro", labels=sorted(set(truth))))


def calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - right[inside].mean())
    return total


def sample(labels: list[str], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.asarray(labels, dtype=object)
    rows = [rng.choice(np.flatnonzero(y == c), n, replace=False) for c in sorted(set(labels))]
    return np.sort(np.concatenate(rows))


def local_classifier(X: np.ndarray, y: list[str], texts: list[str], seed: int) -> LocalClassifier:
    categories = [LeafCategory(c, c, "", []) for c in sorted(set(y))]
    training = TrainingSet(categories, texts, list(y), X, [True] * len(y))
    return LocalClassifier(min_confidence=0.0, seed=seed).fit(training)


def nearest_centroid(X: np.ndarray, y: list[str], X_test: np.ndarray) -> list[str]:
    classes = sorted(set(y))
    labels = np.asarray(y, dtype=object)
    centroids = unit_rows(np.stack([X[labels == c].mean(axis=0) for c in classes]))
    return [classes[i] for i in (unit_rows(X_test) @ centroids.T).argmax(axis=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1])
    args = parser.parse_args()

    print(machine_line())
    train_texts, train_labels = load_banking77(args.data_dir, "train")
    test_texts, test_labels = load_banking77(args.data_dir, "test")
    X_train, s1, c1 = embed(train_texts, "banking77-train")
    X_test, s2, c2 = embed(test_texts, "banking77-test")
    print(
        f"banking77: {len(train_texts)} train, {len(test_texts)} test queries, "
        f"{len(set(train_labels))} intents; embedded in {s1 + s2:.0f} s"
        + (" (cached)" if c1 and c2 else "")
    )

    started = time.perf_counter()
    from sklearn.linear_model import LogisticRegression

    reference = LocalClassifier(min_confidence=0.0)
    ceiling = LogisticRegression(C=reference.C, max_iter=2000, class_weight="balanced")
    ceiling.fit(unit_rows(X_train), train_labels)
    guess = list(ceiling.predict(unit_rows(X_test)))
    ceiling_acc = float(np.mean([g == t for g, t in zip(guess, test_labels, strict=True)]))
    ceiling_f1 = macro_f1(test_labels, guess)
    print(
        f"ceiling: logistic regression on the whole train split ({len(train_labels)} queries): "
        f"accuracy {ceiling_acc:.3f}, macro-F1 {ceiling_f1:.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )

    header = (
        f"{'examples':>8} | {'local acc':>9} {'macro-F1':>8} | {'centroid acc':>12} "
        f"{'macro-F1':>8} | {'gap to ceiling':>14} | {'kept @0.5':>9} {'acc kept':>8} {'ECE':>6}"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        runs = []
        for seed in args.seeds:
            rows = sample(train_labels, n, seed)
            y = [train_labels[i] for i in rows]
            classifier = local_classifier(X_train[rows], y, [train_texts[i] for i in rows], seed)
            items = [Item(str(i), "", v) for i, v in enumerate(X_test)]
            predictions = classifier.classify(items)
            guess = [p.category_id for p in predictions]
            right = np.array([g == t for g, t in zip(guess, test_labels, strict=True)])
            confidence = np.array([p.confidence for p in predictions])
            kept = confidence >= DEFAULT_THRESHOLD
            centroid = nearest_centroid(X_train[rows], y, X_test)
            runs.append(
                (
                    right.mean(),
                    macro_f1(test_labels, guess),
                    np.mean([g == t for g, t in zip(centroid, test_labels, strict=True)]),
                    macro_f1(test_labels, centroid),
                    kept.mean(),
                    right[kept].mean() if kept.any() else float("nan"),
                    calibration_error(confidence, right),
                )
            )
        m = np.mean(np.array(runs, dtype=float), axis=0)
        print(
            f"{n:>8} | {m[0]:>9.3f} {m[1]:>8.3f} | {m[2]:>12.3f} {m[3]:>8.3f} | "
            f"{100 * (ceiling_acc - m[0]):>11.1f} pt | {m[4]:>9.3f} {m[5]:>8.3f} {m[6]:>6.3f}"
        )
    print(
        f"(means over seeds {', '.join(map(str, args.seeds))}; "
        f"{time.perf_counter() - started:.0f} s in all)"
    )


if __name__ == "__main__":
    main()
