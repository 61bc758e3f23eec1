"""The labeller interface: what the hierarchy needs to name clusters and, optionally, to group
them into parents.

A labeller subclasses :class:`Labeller` and implements :meth:`Labeller.label`; everything else
has a default that suits a local labeller (as BERTopic's ``BaseRepresentation`` does for its
representation models). An LLM labeller switches on what it can do: name a parent from its
children's names, use contrasting examples, be cached between builds, group clusters itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClusterLabel:
    name: str
    description: str
    keywords: list[str] = field(default_factory=list)
    # what it cost to get this label (LLM labellers; zero for the local one or a reused name)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # naming failed: the label says so, and is asked for again next build


class Labeller(ABC):
    """Names the clusters of one level at a time; optionally groups a level into parents."""

    #: stored in every row's ``labeller`` column and part of every cluster's ``label_key``
    name: str
    #: part of the ``label_key`` too: a new version (model, prompt) renames every cluster
    version: str = ""
    #: parents are named from their children's "name: description" instead of the
    #: conversations they hold
    names_from_children: bool = False
    #: :meth:`label` also gets ``contrast_texts``: the nearest conversations outside each cluster
    uses_contrast: bool = False
    #: :meth:`label` also gets ``centroids=``: each cluster's mean embedding (unit length)
    uses_centroids: bool = False
    #: :meth:`label` also gets ``parents=``: True when it names a level above the base
    uses_levels: bool = False
    #: a cluster whose ``label_key`` is unchanged keeps its stored name, and a level whose
    #: children are unchanged keeps its stored grouping: no new work (calls) on a rerun
    cacheable: bool = False
    #: the calls the last :meth:`group` made (``llm_calls``, ``prompt_tokens``,
    #: ``completion_tokens``), shared out over the clusters of the level it built
    group_usage: Mapping[str, int] = MappingProxyType({})

    @abstractmethod
    def label(
        self,
        texts_per_cluster: Sequence[Sequence[str]],
        central_texts: Sequence[str | None],
        sizes: Sequence[int],
        contrast_texts: Sequence[Sequence[str]] | None = None,
    ) -> list[ClusterLabel]:
        """One label per cluster. ``texts_per_cluster[i]`` are cluster i's texts, most central
        first (or its children's "name: description" with ``names_from_children``),
        ``central_texts[i]`` its most central conversation, ``sizes[i]`` its conversations.
        ``contrast_texts`` is passed only when ``uses_contrast`` is set."""

    def group(self, child_texts: Sequence[str], centroids: Any, target: int) -> np.ndarray:
        """The parent index (0..m-1, m <= ``target``) of each child of the level below, from
        the children's "name: description" and their centroids. The default ignores the names:
        Ward clustering of the centroids (:func:`kura_dbt.hierarchy.group_clusters`)."""
        from kura_dbt.hierarchy.grouping import group_clusters

        return group_clusters(centroids, target)


def unique_sibling_names(
    labels: Mapping[str, ClusterLabel], parent_of: Mapping[str, str]
) -> dict[str, ClusterLabel]:
    """The labels to change so that no two siblings (children of one parent, or two roots)
    share a name, whatever labeller named them and at whatever level: each clashing cluster
    gets its first keyword that the others of the clash lack ("Microsoft APIs, Teams"), then,
    if names still clash, a number in the order of the cluster ids. Deterministic; a name that
    is already unique among its siblings is never changed."""
    siblings: dict[str | None, list[str]] = {}
    for cid in sorted(labels):
        siblings.setdefault(parent_of.get(cid), []).append(cid)
    changed: dict[str, ClusterLabel] = {}
    for ids in siblings.values():
        names = {cid: labels[cid].name for cid in ids}
        for _ in range(2):
            by_name: dict[str, list[str]] = {}
            for cid in ids:
                by_name.setdefault(" ".join(names[cid].casefold().split()), []).append(cid)
            clashes = [group for group in by_name.values() if len(group) > 1]
            if not clashes:
                break
            for group in clashes:
                for cid in group:
                    others = {k.casefold() for o in group if o != cid for k in labels[o].keywords}
                    words = set(names[cid].casefold().replace(",", " ").split())
                    extra = next(
                        (
                            k
                            for k in labels[cid].keywords
                            if k.casefold() not in others and not set(k.casefold().split()) & words
                        ),
                        None,
                    )
                    if extra is not None:
                        names[cid] = f"{names[cid]}, {extra}"
        seen: dict[str, int] = {}
        for cid in ids:
            key = " ".join(names[cid].casefold().split())
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                names[cid] = f"{names[cid]} ({seen[key]})"
            if names[cid] != labels[cid].name:
                changed[cid] = replace(labels[cid], name=names[cid])
    return changed


def distinct_from_children(
    labels: Mapping[str, ClusterLabel], parent_of: Mapping[str, str]
) -> dict[str, ClusterLabel]:
    """The labels to change so that no parent has the name of one of its children (a parent
    named from its own conversations can pick the phrase of its largest child: "Balance in my
    account" above "Balance in my account" and "Alarms I have set"). The parent gets its first
    keyword that the child's name lacks ("Balance in my account, alarms"), else "(and more)":
    only its own keywords, which privacy's thresholds already cleared for the parent (another
    child's name may be hidden). A child's name never changes."""
    children: dict[str, list[str]] = {}
    for kid, parent in sorted(parent_of.items()):
        if parent in labels and kid in labels:
            children.setdefault(parent, []).append(kid)
    changed: dict[str, ClusterLabel] = {}
    for parent, kids in sorted(children.items()):
        name = labels[parent].name
        same = [k for k in kids if _norm(labels[k].name) == _norm(name)]
        if not same:
            continue
        words = set(_norm(name).replace(",", " ").split())
        extra = next(
            (
                k.strip()
                for k in labels[parent].keywords
                if k.strip() and not set(_norm(k).split()) & words
            ),
            None,
        )
        new = f"{name}, {_in_a_list(extra)}" if extra else f"{name} (and more)"
        changed[parent] = replace(labels[parent], name=new)
    return changed


def settled_names(
    labels: Mapping[str, ClusterLabel], parent_of: Mapping[str, str]
) -> dict[str, ClusterLabel]:
    """The labels to change once a whole hierarchy is named: the roots (at whatever levels)
    never share a name (every parent's children were made unique when it was named, so this
    changes no name a parent was named from), no parent has a child's name, then the roots
    again."""
    changed = unique_sibling_names(labels, parent_of)
    for settle in (distinct_from_children, unique_sibling_names):
        changed.update(settle({**labels, **changed}, parent_of))
    return changed


def _in_a_list(keyword: str) -> str:
    """A keyword after a comma: an opening capital goes ("Alarms" -> "alarms"), a word with
    capitals inside keeps its case ("CA", "iPhone", "Family Counselor"; SGD's parent "Bus"
    read "Bus, ca")."""
    if keyword[1:] == keyword[1:].lower():
        return keyword[:1].lower() + keyword[1:]
    return keyword


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())
