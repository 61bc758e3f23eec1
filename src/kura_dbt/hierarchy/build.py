"""Building and naming the levels: one row per cluster, base to top, with its parent, name,
size, users, label key (for reuse on the next build), whether its naming failed
(``label_error``) and the LLM calls it cost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.failures import check_failures
from kura_dbt.hierarchy.grouping import exact_groups, group_members, level_schedule
from kura_dbt.labels import ClassTfidfLabeller, ClusterLabel, Labeller
from kura_dbt.labels.base import settled_names, unique_sibling_names
from kura_dbt.parking import RetryPolicy

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
    # bounded retries (kura_dbt.parking): discoveries that asked for this label key, whether
    # the name is parked, and the naming error
    "attempts",
    "gave_up",
    "error",
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
    cache: Mapping[str, Any] | None = None,
    identify: Identify | None = None,
    policy: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Build and name all levels. ``labels`` are base cluster labels (0..k-1, -1 = unclustered).

    Returns one row per cluster (columns ``HIERARCHY_COLUMNS``); base cluster ``i`` gets the id
    ``cluster_id(0, i)``. Exactly ``min(max_top, k)`` rows have no parent (the top-level
    clusters, possibly at different levels); no parent has a single child; a parent's level is
    the step of the schedule that made it, higher than each of its children's, which may be
    several levels below (see :mod:`kura_dbt.hierarchy`).

    A labeller with ``cacheable`` set (an LLM) is only asked about clusters whose inputs
    changed: ``cache`` maps a cluster's ``label_key`` (a hash of exactly what the labeller would
    see) to a previous (name, description, keywords).

    ``identify(level, members)``, when given, is asked for each level before it is named, with
    the row indices of each cluster's conversations; it returns per cluster its id and either a
    label to keep (with its label key; the labeller is not asked) or None. A re-discovery uses
    it to keep the ids and names of the clusters that survive (``kura_dbt.taxonomy``).

    A name the labeller could not give (``ClusterLabel.error``) is kept with ``label_error``
    true, so that the next build asks for it again; when every name asked for so far has
    failed, the build fails with the first error (:mod:`kura_dbt.failures`), unless every one
    was a retry. ``attempts`` counts the discoveries that asked for a label key; after
    ``policy.max_attempts`` failures for the same key the name is parked (``gave_up``) and not
    asked for again until the cluster's inputs change (:mod:`kura_dbt.parking`).
    """
    labels = np.asarray(labels)
    if len(labels) != len(embeddings) or len(texts) != len(labels) or len(user_ids) != len(labels):
        raise ValueError("embeddings, labels, texts and user_ids must have the same length")
    base_labels = sorted(int(v) for v in np.unique(labels) if v >= 0)
    if not base_labels:
        return pd.DataFrame(columns=HIERARCHY_COLUMNS)
    builder = _Builder(
        embeddings,
        texts,
        labeller or ClassTfidfLabeller(),
        n_contrast,
        cache,
        identify,
        policy or RetryPolicy(),
    )
    base = _Level(
        ids=[cluster_id(0, b) for b in base_labels],
        members=[np.flatnonzero(labels == b) for b in base_labels],
        children=[[] for _ in base_labels],
    )
    levels = builder.build_levels(base, level_schedule(len(base_labels), max_top, branching))
    parent_of = {
        kid: pid
        for level in levels[1:]
        for pid, kids in zip(level.ids, level.children, strict=True)
        for kid in kids
    }
    builder.names_by_id.update(settled_names(builder.names_by_id, parent_of))
    return pd.DataFrame(builder.rows(levels, parent_of, user_ids), columns=HIERARCHY_COLUMNS)


@dataclass
class _Naming:
    """What the labeller sees of a level's clusters, and the label key of each."""

    inputs: list[list[str]]  # conversations, most central first (or the children's names)
    central: list[str]
    contrast: list[list[str]]
    sizes: list[int]
    keys: list[str]
    centroids: list[np.ndarray] = field(default_factory=list)  # for ``uses_centroids``
    parents: bool = False  # a level above the base (for ``uses_levels``)


