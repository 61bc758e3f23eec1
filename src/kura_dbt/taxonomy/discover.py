"""Discovery: cluster every conversation, build and name the hierarchy, and keep what survives.

At each level, the new clusters are matched to the previous taxonomy's clusters of that level
by shared conversations (:func:`kura_dbt.clustering.lineage.match_clusters`): a match keeps the
old id and, when its members barely changed (``keep_name_min_overlap``), the old name without
asking the labeller. Unmatched clusters get a new opaque id; the pairs are lineage rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from kura_dbt.clustering import CLUSTERERS
from kura_dbt.clustering.assign import assign_to_centroids, unit_rows
from kura_dbt.clustering.base import cosine_distances_to_centroids
from kura_dbt.clustering.lineage import match_clusters, new_cluster_id
from kura_dbt.hierarchy import build_hierarchy, label_cache
from kura_dbt.labels import LABELLERS, ClusterLabel
from kura_dbt.parking import RetryPolicy
from kura_dbt.settings import Settings


@dataclass
class Previous:
    """The taxonomy a re-discovery starts from: each conversation's base cluster, and the
    current clusters (``cluster_id``, ``level``, ``parent_id``, ``name``, ``description``,
    ``keywords``, ``labeller``, ``label_key``, ``label_error``)."""

    assignment: dict[str, str | None] = field(default_factory=dict)
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)
    taken_ids: set[str] = field(default_factory=set)  # every id ever used, retired ones too

    def ancestors_at(self, level: int, conversation_ids: Sequence[str]) -> list[str | None]:
        """Each conversation's previous cluster at ``level`` (its base cluster's ancestor)."""
        if self.clusters.empty:
            return [None] * len(conversation_ids)
        parent = dict(zip(self.clusters["cluster_id"], self.clusters["parent_id"], strict=True))
        level_of = dict(zip(self.clusters["cluster_id"], self.clusters["level"], strict=True))
        out: list[str | None] = []
        for cid in conversation_ids:
            node = self.assignment.get(cid)
            while isinstance(node, str) and level_of.get(node, level) < level:
                node = parent.get(node)
            out.append(node if isinstance(node, str) and level_of.get(node) == level else None)
        return out

    def member_means(self, conversation_ids: Sequence[str], X: np.ndarray) -> np.ndarray | None:
        """The mean of today's vectors of each current base cluster's conversations: where
        k-means would put that cluster's centre. On unchanged data these are the previous fit's
        centres (a fixed point, so a re-discovery gives the same clusters); they also hold
        after a change of embedding model, as they are computed in today's space."""
        if not self.assignment:
            return None
        old = np.array([self.assignment.get(c) or "" for c in conversation_ids], dtype=object)
        current = set(self.ids_at(0))
        means = [X[old == cid].mean(axis=0) for cid in sorted(current) if (old == cid).any()]
        return np.asarray(means, dtype=np.float64) if means else None

    def ids_at(self, level: int) -> list[str]:
        if self.clusters.empty:
            return []
        return list(self.clusters.loc[self.clusters["level"] == level, "cluster_id"])


@dataclass
class Discovery:
    labels: np.ndarray  # base label per conversation (-1 noise)
    base_ids: list[str]  # id of base label i
    centroids: np.ndarray
    radii: np.ndarray
    nearest: np.ndarray  # nearest base label per conversation (also for noise)
    distance: np.ndarray
    hierarchy: pd.DataFrame  # build_hierarchy's rows, with stable ids
    centroid_of: dict[str, list[float]]
    lineage: list[dict[str, Any]]
    retired: list[str]


