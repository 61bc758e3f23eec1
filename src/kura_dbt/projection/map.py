"""A map that does not move: the state of ``int_kura__map_points``.

The map is fitted once (UMAP by default) on the first build, or when the projector or the
embedding model changes; above ``map_max_fit_points`` it is fitted on a seeded sample and the
rest are placed. The ``projector`` column records the method that actually fitted the map
(UMAP falls back to PCA on fewer than 20 points); a map that PCA fitted for want of points is
fitted again with UMAP once there are enough. Every later build only places its new or
changed conversations from their nearest *anchors* (a seeded sample of at most ``ANCHORS``
fitted points whose positions and embeddings are known), so its cost grows with the new rows,
and no existing point moves.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt import sql
from kura_dbt.frames import WarehouseReader
from kura_dbt.progress import Progress
from kura_dbt.projection.place import place_from_neighbours
from kura_dbt.settings import Settings

ANCHORS = 5_000

MAP_SCHEMA: dict[str, str] = {
    "conversation_id": "string",
    "text_hash": "string",
    "embedding_model": "string",
    "x": "float64",
    "y": "float64",
    "projector": "string",
    "placed_by": "string",
    "is_anchor": "boolean",
    "map_version": "Int64",
    "placed_at": "datetime64[us]",
}


def _vectors(column: pd.Series) -> np.ndarray:
    rows = [json.loads(v) if isinstance(v, str) else v for v in column]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in rows])


def update_map(
    wh: WarehouseReader, settings: Settings, now: datetime, projector: Any, projector_name: str
) -> pd.DataFrame:
    """The map rows this build adds or replaces. ``wh`` has the view ``embeddings`` and, on an
    incremental build, the previous ``state``; ``projector`` fits a new map when one is needed:
    when the map's recorded method differs from the one ``projector`` would run now on the
    points there are (``method_for``), or the embedding model changed."""
    emb, state = wh.views["embeddings"], wh.state
    models = wh.query(sql.embeddings_by_model(emb, usable_only=True))
    if models.empty:
        return pd.DataFrame(columns=list(MAP_SCHEMA))
    model = str(models["model"].iloc[0])
    # the method a fit would run now (UMAP on too few points runs PCA)
    method_for = getattr(projector, "method_for", None)
    n_fit = min(int(models["n"].iloc[0]), settings.map_max_fit_points)
    method = method_for(n_fit) if method_for is not None else projector_name
    version, refit = _current_version(wh, method, model)
    base = {"projector": method, "placed_at": now, "embedding_model": model}
    if refit:
        rows = _sorted(wh.query(sql.embeddings_to_map(emb, model)))
        return _fit(rows, settings, projector, version + 1, base)
    assert state is not None  # no state: always a fit
    pending = _sorted(wh.query(sql.embeddings_not_on_map(emb, state, model)))
    if pending.empty:
        return pd.DataFrame(columns=list(MAP_SCHEMA))
    anchors = wh.query(sql.anchors_of_map(emb, state, model))
    xy = place_from_neighbours(
        _vectors(pending["embedding"]),
        _vectors(anchors["embedding"]),
        anchors[["x", "y"]].to_numpy(float),
    )
    placed = np.full(len(pending), "neighbours", dtype=object)
    return _points(pending, xy, placed, np.zeros(len(pending), dtype=bool), version, base)


def _current_version(wh: WarehouseReader, method: str, model: str) -> tuple[int, bool]:
    """The map's version, and whether it must be fitted again: no map yet, or one fitted by
    another method or on another embedding model."""
    if wh.state is None:
        return 0, True
    meta = wh.query(sql.map_meta(wh.state))
    if meta.empty:
        return 0, True
    version = int(meta["version"].iloc[0])
    return version, meta["projector"].iloc[0] != method or meta["embedding_model"].iloc[0] != model


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("conversation_id").reset_index(drop=True)


def _fit(
    rows: pd.DataFrame, settings: Settings, projector: Any, version: int, base: dict[str, Any]
) -> pd.DataFrame:
    """A new map of ``rows``: fitted on a seeded sample of at most ``map_max_fit_points``, the
    rest placed from a seeded sample of at most :data:`ANCHORS` fitted points."""
    X = _vectors(rows["embedding"])
    rng = np.random.default_rng(settings.seed)
    fit = np.arange(len(rows))
    if len(rows) > settings.map_max_fit_points:
        fit = np.sort(rng.choice(len(rows), size=settings.map_max_fit_points, replace=False))
    xy = np.zeros((len(rows), 2))
    if hasattr(projector, "progress"):  # a projector that reports its fit (UMAP's epochs)
        projector.progress = Progress(
            "int_kura__map_points",
            unit="epochs",
            interval_s=settings.progress_interval_s,
            enabled=settings.progress,
        )
    xy[fit] = projector.fit_transform(X[fit])
    base = {**base, "projector": getattr(projector, "method", None) or base["projector"]}
    fitted = np.zeros(len(rows), dtype=bool)
    fitted[fit] = True
    anchors = fit if len(fit) <= ANCHORS else np.sort(rng.choice(fit, size=ANCHORS, replace=False))
    rest = np.flatnonzero(~fitted)
    if len(rest):
        xy[rest] = place_from_neighbours(X[rest], X[anchors], xy[anchors])
    is_anchor = np.zeros(len(rows), dtype=bool)
    is_anchor[anchors] = True
    placed = np.where(fitted, "fit", "neighbours")
    return _points(rows, xy, placed, is_anchor, version, base)


def _points(
    rows: pd.DataFrame,
    xy: np.ndarray,
    placed_by: np.ndarray,
    is_anchor: np.ndarray,
    version: int,
    base: dict[str, Any],
) -> pd.DataFrame:
    """The map rows of ``rows`` at ``xy``, in the map's columns."""
    out = pd.DataFrame(
        {
            "conversation_id": rows["conversation_id"],
            "text_hash": rows["text_hash"],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "placed_by": placed_by,
            "is_anchor": is_anchor,
            "map_version": version,
            **base,
        }
    )
    return out.reindex(columns=list(MAP_SCHEMA))
