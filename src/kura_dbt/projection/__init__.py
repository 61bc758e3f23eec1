"""Map stage: embeddings -> 2D coordinates. Backends by var ``kura__projector``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from kura_dbt.projection.projectors import PcaProjector, UmapProjector
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = ["PROJECTORS", "PcaProjector", "Projector", "UmapProjector", "cluster_points"]


@runtime_checkable
class Projector(Protocol):
    """``fit_transform`` maps n x d embeddings to n x 2 coordinates, deterministically for a
    given ``random_state``."""

    name: str

    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...


PROJECTORS: Registry[Projector] = Registry("projector")


@PROJECTORS.register("umap")
def _umap(settings: Settings) -> Projector:
    return UmapProjector(random_state=settings.seed)


@PROJECTORS.register("pca")
def _pca(settings: Settings) -> Projector:
    return PcaProjector(random_state=settings.seed)


def cluster_points(points: pd.DataFrame, hierarchy: pd.DataFrame) -> pd.DataFrame:
    """Map positions of the clusters at every level: the mean of their conversations' points.

    ``points`` has ``cluster_id`` (base cluster, NaN for unclustered), ``x`` and ``y``;
    ``hierarchy`` has ``cluster_id``, ``parent_id`` and ``level``. Returns one row per cluster
    (``cluster_id``, ``level``, ``x``, ``y``), base level first.
    """
    if hierarchy.empty:
        return pd.DataFrame(columns=["cluster_id", "level", "x", "y"])
    membership = points.loc[points["cluster_id"].notna(), ["cluster_id", "x", "y"]]
    parent = hierarchy.set_index("cluster_id")["parent_id"]
    level_of = hierarchy.set_index("cluster_id")["level"]
    rows = []
    for _ in sorted(hierarchy["level"].unique()):
        means = membership.groupby("cluster_id", sort=True)[["x", "y"]].mean().reset_index()
        means["level"] = means["cluster_id"].map(level_of).astype("Int64")
        rows.append(means)
        membership = membership.assign(cluster_id=membership["cluster_id"].map(parent))
        membership = membership[membership["cluster_id"].notna()]
    return pd.concat(rows, ignore_index=True)[["cluster_id", "level", "x", "y"]]
