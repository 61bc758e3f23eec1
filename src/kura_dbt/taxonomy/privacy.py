"""Names that hold whatever the history: what the privacy thresholds hide never names anything.

A discovery names every parent from all of its children (the labeller sees their names and
descriptions, and the local labeller quotes the most typical summary underneath). Once the
thresholds (vars ``kura__min_cluster_users``, ``kura__min_cluster_conversations``) hide a
child, its words would stay in a visible parent's name, description and quote. So on every
build, after the assignments, each visible parent with a hidden child (or a child whose shown
label changed) gets a *public* label made from its visible children only; the discovery
label stays beside it for the day the thresholds come down.

A public label is keyed (``public_label_key``) by exactly what the labeller saw: a parent whose
visible children did not change keeps its public label without a call, and an unchanged
threshold changes nothing. Parents are labelled one at a time, so that a label depends on its
key only (the local labeller contrasts the clusters of one call with each other). A visible
parent with no visible child gets a label that names nothing. The sizes and distinct users are
those the marts count (``kura__cluster_hierarchy``: today's assignments, every level).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from kura_dbt.labels import ClusterLabel, Labeller

PUBLIC_COLUMNS = (
    "public_name",
    "public_description",
    "public_keywords",
    "public_label_key",
    # what the last public label cost (an LLM labeller), when it was asked for and why it
    # failed: kura__llm_usage counts them (stage public_labels); clearing a public label keeps
    # them, so that what was spent stays counted
    "public_labelled_at",
    "public_llm_calls",
    "public_prompt_tokens",
    "public_completion_tokens",
    "public_label_error",
)
_LABEL_COLUMNS = PUBLIC_COLUMNS[:4]


@dataclass(frozen=True)
class Thresholds:
    """CLIO's aggregation thresholds: distinct users and conversations a cluster needs."""

    min_users: int
    min_conversations: int

    def visible(self, size: int, users: int) -> bool:
        """As ``kura.meets_privacy_threshold`` (macros/clusters/privacy.sql): an empty
        cluster (a pinned category with no member) reveals nothing about anyone."""
        return size == 0 or (users >= self.min_users and size >= self.min_conversations)


def measures(clusters: pd.DataFrame, membership: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """(conversations, distinct users) of every cluster, at every level: ``membership`` has
    each conversation's base ``cluster_id`` and ``user_id``; a cluster counts its
    descendants' conversations (as ``kura.tree_measures`` does)."""
    parent = dict(zip(clusters["cluster_id"], clusters["parent_id"], strict=True))
    members: dict[str, list[int]] = {}
    rows = membership.dropna(subset=["cluster_id"]).reset_index(drop=True)
    for i, node in enumerate(rows["cluster_id"]):
        seen = 0
        while isinstance(node, str) and node in parent and seen < 64:
            members.setdefault(node, []).append(i)
            node, seen = parent[node], seen + 1
    users = rows["user_id"]
    out = {}
    for cid in clusters["cluster_id"]:
        idx = members.get(cid, [])
        out[cid] = (len(idx), int(users.iloc[idx].dropna().nunique()) if idx else 0)
    return out


def public_labels(
    clusters: pd.DataFrame,
    sizes: Mapping[str, tuple[int, int]],
    thresholds: Thresholds,
    labeller: Labeller,
    now: datetime | None = None,
) -> pd.DataFrame:
    """``clusters`` (the current taxonomy: ``cluster_id``, ``level``, ``parent_id``, ``name``,
    ``description``, ``keywords``, ``size_at_discovery`` and, where stored, the public
    columns) with the public columns this build's thresholds call for (NULL: the discovery
    label is shown as it is). A label asked for records its cost and ``now``; the labeller's
    calls run under whatever budget monitor is in place (kura_dbt.budget): one the cap refused
    comes back as a failed label, shown unnamed and asked for again on the next build."""
    out = clusters.copy().reset_index(drop=True)
    for column in PUBLIC_COLUMNS:
        if column not in out:
            out[column] = None
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    index = {cid: i for i, cid in enumerate(out["cluster_id"])}
    kids: dict[str, list[str]] = {}
    for cid, pid in zip(out["cluster_id"], out["parent_id"], strict=True):
        if isinstance(pid, str) and pid in index:
            kids.setdefault(pid, []).append(cid)

    def visible(cid: str) -> bool:
        return thresholds.visible(*sizes.get(cid, (0, 0)))

    for level in sorted({int(v) for v in out["level"]} - {0}):
        for cid in sorted(c for c in kids if int(out.at[index[c], "level"]) == level):
            row = index[cid]
            children = sorted(kids[cid])
            changed = any(_public(out, index[k]) for k in children)
            if not visible(cid) or (all(visible(k) for k in children) and not changed):
                _set(out, row, None, None)
                continue
            shown = [_shown(out, index[k]) for k in children if visible(k)]
            key = _key(labeller, level, shown, _int(out.at[row, "size_at_discovery"]))
            if out.at[row, "public_label_key"] == key:
                continue  # the same visible children: the same label, no call
            label = _label(labeller, shown, _int(out.at[row, "size_at_discovery"]), sizes[cid])
            # a failed name is shown as unnamed and asked for again on the next build
            _set(out, row, label, None if label.error else key)
            _spent(out, row, label, now)
    return out


def _public(frame: pd.DataFrame, row: int) -> bool:
    """Whether a cluster shows a public label instead of its discovery label."""
    return frame.at[row, "public_name"] is not None


def _shown(frame: pd.DataFrame, row: int) -> str:
    """A child as its parent's labeller sees it: "name: description", public where set."""
    public = _public(frame, row)
    name = frame.at[row, "public_name" if public else "name"]
    description = frame.at[row, "public_description" if public else "description"]
    return f"{name}: {description if isinstance(description, str) else ''}"


def _key(labeller: Labeller, level: int, inputs: Sequence[str], size: int) -> str:
    identity = ["public", labeller.name, labeller.version, level, list(inputs), size]
    return hashlib.md5(json.dumps(identity).encode()).hexdigest()


def _label(
    labeller: Labeller, inputs: list[str], size: int, measured: tuple[int, int]
) -> ClusterLabel:
    """The labeller's label from the visible children alone (none: a label naming nothing)."""
    if not inputs:
        return ClusterLabel(
            name="Small topics",
            description=(
                f"{measured[0]} conversations in clusters each below the privacy thresholds; "
                "their names are not shown"
            ),
        )
    args: list[Any] = [[inputs], [None], [size]]
    if labeller.uses_contrast:
        args.append([[]])
    return labeller.label(*args)[0]


def _set(frame: pd.DataFrame, row: int, label: ClusterLabel | None, key: str | None) -> None:
    frame.at[row, "public_name"] = None if label is None else label.name
    frame.at[row, "public_description"] = None if label is None else label.description
    frame.at[row, "public_keywords"] = None if label is None else json.dumps(label.keywords)
    frame.at[row, "public_label_key"] = key


def _spent(frame: pd.DataFrame, row: int, label: ClusterLabel, now: datetime | None) -> None:
    """What asking for ``label`` cost, for kura__llm_usage."""
    frame.at[row, "public_labelled_at"] = now
    frame.at[row, "public_llm_calls"] = label.llm_calls
    frame.at[row, "public_prompt_tokens"] = label.prompt_tokens
    frame.at[row, "public_completion_tokens"] = label.completion_tokens
    frame.at[row, "public_label_error"] = label.error


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)