class _Builder:
    """The state of one :func:`build_hierarchy`: the names, label keys and attempts of the
    clusters named so far, and the LLM usage of the groupings."""

    def __init__(
        self,
        embeddings: np.ndarray,
        texts: Sequence[str],
        labeller: Labeller,
        n_contrast: int,
        cache: Mapping[str, Any] | None,
        identify: Identify | None,
        policy: RetryPolicy,
    ) -> None:
        self.embeddings = embeddings
        self.texts = texts
        self.labeller = labeller
        self.n_contrast = n_contrast
        self.cache = cache
        self.identify = identify
        self.policy = policy
        self.failed_before: Mapping[str, tuple[int, str]] = (cache or {}).get("__failed__", {})
        self.attempts_of: Mapping[str, int] = (cache or {}).get("__attempts__", {})
        self.names_by_id: dict[str, ClusterLabel] = {}
        self.keys_by_id: dict[str, str | None] = {}
        self.attempts_by_id: dict[str, tuple[int, bool]] = {}
        self.group_usage: dict[int, dict[str, int]] = {}  # calls made to build a level (LLM)
        self.asked: list[str | None] = []  # the error (or None) of every name asked, all levels
        self.retried: list[bool] = []  # per name asked for: a retry of a name that failed before

    def build_levels(self, base: _Level, schedule: Sequence[int]) -> list[_Level]:
        """The base level and every level of the schedule above it, each named.

        The frontier: the clusters with no parent yet, each with its conversations. Every
        level groups it into exactly its scheduled number of groups; a group of two or more
        becomes a parent at this level, a group of one stays on the frontier as it is (no
        single-child parent), so the last level leaves exactly max_top roots, at whatever
        levels they are."""
        self.name_level(0, base)
        levels = [base]
        frontier = list(base.ids)
        members_of = dict(zip(base.ids, base.members, strict=True))
        for level_number, target in enumerate(schedule, start=1):
            groups = self.group_frontier(level_number, frontier, members_of, target)
            n_groups = int(groups.max()) + 1
            inside = [np.flatnonzero(groups == g) for g in range(n_groups)]
            parents = [g for g in range(n_groups) if len(inside[g]) >= 2]
            level = _Level(
                ids=[cluster_id(level_number, p) for p in range(len(parents))],
                members=[
                    np.sort(np.concatenate([members_of[frontier[c]] for c in inside[g]]))
                    for g in parents
                ],
                children=[[frontier[c] for c in inside[g]] for g in parents],
            )
            levels.append(level)
            self.name_level(level_number, level)  # identify may give the parents their kept ids
            parent_at = dict(zip(parents, level.ids, strict=True))
            members_of.update(zip(level.ids, level.members, strict=True))
            frontier = [
                parent_at[g] if g in parent_at else frontier[int(inside[g][0])]
                for g in range(n_groups)
            ]
        return levels

    def group_frontier(
        self,
        level_number: int,
        frontier: list[str],
        members_of: Mapping[str, np.ndarray],
        target: int,
    ) -> np.ndarray:
        """The group (0..target-1) of each frontier cluster: the previous build's grouping when
        it still applies, else the labeller's."""
        labeller, embeddings = self.labeller, self.embeddings
        centroids = np.stack([_centroid(embeddings[members_of[c]]) for c in frontier])
        child_keys = [self.keys_by_id[c] for c in frontier]
        reused = (
            _reuse_grouping(child_keys, self.cache, level_number) if labeller.cacheable else None
        )
        if reused is not None and int(reused.max()) + 1 == target:
            return reused
        if type(labeller).group is Labeller.group:
            # no grouping of its own (the local labeller): parents are built from their
            # conversations, and each child ends nearest its own parent's centroid
            sums = np.stack([embeddings[members_of[c]].sum(axis=0) for c in frontier])
            return group_members(sums, target)
        names = self.names_by_id
        texts_of = [f"{names[c].name}: {names[c].description}" for c in frontier]
        groups = exact_groups(labeller.group(texts_of, centroids, target), centroids, target)
        self.group_usage[level_number] = dict(labeller.group_usage)
        return groups

    def name_level(self, level_number: int, level: _Level) -> None:
        """Name every cluster of a level: kept (identify), parked, reused from the cache or
        asked of the labeller; record their label keys and attempts."""
        kept = self._kept(level_number, level)
        if level_number > 0:
            # siblings never share a name, settled before their parent is named from them: the
            # parent's inputs (and label key) are then the same on a rerun, where the children's
            # names come back, already unique, from the cache
            siblings = {kid: f"parent-{j}" for j, kids in enumerate(level.children) for kid in kids}
            self.names_by_id.update(
                unique_sibling_names({kid: self.names_by_id[kid] for kid in siblings}, siblings)
            )
        naming = self._naming(level_number, level)
        parked = self._parked(naming, kept)
        fresh = self._ask(naming, kept, parked)
        names = []
        keys: list[str | None] = list(naming.keys)  # a kept name's key may be None
        for j, key in enumerate(keys):
            if j in kept:
                names.append(kept[j][0])
                keys[j] = kept[j][1]
            elif j in fresh:
                names.append(fresh[j])
            elif j in parked:
                names.append(parked[j])
            else:
                names.append(self._cached(key))
        self.names_by_id.update(zip(level.ids, names, strict=True))
        # a failed name keeps its key with label_error: it is not reused as a name (see
        # label_cache), but its attempts are counted for that key
        self.keys_by_id.update(zip(level.ids, keys, strict=True))
        self._count_attempts(level.ids, keys, names, fresh, parked)

    def _kept(self, level_number: int, level: _Level) -> dict[int, tuple[ClusterLabel, str | None]]:
        """The labels ``identify`` keeps, by position; it may also give the clusters their ids."""
        kept: dict[int, tuple[ClusterLabel, str | None]] = {}
        if self.identify is not None:
            for j, (cid, label, key) in enumerate(self.identify(level_number, level.members)):
                level.ids[j] = cid
                if label is not None:
                    kept[j] = (label, key)
        return kept

    def _naming(self, level_number: int, level: _Level) -> _Naming:
        """What the labeller would see of each cluster, and its label key (a hash of it)."""
        embeddings, texts, labeller = self.embeddings, self.texts, self.labeller
        central, ordered, contrast, centroids = [], [], [], []
        for m in level.members:
            centroid = _centroid(embeddings[m])
            closeness = embeddings[m] @ centroid
            order = m[np.argsort(-closeness, kind="stable")]
            ordered.append([texts[i] for i in order])  # most central first
            central.append(texts[order[0]])
            centroids.append(centroid)
            contrast.append(_nearest_outside(embeddings, centroid, m, texts, self.n_contrast))
        if level_number > 0 and labeller.names_from_children:
            # an LLM labeller names a parent from the children it actually got
            names = self.names_by_id
            inputs = [
                [f"{names[k].name}: {names[k].description}" for k in kids]
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
        return _Naming(inputs, central, contrast, sizes, keys, centroids, level_number > 0)

    def _parked(self, naming: _Naming, kept: Mapping[int, object]) -> dict[int, ClusterLabel]:
        """The clusters whose name failed ``max_attempts`` times for the same key: not asked."""
        failed_before, policy = self.failed_before, self.policy
        return {
            j: _parked_label(failed_before[key], naming.sizes[j])
            for j, key in enumerate(naming.keys)
            if j not in kept
            and key in failed_before
            and failed_before[key][0] >= policy.max_attempts
            and not policy.retry_gave_up
        }

    def _ask(
        self, naming: _Naming, kept: Mapping[int, object], parked: Mapping[int, object]
    ) -> dict[int, ClusterLabel]:
        """The labeller's names, by position, for the clusters neither kept, parked nor in the
        cache; fails the build when every name asked for so far failed."""
        cache, labeller = self.cache or {}, self.labeller
        use_cache = labeller.cacheable and bool(cache)
        todo = [
            j
            for j, key in enumerate(naming.keys)
            if j not in kept and j not in parked and not (use_cache and key in cache)
        ]
        fresh: list[ClusterLabel] = []
        if todo:
            pick = (
                [naming.inputs[j] for j in todo],
                [naming.central[j] for j in todo],
                [naming.sizes[j] for j in todo],
            )
            extra: dict[str, Any] = {}
            if labeller.uses_centroids:
                extra["centroids"] = [naming.centroids[j] for j in todo]
            if labeller.uses_levels:
                extra["parents"] = naming.parents
            if labeller.uses_contrast:
                fresh = labeller.label(*pick, [naming.contrast[j] for j in todo], **extra)
            else:
                fresh = labeller.label(*pick, **extra)
        # the failure policy: when every name asked for so far failed, stop here
        self.asked.extend(label.error for label in fresh)
        self.retried.extend(naming.keys[j] in self.failed_before for j in todo)
        check_failures("cluster names", self.asked, f"labeller {labeller.name}", self.retried)
        return dict(zip(todo, fresh, strict=True))

    def _cached(self, key: str | None) -> ClusterLabel:
        """The name the previous build gave this label key."""
        assert self.cache is not None and key is not None
        name, description, keywords = self.cache[key]
        return ClusterLabel(
            name=name, description=description, keywords=json.loads(keywords or "[]")
        )

    def _count_attempts(
        self,
        ids: Sequence[str],
        keys: Sequence[str | None],
        names: Sequence[ClusterLabel],
        fresh: Mapping[int, ClusterLabel],
        parked: Mapping[int, ClusterLabel],
    ) -> None:
        """Per cluster: the discoveries that asked for its label key, and whether it is parked."""
        for j, (cid, key) in enumerate(zip(ids, keys, strict=True)):
            before = self.failed_before.get(key, (0, ""))[0] if key is not None else 0
            if j in fresh:
                count = before + 1
                self.attempts_by_id[cid] = (count, self.policy.gave_up(names[j].error, count))
            elif j in parked:
                self.attempts_by_id[cid] = (before, True)
            else:  # kept or reused: no call this build
                self.attempts_by_id[cid] = (self.attempts_of.get(key, 1) if key else 1, False)

    def rows(
        self,
        levels: Sequence[_Level],
        parent_of: Mapping[str, str],
        user_ids: Sequence[str | None],
    ) -> list[dict[str, Any]]:
        """One row (``HIERARCHY_COLUMNS``) per cluster, base level first."""

        def top_of(cid: str) -> str:
            while cid in parent_of:
                cid = parent_of[cid]
            return cid

        rows = []
        for level_number, level in enumerate(levels):
            share = _shared_usage(self.group_usage.get(level_number, {}), len(level.ids))
            for j, (cid, m, kids) in enumerate(
                zip(level.ids, level.members, level.children, strict=True)
            ):
                lab = self.names_by_id[cid]
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
                        "labeller": self.labeller.name,
                        "label_key": self.keys_by_id[cid],
                        "label_error": lab.error is not None,
                        **{
                            k: getattr(lab, k) + (share[k][j] if k in share else 0)
                            for k in ("llm_calls", "prompt_tokens", "completion_tokens")
                        },
                        "attempts": self.attempts_by_id[cid][0],
                        "gave_up": self.attempts_by_id[cid][1],
                        "error": lab.error,
                    }
                )
        return rows


