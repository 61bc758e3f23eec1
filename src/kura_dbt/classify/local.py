"""The local classifier: multinomial logistic regression on the embeddings of the categories'
labelled members and the file's examples, with a calibrated confidence and an abstain
threshold.

Confidence is the regression's probability after *temperature scaling*: one temperature,
fitted on out-of-fold decision scores (stratified cross-validation on the training set) to
minimise the log loss, divides every score before the softmax. It changes no prediction, only
how sure they claim to be, so that "0.8" means right about 80 % of the time on held-out
conversations. A conversation whose confidence is below ``min_confidence`` (var
``kura__classifier_min_confidence``) is ``other``: doubtful conversations are not forced into
a category.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kura_dbt.classify.base import OTHER, Item, Prediction, TrainingSet
from kura_dbt.clustering.assign import unit_rows

# training members per category (a seeded sample beyond): the fit stays quick on any table
MAX_MEMBERS_PER_CATEGORY = 2000


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``softmax(scores / t)`` against the
    class indices ``truth`` (a grid, then a finer grid around the best)."""
    if len(scores) == 0:
        return 1.0

    def loss(t: float) -> float:
        p = _softmax(scores / t)[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())

    grid = np.geomspace(0.05, 20.0, 41)
    best = float(grid[int(np.argmin([loss(t) for t in grid]))])
    fine = np.geomspace(best / 1.25, best * 1.25, 21)
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


class LocalClassifier:
    name = "local"
    model = "logistic_regression"
    needs_vectors = True

    def __init__(self, min_confidence: float = 0.5, seed: int = 42, C: float = 10.0) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(
                "kura: var kura__classifier_min_confidence must be between 0 and 1, "
                f"got {min_confidence}"
            )
        self.min_confidence = min_confidence
        self.seed = seed
        self.C = C
        self.classes_: list[str] = []
        self.temperature_ = 1.0
        self._model = None

    def _estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")

    def fit(self, training: TrainingSet) -> LocalClassifier:
        if training.vectors is None or len(training.labels) == 0:
            raise ValueError(
                "kura: the local classifier has nothing to learn from: no category of the "
                "pinned taxonomy has members or examples with an embedding"
            )
        X = unit_rows(training.vectors).astype(np.float64)
        y = np.asarray(training.labels, dtype=object)
        keep = _cap_per_class(y, MAX_MEMBERS_PER_CATEGORY, self.seed, training.is_example)
        X, y = X[keep], y[keep]
        self.classes_ = sorted(set(y))
        if len(self.classes_) == 1:  # one category: everything close enough is in it
            self._centroid = unit_rows(X.mean(axis=0, keepdims=True))[0]
            self._model = None
            return self
        truth = np.array([self.classes_.index(v) for v in y])
        self._model = self._estimator().fit(X, truth)
        self.temperature_ = self._calibrate(X, truth)
        return self

    def _calibrate(self, X: np.ndarray, truth: np.ndarray) -> float:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        smallest = int(np.bincount(truth).min())
        folds = min(5, smallest)
        if folds < 2:
            return 1.0
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
        scores = cross_val_predict(
            self._estimator(), X, truth, cv=splitter, method="decision_function"
        )
        return fit_temperature(np.asarray(scores, dtype=np.float64), truth)

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        X = unit_rows(vectors).astype(np.float64)
        if self._model is None:
            similarity = X @ self._centroid
            return np.clip(similarity, 0.0, 1.0)[:, None]
        return _softmax(self._model.decision_function(X) / self.temperature_)

    def classify(self, items: Sequence[Item]) -> list[Prediction]:
        if not items:
            return []
        proba = self.predict_proba(np.stack([np.asarray(i.vector) for i in items]))
        best = proba.argmax(axis=1)
        out = []
        for row, b in zip(proba, best, strict=True):
            confidence = float(row[b])
            top = self.classes_[int(b)]
            if confidence < self.min_confidence:
                out.append(Prediction(OTHER, top, confidence, note="abstained"))
            else:
                out.append(Prediction(top, top, confidence))
        return out


def _cap_per_class(
    y: np.ndarray, cap: int, seed: int, is_example: Sequence[bool] | None = None
) -> np.ndarray:
    """Indices that keep at most ``cap`` members per class (a seeded sample), and every
    example."""
    rng = np.random.default_rng(seed)
    examples = np.asarray(is_example, dtype=bool) if is_example else np.zeros(len(y), bool)
    keep = []
    for label in sorted(set(y)):
        members = np.flatnonzero((y == label) & ~examples)
        if len(members) > cap:
            members = np.sort(rng.choice(members, cap, replace=False))
        keep.extend(members.tolist())
        keep.extend(np.flatnonzero((y == label) & examples).tolist())
    return np.array(sorted(keep), dtype=np.int64)
