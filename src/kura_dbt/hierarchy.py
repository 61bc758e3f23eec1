"""The cluster hierarchy: base clusters -> ... -> at most ``max_top`` top-level clusters.

Level sizes follow a geometric schedule (each level about ``branching`` times smaller than the
one below, ending at ``max_top``). Each level groups the clusters below it by their centroids
(Ward agglomerative clustering, deterministic). A group with a single child is never emitted:
its child joins the nearest group with at least two children. Every level is therefore at most
half the size of the one below, so the loop always terminates.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering

from kura_dbt.labelling import ClassTfidfLabeller, ClusterLabel

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
    "llm_calls",
    "prompt_tokens",
    "completion_tokens",
]


def level_schedule(n_base: int, max_top: int, branching: float) -> list[int]:
    """Target number of clusters per level above the base, shrinking geometrically to max_top.

    >>> level_schedule(60, 5, 4)
    [19, 5]
    """
    if max_top < 1:
        raise ValueError(f"max_top must be at least 1, got {max_top}")
    if branching <= 1:
        raise ValueError(f"branching must be greater than 1, got {branching}")
    if n_base <= max_top:
        return []
    n_levels = max(1, math.ceil(math.log(n_base / max_top) / math.log(branching)))
    ratio = (n_base / max_top) ** (1.0 / n_levels)
    targets, previous = [], n_base
    for i in range(1, n_levels + 1):
        target = max_top if i == n_levels else max(max_top, round(n_base / ratio**i))
        target = min(target, previous - 1)
        targets.append(target)
        previous = target
    return targets


def group_clusters(centroids: np.ndarray, n_groups: int) -> np.ndarray:
    """Assign each of k centroids to one of at most n_groups parents; no parent gets one child.

    Returns parent indices 0..m-1 (m <= n_groups), numbered by first appearance.
    """
    k = len(centroids)
    if k < 2:
        raise ValueError("need at least two clusters to group")
    n_groups = max(1, min(n_groups, k - 1))
    if n_groups == 1:
        assignment = np.zeros(k, dtype=int)
    else:
        assignment = AgglomerativeClustering(n_clusters=n_groups, linkage="ward").fit_predict(
            centroids
        )
    return fold_singletons(assignment, centroids)


def fold_singletons(assignment: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Move the only child of any group into the nearest group with at least two children, and
    renumber groups 0..m-1 by first appearance (children come ordered by size, so big parents
    come first). With fewer groups than children, at least one group has two children, so the
    result never has a parent with a single child."""
    assignment = np.asarray(assignment, dtype=int).copy()
    n_groups = int(assignment.max()) + 1
    counts = np.bincount(assignment, minlength=n_groups)
    big = [g for g in range(n_groups) if counts[g] >= 2]
    if not big:
        assignment[:] = 0
    else:
        group_centroids = np.stack([centroids[assignment == g].mean(axis=0) for g in big])
        for i in range(len(assignment)):
            if counts[assignment[i]] == 1:
                distances = np.linalg.norm(group_centroids - centroids[i], axis=1)
                assignment[i] = big[int(np.argmin(distances))]
    remap: dict[int, int] = {}
    for g in assignment:
        remap.setdefault(int(g), len(remap))
    return np.array([remap[int(g)] for g in assignment], dtype=int)


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
    labeller: Any = None,
    n_contrast: int = 10,
    cache: Mapping[str, tuple[str, str, str]] | None = None,
) -> pd.DataFrame:
    """Build and name all levels. ``labels`` are base cluster labels (0..k-1, -1 = unclustered).

    Returns one row per cluster (columns ``HIERARCHY_COLUMNS``); base cluster ``i`` gets the id
    ``cluster_id(0, i)``.

    A labeller with ``cacheable = True`` (an LLM) is only asked about clusters whose inputs
    changed: ``cache`` maps a cluster's ``label_key`` (a hash of exactly what the labeller would
    see) to a previous (name, description, keywords).
    """
    labeller = labeller or ClassTfidfLabeller()
    labels = np.asarray(labels)
    if len(labels) != len(embeddings) or len(texts) != len(labels) or len(user_ids) != len(labels):
        raise ValueError("embeddings, labels, texts and user_ids must have the same length")
    base_labels = sorted(int(v) for v in np.unique(labels) if v >= 0)
    if not base_labels:
        return pd.DataFrame(columns=HIERARCHY_COLUMNS)

    names_by_id: dict[str, Any] = {}
    keys_by_id: dict[str, str | None] = {}
    group_usage: dict[int, dict[str, int]] = {}  # calls made to build a level (LLM grouping)
    previous_parent = dict((cache or {}).get("__parents__", {}))  # child label_key -> parent key

    def name_level(level_number: int, level: _Level) -> None:
        central, ordered, contrast = [], [], []
        for m in level.members:
            centroid = _centroid(embeddings[m])
            closeness = embeddings[m] @ centroid
            order = m[np.argsort(-closeness, kind="stable")]
            ordered.append([texts[i] for i in order])  # most central first
            central.append(texts[order[0]])
            contrast.append(_nearest_outside(embeddings, centroid, m, texts, n_contrast))
        if level_number > 0 and getattr(labeller, "names_from_children", False):
            # an LLM labeller names a parent from the children it actually got
            inputs = [
                [f"{names_by_id[k].name}: {names_by_id[k].description}" for k in kids]
                for kids in level.children
            ]
        else:
            inputs = ordered
        sizes = [len(m) for m in level.members]
        identity = [getattr(labeller, "name", "?"), getattr(labeller, "version", "")]
        keys = [
            hashlib.md5(json.dumps([*identity, level_number, i, c, s]).encode()).hexdigest()
            for i, c, s in zip(inputs, contrast, sizes, strict=True)
        ]
        use_cache = bool(getattr(labeller, "cacheable", False)) and cache
        todo = [j for j, key in enumerate(keys) if not (use_cache and key in cache)]
        fresh: list[Any] = []
        if todo:
            pick = [inputs[j] for j in todo], [central[j] for j in todo], [sizes[j] for j in todo]
            if getattr(labeller, "uses_contrast", False):
                fresh = labeller.label(*pick, [contrast[j] for j in todo])
            else:
                fresh = labeller.label(*pick)
        names = []
        fresh_by_index = dict(zip(todo, fresh, strict=True))
        for j, key in enumerate(keys):
            if j in fresh_by_index:
                names.append(fresh_by_index[j])
            else:
                name, description, keywords = cache[key]  # type: ignore[index]
                names.append(ClusterLabel(name=name, description=description,
                                          keywords=json.loads(keywords or "[]"), central_text=central[j]))
        names_by_id.update(zip(level.ids, names, strict=True))
        # a failed name gets no key: it is not reused, so the next build asks for it again
        keys_by_id.update(zip(level.ids, [None if n.error else k for n, k in zip(names, keys, strict=True)], strict=True))

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
        if reused is not None and getattr(labeller, "cacheable", False):
            parents = fold_singletons(reused, centroids)
        elif hasattr(labeller, "group"):
            texts_of = [f"{names_by_id[c].name}: {names_by_id[c].description}" for c in below.ids]
            parents = fold_singletons(labeller.group(texts_of, centroids, target), centroids)
            group_usage[level_number] = dict(getattr(labeller, "group_usage", {}))
        else:
            parents = group_clusters(centroids, target)
        n_parents = int(parents.max()) + 1
        level = _Level(
            ids=[cluster_id(level_number, p) for p in range(n_parents)],
            members=[
                np.sort(np.concatenate([below.members[c] for c in np.flatnonzero(parents == p)]))
                for p in range(n_parents)
            ],
            children=[[below.ids[c] for c in np.flatnonzero(parents == p)] for p in range(n_parents)],
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
        share = {k: [v // len(level.ids) + (1 if j < v % len(level.ids) else 0) for j in range(len(level.ids))]
                 for k, v in shared.items()}
        for j, (cid, m, kids, lab) in enumerate(zip(level.ids, level.members, level.children, names, strict=True)):
            users = {user_ids[i] for i in m if user_ids[i] is not None and user_ids[i] == user_ids[i]}
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
                    **{k: getattr(lab, k) + (share[k][j] if k in share else 0)
                       for k in ("llm_calls", "prompt_tokens", "completion_tokens")},
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
    return np.array([order.setdefault(previous_parent[k], len(order)) for k in child_keys], dtype=int)


def cluster_id(level: int, index: int) -> str:
    """Deterministic id of the index-th cluster (by size) at a level, e.g. ``L1-004``."""
    return f"L{level}-{index:04d}"


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centre = vectors.mean(axis=0)
    norm = np.linalg.norm(centre)
    return centre / norm if norm > 0 else centre
