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
    wh: Any, settings: Settings, now: datetime, projector: Any, projector_name: str
) -> pd.DataFrame:
    """The map rows this build adds or replaces. ``wh`` has the view ``embeddings`` and, on an
    incremental build, the previous ``state``; ``projector`` fits a new map when one is needed:
    when the map's recorded method differs from the one ``projector`` would run now on the
    points there are (``method_for``), or the embedding model changed."""
    emb, state = wh.views["embeddings"], wh.state
    usable = "embedding is not null and error is null"
    models = wh.query(
        f"select model, count(*) as n from {emb} where {usable} "
        "group by model order by n desc, model"
    )
    if models.empty:
        return pd.DataFrame(columns=list(MAP_SCHEMA))
    model = str(models["model"].iloc[0])
    usable += f" and model = '{model}'"
    # the method a fit would run now (UMAP on too few points runs PCA)
    method_for = getattr(projector, "method_for", None)
    n_fit = min(int(models["n"].iloc[0]), settings.map_max_fit_points)
    method = method_for(n_fit) if method_for is not None else projector_name
    version = 0
    refit = state is None
    if state is not None:
        meta = wh.query(
            f"select projector, embedding_model, max(map_version) as version from {state} "
            f"where is_anchor group by projector, embedding_model order by version desc"
        )
        if meta.empty:
            refit = True
        else:
            version = int(meta["version"].iloc[0])
            refit = meta["projector"].iloc[0] != method or meta["embedding_model"].iloc[0] != model
    base = {"projector": method, "placed_at": now, "embedding_model": model}

    if refit:
        rows = (
            wh.query(f"select conversation_id, text_hash, embedding from {emb} where {usable}")
            .sort_values("conversation_id")
            .reset_index(drop=True)
        )
        X = _vectors(rows["embedding"])
        rng = np.random.default_rng(settings.seed)
        fit = np.arange(len(rows))
        if len(rows) > settings.map_max_fit_points:
            fit = np.sort(rng.choice(len(rows), size=settings.map_max_fit_points, replace=False))
        xy = np.zeros((len(rows), 2))
        xy[fit] = projector.fit_transform(X[fit])
        base["projector"] = getattr(projector, "method", None) or method  # what actually ran
        fitted = np.zeros(len(rows), dtype=bool)
        fitted[fit] = True
        anchors = (
            fit if len(fit) <= ANCHORS else np.sort(rng.choice(fit, size=ANCHORS, replace=False))
        )
        rest = np.flatnonzero(~fitted)
        if len(rest):
            xy[rest] = place_from_neighbours(X[rest], X[anchors], xy[anchors])
        is_anchor = np.zeros(len(rows), dtype=bool)
        is_anchor[anchors] = True
        out = pd.DataFrame(
            {
                "conversation_id": rows["conversation_id"],
                "text_hash": rows["text_hash"],
                "x": xy[:, 0],
                "y": xy[:, 1],
                "placed_by": np.where(fitted, "fit", "neighbours"),
                "is_anchor": is_anchor,
                "map_version": version + 1,
                **base,
            }
        )
        return out.reindex(columns=list(MAP_SCHEMA))

    pending = (
        wh.query(
            f"select e.conversation_id, e.text_hash, e.embedding from {emb} as e "
            f"left join {state} as m on m.conversation_id = e.conversation_id "
            f"and m.text_hash = e.text_hash and m.embedding_model = e.model "
            f"where e.{usable.replace(' and ', ' and e.')} and m.conversation_id is null"
        )
        .sort_values("conversation_id")
        .reset_index(drop=True)
    )
    if pending.empty:
        return pd.DataFrame(columns=list(MAP_SCHEMA))
    anchors = wh.query(
        f"select m.x, m.y, e.embedding from {state} as m inner join {emb} as e "
        f"on m.conversation_id = e.conversation_id and m.text_hash = e.text_hash "
        f"where m.is_anchor and e.{usable.replace(' and ', ' and e.')} order by m.conversation_id"
    )
    xy = place_from_neighbours(
        _vectors(pending["embedding"]),
        _vectors(anchors["embedding"]),
        anchors[["x", "y"]].to_numpy(float),
    )
    out = pd.DataFrame(
        {
            "conversation_id": pending["conversation_id"],
            "text_hash": pending["text_hash"],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "placed_by": "neighbours",
            "is_anchor": False,
            "map_version": version,
            **base,
        }
    )
    return out.reindex(columns=list(MAP_SCHEMA))