def _shared_usage(usage: Mapping[str, int], n: int) -> dict[str, list[int]]:
    """The grouping calls that built a level shared out over its ``n`` clusters."""
    return {k: [v // n + (1 if j < v % n else 0) for j in range(n)] for k, v in usage.items()}


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


def _reuse_grouping(
    child_keys: Sequence[str | None], cache: Mapping[str, Any] | None, level: int
) -> np.ndarray | None:
    """The previous build's grouping of exactly these frontier clusters (by label key) at this
    level, if every one of them was in it: an LLM grouper is then not asked again. A cluster
    whose previous parent was made at this level goes in that parent's group; one whose parent
    was made higher up, or that was a root, was left alone at this level and is alone again.
    None when a cluster is new, failed to be named, or was grouped below this level before."""
    if not cache:
        return None
    previous_parent = cache.get("__parents__", {})
    level_of = cache.get("__levels__", {})
    order: dict[tuple[str, str], int] = {}
    groups = []
    for key in child_keys:
        if key is None or key not in cache:
            return None
        if key in previous_parent and previous_parent[key] is None:
            return None  # its parent is not known by key
        parent = previous_parent.get(key)
        parent_level = level_of.get(parent) if parent is not None else None
        if parent is not None and (parent_level is None or parent_level < level):
            return None
        group = (
            ("parent", parent) if parent is not None and parent_level == level else ("alone", key)
        )
        groups.append(order.setdefault(group, len(order)))
    return np.array(groups, dtype=int)


def _parked_label(failed: tuple[int, str], size: int) -> ClusterLabel:
    """The label of a cluster whose name is parked: unnamed, with the last error, no call."""
    error = failed[1] or "naming failed"
    return ClusterLabel(
        name=f"Unnamed cluster ({size} conversations)",
        description=f"Naming failed: {error}",
        error=error,
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
    under ``"__parents__"`` each child's parent (both by label key) and under ``"__levels__"``
    each cluster's level (when ``level`` is given), so that an LLM labeller reuses the names
    and groupings whose inputs did not change."""
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
    # a parent without a reusable key (its naming failed) is None: its children's grouping is
    # not reused either
    cache["__parents__"] = {
        row.label_key: key_of.get(row.parent_id)
        for row in rows.itertuples(index=False)
        if isinstance(row.parent_id, str)
    }
    if "level" in rows:
        cache["__levels__"] = {
            row.label_key: int(row.level) for row in rows.itertuples(index=False)
        }
    cache["__attempts__"] = _attempts_by_key(rows)
    cache["__failed__"] = _failed_by_key(clusters.dropna(subset=["label_key"]))
    return cache


def _attempts_by_key(rows: pd.DataFrame) -> dict[str, int]:
    """Attempts by label key of stored rows (1 for a row from before the column existed)."""
    if "attempts" not in rows:
        return {}
    counts = rows["attempts"].astype("Float64").fillna(1).astype(int)
    return dict(zip(rows["label_key"], counts, strict=True))


def _failed_by_key(rows: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """(attempts, last error) by label key of the stored names that failed."""
    if "label_error" not in rows:
        return {}
    failed = rows[rows["label_error"].fillna(False).astype(bool)]
    attempts = _attempts_by_key(failed)
    errors = failed["error"] if "error" in failed else failed["description"]
    return {
        key: (attempts.get(key, 1), error if isinstance(error, str) else "")
        for key, error in zip(failed["label_key"], errors, strict=True)
    }
