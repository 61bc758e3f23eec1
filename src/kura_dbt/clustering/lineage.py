"""Matching a re-discovery's clusters to the previous ones by shared members, and lineage.

``match_clusters`` compares, over the conversations both runs clustered, each new cluster's
members with each old cluster's. The Jaccard overlap ``|A ∩ B| / |A ∪ B|`` is maximised by a
one-to-one (Hungarian) assignment; a pair at or above ``min_overlap`` keeps the old id. Every
pair that shares a significant part of either side is a lineage row:

- ``same``: the matched pair (the new cluster inherits the old id);
- ``split``: an old cluster whose members went to two or more new clusters (one of them may be
  its ``same``), for each pair other than the ``same`` one;
- ``merge``: a new cluster made from two or more old clusters, for each pair other than the
  ``same`` one;
- ``new``: a new cluster with no significant old source (old id NULL);
- ``retired``: an old cluster with no significant new destination, or whose only significant
  destination is matched to another old cluster (new id NULL).

"Significant" means the pair holds at least ``min_share`` of the old or of the new cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class ClusterMatch:
    """``inherited[label]`` is the old id a new cluster keeps (absent: it needs a new id);
    ``overlap[label]`` its Jaccard overlap with that old cluster; ``lineage`` the rows
    ``(old_id | None, new_label | None, relation, overlap, shared)``."""

    inherited: dict[int, str] = field(default_factory=dict)
    overlap: dict[int, float] = field(default_factory=dict)
    lineage: list[tuple[str | None, int | None, str, float, int]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def match_clusters(
    old_ids: Sequence[str | None],
    new_labels: Sequence[int] | np.ndarray,
    old_clusters: Collection[str] = (),
    min_overlap: float = 0.5,
    min_share: float = 0.2,
) -> ClusterMatch:
    """Match new clusters (labels ``0..k-1`` per point, ``-1`` none) to old ones (an id per
    point, None where the point had no old cluster). ``old_clusters`` lists every old id still
    current, so that one with no member left is retired too."""
    old_arr = np.array([o if isinstance(o, str) else "" for o in old_ids], dtype=object)
    new_arr = np.asarray(new_labels, dtype=np.int64)
    new_set = sorted(int(x) for x in np.unique(new_arr[new_arr >= 0]))
    old_set = sorted({o for o in old_arr if o} | set(old_clusters))
    result = ClusterMatch()
    if not new_set:
        result.retired = list(old_set)
        result.lineage = [(o, None, "retired", 0.0, 0) for o in old_set]
        return result
    shared = _shared_members(old_arr, new_arr, old_set, new_set)
    jaccard, significant = _overlaps(shared, min_share)
    matched_new = _one_to_one(jaccard, shared, min_overlap)
    for i, n in enumerate(new_set):
        if i in matched_new:
            result.inherited[n] = old_set[matched_new[i]]
            result.overlap[n] = float(jaccard[i, matched_new[i]])
    _add_lineage(result, old_set, new_set, shared, jaccard, significant, matched_new)
    return result


def _shared_members(
    old_arr: np.ndarray, new_arr: np.ndarray, old_set: Sequence[str], new_set: Sequence[int]
) -> np.ndarray:
    """Conversations in each (new cluster, old cluster) pair: new by row, old by column."""
    o_index = {o: j for j, o in enumerate(old_set)}
    n_index = {n: i for i, n in enumerate(new_set)}
    shared = np.zeros((len(new_set), len(old_set)), dtype=np.int64)
    both = (new_arr >= 0) & (old_arr != "")
    for n, o in zip(new_arr[both], old_arr[both], strict=True):
        shared[n_index[int(n)], o_index[o]] += 1
    return shared


def _overlaps(shared: np.ndarray, min_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's Jaccard overlap, and whether it holds ``min_share`` of either side."""
    # sizes over the conversations both runs saw, so that new arrivals do not dilute a match
    new_size = shared.sum(axis=1)
    old_size = shared.sum(axis=0)
    union = new_size[:, None] + old_size[None, :] - shared
    jaccard = np.where(union > 0, shared / np.maximum(union, 1), 0.0)
    share_old = np.where(old_size[None, :] > 0, shared / np.maximum(old_size[None, :], 1), 0.0)
    share_new = np.where(new_size[:, None] > 0, shared / np.maximum(new_size[:, None], 1), 0.0)
    significant = (shared > 0) & ((share_old >= min_share) | (share_new >= min_share))
    return jaccard, significant


def _one_to_one(jaccard: np.ndarray, shared: np.ndarray, min_overlap: float) -> dict[int, int]:
    """The old cluster (column) each new one (row) keeps: the one-to-one assignment of most
    overlap, pairs below ``min_overlap`` left out."""
    matched_new: dict[int, int] = {}
    if jaccard.shape[1]:
        rows, cols = linear_sum_assignment(-jaccard)
        for i, j in zip(rows, cols, strict=True):
            if jaccard[i, j] >= min_overlap and shared[i, j] > 0:
                matched_new[i] = j
    return matched_new


def _add_lineage(
    result: ClusterMatch,
    old_set: Sequence[str],
    new_set: Sequence[int],
    shared: np.ndarray,
    jaccard: np.ndarray,
    significant: np.ndarray,
    matched_new: dict[int, int],
) -> None:
    """The lineage rows (same, split, merge, retired, new) and the retired old ids."""
    matched_old = {j: i for i, j in matched_new.items()}
    for j, o in enumerate(old_set):
        targets = np.flatnonzero(significant[:, j])
        for i in map(int, targets):
            if matched_new.get(i) == j:
                relation = "same"
            elif len(targets) >= 2:
                relation = "split"
            elif significant[i].sum() >= 2 or j not in matched_old:
                relation = "merge"
            else:
                continue
            result.lineage.append(
                (o, new_set[i], relation, float(jaccard[i, j]), int(shared[i, j]))
            )
        if j not in matched_old:
            result.retired.append(o)
            if not any(row[0] == o for row in result.lineage):
                result.lineage.append((o, None, "retired", 0.0, 0))
    for i, n in enumerate(new_set):
        if not significant[i].any():
            result.lineage.append((None, n, "new", 0.0, 0))


def new_cluster_id(level: int, members: Sequence[str], taken: Collection[str]) -> str:
    """An opaque id for a new cluster, ``L<level>-<hex>``: a hash of its member ids, so the
    same members give the same id, lengthened if it would collide with one in ``taken``."""
    digest = hashlib.md5("\n".join(sorted(members)).encode("utf-8")).hexdigest()
    for width in range(8, len(digest) + 1):
        candidate = f"L{level}-{digest[:width]}"
        if candidate not in taken:
            return candidate
    raise ValueError(
        f"kura: cannot make a unique id for a level-{level} cluster"
    )  # pragma: no cover