class _Identify:
    """``identify`` for :func:`kura_dbt.hierarchy.build_hierarchy`: the ids (kept or new) and
    inherited names of one level's clusters, matched to ``previous``; it collects the lineage
    rows and the retired ids as it goes."""

    def __init__(
        self, ids: list[str], previous: Previous, settings: Settings, labeller_name: str
    ) -> None:
        self.ids, self.previous, self.settings = ids, previous, settings
        self.labeller_name = labeller_name
        self.taken = set(previous.taken_ids)
        self.lineage: list[dict[str, Any]] = []
        self.retired: list[str] = []
        clusters = previous.clusters
        self.old_rows = clusters.set_index("cluster_id") if not clusters.empty else None

    def __call__(
        self, level: int, members: Sequence[np.ndarray]
    ) -> list[tuple[str, ClusterLabel | None, str | None]]:
        point_label = np.full(len(self.ids), -1, dtype=np.int64)
        for j, m in enumerate(members):
            point_label[m] = j
        match = match_clusters(
            self.previous.ancestors_at(level, self.ids),
            point_label,
            self.previous.ids_at(level),
            min_overlap=self.settings.match_min_overlap,
        )
        out: list[tuple[str, ClusterLabel | None, str | None]] = []
        for j, m in enumerate(members):
            inherited = match.inherited.get(j)
            label: ClusterLabel | None = None
            key: str | None = None
            if inherited is None:
                cid = new_cluster_id(level, [self.ids[i] for i in m], self.taken)
            else:
                cid = inherited
                label, key = self._kept_name(inherited, match.overlap[j])
            self.taken.add(cid)
            out.append((cid, label, key))
        new_id = {j: out[j][0] for j in range(len(members))}
        for old_id, new, relation, overlap, shared in match.lineage:
            self.lineage.append(
                {
                    "level": level,
                    "old_cluster_id": old_id,
                    "new_cluster_id": None if new is None else new_id[new],
                    "relation": relation,
                    "overlap": overlap,
                    "shared_conversations": shared,
                }
            )
        self.retired.extend(match.retired)
        return out

    def _kept_name(self, cid: str, overlap: float) -> tuple[ClusterLabel | None, str | None]:
        """The name a kept cluster inherits (and its label key): when its members barely
        changed (``keep_name_min_overlap``) and the same labeller named it without error."""
        old = self.old_rows.loc[cid] if self.old_rows is not None else None
        if not (
            old is not None
            and overlap >= self.settings.keep_name_min_overlap
            and not bool(old.get("label_error"))
            and old.get("labeller") == self.labeller_name
            and isinstance(old.get("name"), str)
        ):
            return None, None
        label = ClusterLabel(
            name=old["name"],
            description=old["description"] if isinstance(old["description"], str) else "",
            keywords=json.loads(old["keywords"]) if isinstance(old["keywords"], str) else [],
        )
        return label, old.get("label_key") if isinstance(old.get("label_key"), str) else None

    def retire_levels_not_built(self, built_levels: set[int]) -> None:
        """A level that is no longer built (fewer levels than before) retires its clusters."""
        if self.previous.clusters.empty:
            return
        for level in sorted(set(self.previous.clusters["level"].astype(int)) - built_levels):
            for old_id in self.previous.ids_at(level):
                self.retired.append(old_id)
                self.lineage.append(
                    {
                        "level": level,
                        "old_cluster_id": old_id,
                        "new_cluster_id": None,
                        "relation": "retired",
                        "overlap": 0.0,
                        "shared_conversations": 0,
                    }
                )


