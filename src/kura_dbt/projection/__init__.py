"""Map stage: embeddings -> 2D coordinates. Backends by var ``kura__projector``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from kura_dbt.projection.projectors import PcaProjector, UmapProjector
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = ["PROJECTORS", "PcaProjector", "Projector", "UmapProjector"]


@runtime_checkable
class Projector(Protocol):
    """``fit_transform`` maps n x d embeddings to n x 2 coordinates, deterministically for a
    given ``random_state``, and sets ``method`` to the method it ran (a projector may fall
    back to another on small inputs, as UMAP does to PCA); ``method_for(n)`` says beforehand
    which one a fit of ``n`` points runs. The map records ``method``."""

    name: str
    method: str | None

    def method_for(self, n_points: int) -> str: ...

    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...


PROJECTORS: Registry[Projector] = Registry("projector")


@PROJECTORS.register("umap")
def _umap(settings: Settings) -> Projector:
    return UmapProjector(random_state=settings.seed)


@PROJECTORS.register("pca")
def _pca(settings: Settings) -> Projector:
    return PcaProjector(random_state=settings.seed)
