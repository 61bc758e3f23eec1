"""Building and naming the levels: one row per cluster, base to top, with its parent, name,
size, users, label key (for reuse on the next build), whether its naming failed
(``label_error``) and the LLM calls it cost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.failures import check_failures
from kura_dbt.hierarchy.grouping import fold_singletons, level_schedule
from kura_dbt.labels import ClassTfidfLabeller, ClusterLabel, Labeller

HIERARCHY_COLUMNS = [
    "cluster_id",
    "level",
    "parent_id",
    "top_cluster_id",
    "name",
    "description",
    "keywords",
    "size",
    "distinct_users",
    "child_count",
    "labeller",
    "label_key",
    "label_error",  # the labeller could not name it (ClusterLabel.error): asked again next build
    "llm_calls",
    "prompt_tokens",
    "completion_tokens",
]


# (level, member row indices per cluster) -> per cluster (id, label to keep or None, its key)
Identify = Callable[
    [int, Sequence[np.ndarray]], Sequence[tuple[str, "ClusterLabel | None", "str | None"]]
]


@dataclass
class _Level:
    ids: list[str]
    members: list[np.ndarray]  # row indices of the conversations in each cluster
    children: list[list[str]]


def build_hierarchy(
    embeddings: np.ndarray,
    labels: np.ndarray,
    texts: Sequence[str],
    user_ids: Sequence[str | None],
    max_top: int = 8,
    branching: float = 5.0,
    labeller: Labeller | None = None,
    n_contrast: int = 10,
    cache: Mapping[str, tuple[str, str, str]] | None = None,
    identify: Identify | None = None,
) -> pd.DataFrame:
    """Build and name all levels. ``labels`` are base cluster labels (0..k-1, -1 = unclustered).

    Returns one row per cluster (columns ``HIERARCHY_COLUMNS``); base cluster ``i`` gets the id
    ``cluster_id(0, i)``.

    A labeller with ``cacheable`` set (an LLM) is only asked about clusters whose inputs
    changed: ``cache`` maps a cluster's ``label_key`` (a hash of exactly what the labeller would
    see) to a previous (name, description, keywords).

    ``identify(level, members)``, when given, is asked for each level before it is named, with
    the row indices of each cluster's conversations; it returns per cluster its id and either a
    label to keep (with its label key; the labeller is not asked) or None. A re-discovery uses
    it to keep the ids and names of the clusters that survive (``kura_dbt.taxonomy``).

    A name the labeller could not give (``ClusterLabel.error``) is kept with ``label_error``
    true and no ``label_key``, so that the next build asks for it again; when every name asked
    for so far has failed, the build fails with the first error (:mod:`kura_dbt.failures`).
    """
    labeller = labeller or ClassTfidfLabeller()
    labels = np.asarray(labels)
    if len(labels) != len(embeddings) or len(texts) != len(labels) or len(user_ids) != len(labels):
        raise ValueError("embeddings, labels, texts and user_ids must have the same length")
    base_labels = sorted(int(v) for v in np.unique(labels) if v >= 0)
    if not base_labels:
        return pd.DataFrame(columns=HIERARCHY_COLUMNS)

    names_by_id: dict[str, ClusterLabel] = {}
    keys_by_id: dict[str, str | None] = {}
    group_usage: dict[int, dict[str, int]] = {}  # calls made to build a level (LLM grouping)
    previous_parent = dict((cache or {}).get("__parents__", {}))  # child label_key -> parent key
    asked: list[str | None] = []  # the error (or None) of every name asked for, all levels

    def name_level(level_number: int, level: _Level) -> None:
        kept: dict[int, tuple[ClusterLabel, str | None]] = {}
        if identify is not None:
            for j, (cid, label, key) in enumerate(identify(level_number, level.members)):
                level.ids[j] = cid
                if label is not None:
                    kept[j] = (label, key)
        central, ordered, contrast = [], [], []
        for m in level.members:
            centroid = _centroid(embeddings[m])
            closeness = embeddings[m] @ centroid
            order = m[np.argsort(-closeness, kind="stable")]
            ordered.append([texts[i] for i in order])  # most central first
            central.append(texts[order[0]])
            contrast.append(_nearest_outside(embeddings, centroid, m, texts, n_contrast))
        if level_number > 0 and labeller.names_from_children:
            # an LLM labeller names a parent from the children it actually got
            inputs = [
                [f"{names_by_id[k].name}: {names_by_id[k].description}" for k in kids]
                for kids in level.children
            ]
        else:
            inputs = ordered
        sizes = [len(m) for m in level.members]
        identity = [labeller.name, labeller.version]
        keys = [
            hashlib.md5(json.dumps([*identity, level_number, i, c, s]).encode()).hexdigest()
            for i, c, s in zip(inputs, contrast, sizes, strict=True)
        ]
        use_cache = labeller.cacheable and bool(cache)
        todo = [
            j for j, key in enumerate(keys) if j not in kept and not (use_cache and key in cache)
        ]
        fresh: list[ClusterLabel] = []
        if todo:
            pick = [inputs[j] for j in todo], [central[j] for j in todo], [sizes[j] for j in todo]
            if labeller.uses_contrast:
                fresh = labeller.label(*pick, [contrast[j] for j in todo])
            else:
                fresh = labeller.label(*pick)
        # the failure policy: when every name asked for so far failed, stop here
        asked.extend(label.error for label in fresh)
        check_failures("cluster names", asked, f"labeller {labeller.name}")
        names = []
        fresh_by_index = dict(zip(todo, fresh, strict=True))
        for j, key in enumerate(keys):
            if j in kept:
                names.append(kept[j][0])
                keys[j] = kept[j][1]  # type: ignore[call-overload]
            elif j in fresh_by_index:
                names.append(fresh_by_index[j])
            else:
                name, description, keywords = cache[key]  # type: ignore[index]
                names.append(
                    ClusterLabel(
                        name=name, description=description, keywords=json.loads(keywords or "[]")
                    )
                )
        names_by_id.update(zip(level.ids, names, strict=True))
        # a failed name gets no key: it is not reused, so the next build asks for it again
        reusable = [None if n.error else k for n, k in zip(names, keys, strict=True)]
        keys_by_id.update(zip(level.ids, reusable, strict=True))

    levels = [
        _Level(
            ids=[cluster_id(0, b) for b in base_labels],
            members=[np.flatnonzero(labels == b) for b in base_labels],
            children=[[] for _ in base_labels],
        )
    ]
    name_level(0, levels[0])
    for level_number, target in enumerate(
        level_schedule(len(base_labels), max_top, branching), start=1
    ):
        below = levels[-1]
        if len(below.ids) <= max_top:
            break
        centroids = np.stack([_centroid(embeddings[m]) for m in below.members])
        child_keys = [keys_by_id[c] for c in below.ids]
        reused = _reuse_grouping(child_keys, previous_parent)
        if reused is not None and labeller.cacheable:
            parents = fold_singletons(reused, centroids)
        else:
            texts_of = [f"{names_by_id[c].name}: {names_by_id[c].description}" for c in below.ids]
            parents = fold_singletons(labeller.group(texts_of, centroids, target), centroids)
            group_usage[level_number] = dict(labeller.group_usage)
        n_parents = int(parents.max()) + 1
        level = _Level(
            ids=[cluster_id(level_number, p) for p in range(n_parents)],
            members=[
                np.sort(np.concatenate([below.members[c] for c in np.flatnonzero(parents == p)]))
                for p in range(n_parents)
            ],
            children=[
                [below.ids[c] for c in np.flatnonzero(parents == p)] for p in range(n_parents)
            ],
        )
        levels.append(level)
        name_level(level_number, level)

    parent_of: dict[str, str] = {}
    for level in levels[1:]:
        for pid, kids in zip(level.ids, level.children, strict=True):
            for kid in kids:
                parent_of[kid] = pid

    def top_of(cid: str) -> str:
        while cid in parent_of:
            cid = parent_of[cid]
        return cid

    rows = []
    for level_number, level in enumerate(levels):
        names = [names_by_id[c] for c in level.ids]
        # the grouping calls that built this level are shared out over its clusters
        shared = group_usage.get(level_number, {})
        n = len(level.ids)
        share = {k: [v // n + (1 if j < v % n else 0) for j in range(n)] for k, v in shared.items()}
        clusters = zip(level.ids, level.members, level.children, names, strict=True)
        for j, (cid, m, kids, lab) in enumerate(clusters):
            # None and NaN (NaN != NaN) are no user
            users = {u for u in (user_ids[i] for i in m) if u is not None and u == u}
            rows.append(
                {
                    "cluster_id": cid,
                    "level": level_number,
                    "parent_id": parent_of.get(cid),
                    "top_cluster_id": top_of(cid),
                    "name": lab.name,
                    "description": lab.description,
                    "keywords": json.dumps(lab.keywords),
                    "size": len(m),
                    "distinct_users": len(users),
                    "child_count": len(kids),
                    "labeller": labeller.name,
                    "label_key": keys_by_id[cid],
                    "label_error": lab.error is not None,
                    **{
                        k: getattr(lab, k) + (share[k][j] if k in share else 0)
                        for k in ("llm_calls", "prompt_tokens", "completion_tokens")
                    },
                }
            )
    return pd.DataFrame(rows, columns=HIERARCHY_COLUMNS)


def _nearest_outside(
    embeddings: np.ndarray, centroid: np.ndarray, members: np.ndarray, texts: Sequence[str], n: int
) -> list[str]:
    """Texts of the ``n`` conversations closest to a centroid that are not in the cluster
    (CLIO's contrastive examples)."""
    if n <= 0:
        return []
    closeness = embeddings @ centroid
    closeness[members] = -np.inf
    count = min(n, len(embeddings) - len(members))
    if count <= 0:
        return []
    nearest = np.argpartition(-closeness, count - 1)[:count]
    nearest = nearest[np.argsort(-closeness[nearest], kind="stable")]
    return [texts[i] for i in nearest]


def _reuse_grouping(child_keys: list[str], previous_parent: Mapping[str, str]) -> np.ndarray | None:
    """The previous build's grouping of exactly these children (by label key), if there was one:
    an LLM grouper is then not asked again."""
    if not previous_parent or not all(k in previous_parent for k in child_keys):
        return None
    order: dict[str, int] = {}
    return np.array(
        [order.setdefault(previous_parent[k], len(order)) for k in child_keys], dtype=int
    )


def cluster_id(level: int, index: int) -> str:
    """Deterministic id of the index-th cluster (by size) at a level, e.g. ``L1-004``."""
    return f"L{level}-{index:04d}"


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centre = vectors.mean(axis=0)
    norm = np.linalg.norm(centre)
    return centre / norm if norm > 0 else centre


def label_cache(clusters: pd.DataFrame | None) -> dict[str, Any] | None:
    """The ``cache`` for :func:`build_hierarchy` from stored clusters (``cluster_id``,
    ``parent_id``, ``label_key``, ``name``, ``description``, ``keywords``): names by label key,
    and under ``"__parents__"`` each child's parent (both by label key), so that an LLM
    labeller reuses the names and groupings whose inputs did not change."""
    if clusters is None or clusters.empty or "label_key" not in clusters:
        return None
    rows = clusters.dropna(subset=["label_key"])
    if "label_error" in rows:
        rows = rows[~rows["label_error"].fillna(False).astype(bool)]
    cache: dict[str, Any] = {
        row.label_key: (row.name, row.description, row.keywords)
        for row in rows.itertuples(index=False)
    }
    key_of = dict(zip(rows["cluster_id"], rows["label_key"], strict=True))
    cache["__parents__"] = {
        row.label_key: key_of[row.parent_id]
        for row in rows.itertuples(index=False)
        if isinstance(row.parent_id, str) and row.parent_id in key_of
    }
    return cache
