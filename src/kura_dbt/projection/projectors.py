"""The projectors: UMAP (seeded, cosine) and PCA.

A projector says which method it runs: ``method_for(n)`` before a fit of ``n`` points, and
``method`` after :meth:`fit_transform` (UMAP falls back to PCA on small inputs), so that the map
records the method that placed its points, not only the one that was configured.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from kura_dbt.progress import Progress


class UmapProjector:
    """UMAP on cosine distance, seeded. Falls back to PCA below ``min_points`` points: then
    ``method`` is ``"pca"``.

    ``n_epochs`` is fixed (200, UMAP's own choice for large inputs) so that the cost does not
    jump at 10,000 points, where UMAP's default switches from 500 to 200 epochs.
    """

    name = "umap"

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        random_state: int = 42,
        min_points: int = 20,
        n_epochs: int = 200,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.n_epochs = n_epochs
        self.min_dist = min_dist
        self.random_state = random_state
        self.min_points = min_points
        self.method: str | None = None  # what the last fit_transform ran
        # set by the map before a fit: its epochs reported as progress lines
        self.progress: Progress | None = None

    def method_for(self, n_points: int) -> str:
        """The method :meth:`fit_transform` runs on ``n_points`` points."""
        return "pca" if n_points < self.min_points else "umap"

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        self.method = self.method_for(len(X))
        if self.method == "pca":
            return PcaProjector(random_state=self.random_state).fit_transform(X)
        import umap  # imported lazily: numba compilation is slow and not always needed

        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(self.n_neighbors, len(X) - 1),
            min_dist=self.min_dist,
            metric="cosine",
            random_state=self.random_state,
            n_epochs=self.n_epochs,
            n_jobs=1,
            tqdm_kwds=_epoch_reporter(self.progress),
        )
        if self.progress is not None:
            self.progress.say(f"fitting UMAP on {len(X)} points: neighbours, then epochs")
        return np.asarray(reducer.fit_transform(X), dtype=np.float64)


class _EpochLines:
    """A file for UMAP's epoch bar (tqdm): reads ``done total`` from each bar it is written
    (the format :func:`_epoch_reporter` sets) and advances a :class:`Progress` to it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        match = _EPOCHS.search(text)
        if match:
            done, total = int(match.group(1)), int(match.group(2))
            if self.progress.total != total:  # the bar's first line: the epochs start now
                self.progress.set_total(total)
                self.progress.started = self.progress.last_at = self.progress.clock()
            if done > self.progress.done:
                self.progress.advance(done - self.progress.done)
        return len(text)

    def flush(self) -> None:
        pass


_EPOCHS = re.compile(r"kura-epochs (\d+) (\d+)")


def _epoch_reporter(progress: Progress | None) -> dict[str, Any] | None:
    """UMAP's ``tqdm_kwds``: its epoch bar written to :class:`_EpochLines` (None: UMAP's own
    default, no bar)."""
    if progress is None:
        return None
    return {
        "disable": False,
        "file": _EpochLines(progress),
        "bar_format": "kura-epochs {n} {total}",
        "mininterval": 0.0,
    }


class PcaProjector:
    """The first two principal components; exact and fast."""

    name = "pca"

    def __init__(self, random_state: int = 42) -> None:
        self.random_state = random_state
        self.method: str | None = None

    def method_for(self, n_points: int) -> str:
        return "pca"

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        self.method = "pca"
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros((len(X), 2))
        if len(X) < 2:
            return out
        from sklearn.decomposition import PCA

        n_components = min(2, X.shape[1], len(X))
        out[:, :n_components] = PCA(
            n_components=n_components, random_state=self.random_state
        ).fit_transform(X)
        return out