def discover(
    conversation_ids: Sequence[str],
    X: np.ndarray,
    texts: Sequence[str],
    settings: Settings,
    previous: Previous | None = None,
    groups: np.ndarray | None = None,
) -> Discovery:
    """Cluster ``X`` (rows in ``conversation_ids`` order), build and name the hierarchy, and
    match every level to ``previous``. ``groups``: each row's calibration group (its user or
    day, :func:`kura_dbt.clustering.assign.calibration_groups`); None: random folds."""
    previous = previous or Previous()
    ids = [str(c) for c in conversation_ids]
    clusterer = CLUSTERERS.build(settings.clusterer, settings)
    clusterer.calibration_groups = groups  # the novelty radii's calibration folds
    warm = previous.member_means(ids, X)
    if warm is not None and "init_centers" in clusterer.get_params():
        clusterer.set_params(init_centers=warm)  # start from the clusters that hold (k-means)
    say = _discovery_lines()
    if "progress" in clusterer.get_params():
        clusterer.set_params(progress=say)
    say(f"clustering {len(ids)} conversations ({settings.clusterer})")
    clusterer.fit(X)
    labels = np.asarray(clusterer.labels_, dtype=np.int64)
    say(f"{len(set(labels.tolist()) - {-1})} base clusters; building and naming the hierarchy")
    centers = np.asarray(clusterer.cluster_centers_, dtype=np.float64)
    nearest, to_nearest, _ = assign_to_centroids(X, centers)
    own = cosine_distances_to_centroids(X, labels, centers)

    labeller = LABELLERS.build(settings.labeller, settings)
    identify = _Identify(ids, previous, settings, labeller.name)
    hierarchy = build_hierarchy(
        unit_rows(X),
        labels,
        list(texts),
        [None] * len(ids),
        max_top=settings.max_top_clusters,
        branching=settings.hierarchy_branching,
        labeller=labeller,
        cache=label_cache(previous.clusters),
        identify=identify,
        policy=RetryPolicy.of(settings),
    )
    say(f"hierarchy built: {len(hierarchy)} clusters named")
    base_labels = sorted(int(b) for b in np.unique(labels[labels >= 0]))
    base_ids = list(hierarchy.loc[hierarchy["level"] == 0, "cluster_id"])
    if len(base_ids) != len(base_labels):  # pragma: no cover - build_hierarchy keeps base order
        raise AssertionError("kura: hierarchy lost base clusters")
    identify.retire_levels_not_built(set(hierarchy["level"].astype(int)))
    return Discovery(
        labels,
        base_ids,
        centers,
        np.asarray(clusterer.radii_, dtype=np.float64),
        nearest,
        np.where(labels >= 0, own, to_nearest),
        hierarchy,
        _centroids(unit_rows(X), labels, hierarchy, base_ids),
        identify.lineage,
        identify.retired,
    )


def _silent(line: str, step: bool = False) -> None:
    """No lines (outside a monitored stage)."""


class _Say(Protocol):
    def __call__(self, line: str, step: bool = False) -> None: ...


def _discovery_lines() -> _Say:
    """Discovery's lines on the stage's progress (``int_kura__cluster_state``): each step says
    what it does; lines of one kind (scored candidates) at most every
    ``kura__progress_interval_s``. Silent outside a monitored stage."""
    from kura_dbt.budget import current_monitor

    monitor = current_monitor()
    if monitor is None:
        return _silent
    progress = monitor.progress
    last = [-math.inf]

    def say(line: str, step: bool = False) -> None:
        now = progress.clock()
        if step and now - last[0] < progress.interval_s:
            return
        last[0] = now
        progress.say(f"discovery: {line}")

    return say


def _centroids(
    X: np.ndarray, labels: np.ndarray, hierarchy: pd.DataFrame, base_ids: list[str]
) -> dict[str, list[float]]:
    """The mean direction of each cluster's conversations, at every level."""
    base_of_point = np.array([base_ids[b] if b >= 0 else "" for b in labels], dtype=object)
    parent = dict(zip(hierarchy["cluster_id"], hierarchy["parent_id"], strict=True))
    out: dict[str, list[float]] = {}
    members: dict[str, list[int]] = {}
    for i, node in enumerate(base_of_point):
        while isinstance(node, str) and node:
            members.setdefault(node, []).append(i)
            node = parent.get(node)
    for cid, rows in members.items():
        centre = X[rows].mean(axis=0)
        norm = float(np.linalg.norm(centre))
        out[cid] = [round(float(v), 6) for v in (centre / norm if norm > 0 else centre)]
    return out
