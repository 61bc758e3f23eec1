"""A taxonomy that stays put: ordinary builds assign new conversations to the existing clusters;
a re-discovery happens only when the policy asks for it, and keeps ids and names where clusters
survive, with lineage.

``update_taxonomy`` is what the ``int_kura__cluster_state`` model runs. It reads, in SQL, only
what the decision needs: the conversations whose embedding is new or changed since they were
assigned, the current clusters (centroids and radii) and the last run's figures. Only a
re-discovery reads every embedding and summary.

Modules: ``state`` (the table), ``policy`` (when to re-discover), ``discover`` (fit, match,
hierarchy, names).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt import sql
from kura_dbt.budget import StageMonitor, budgeted, current_monitor, llm_of
from kura_dbt.clustering import CLUSTERERS
from kura_dbt.clustering.assign import assign_to_centroids, calibration_groups
from kura_dbt.frames import WarehouseReader
from kura_dbt.labels import LABELLERS
from kura_dbt.parking import state_columns
from kura_dbt.progress import Progress
from kura_dbt.settings import Settings
from kura_dbt.tables import typed_frame
from kura_dbt.taxonomy import state as st
from kura_dbt.taxonomy.discover import Discovery, Previous, discover
from kura_dbt.taxonomy.policy import Decision, Figures, clustering_settings_key, decide
from kura_dbt.taxonomy.privacy import PUBLIC_COLUMNS, Thresholds, measures, public_labels

__all__ = ["Decision", "Discovery", "Figures", "Previous", "decide", "discover", "update_taxonomy"]

_CLUSTER_COLUMNS = [c for c in st.STATE_SCHEMA if c not in {"state_key", "record_type"}]


def _vectors(column: pd.Series) -> np.ndarray:
    """A column of embeddings (arrays, lists or JSON text) as a float32 matrix."""
    rows = [json.loads(v) if isinstance(v, str) else v for v in column]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in rows])


def _int(value: Any, default: int = 0) -> int:
    return default if value is None or pd.isna(value) else int(value)


@dataclass
class _Tonight:
    """What a build reads before deciding: the embedding model most conversations use, their
    number, the current clusters, the last run row, and the conversations to assign."""

    model: str | None
    conversations: int
    clusters: pd.DataFrame
    last: dict[str, Any]
    pending: pd.DataFrame

    @property
    def base(self) -> pd.DataFrame:
        """The base (level 0) clusters, by id."""
        base = self.clusters[self.clusters["level"] == 0]
        return base.sort_values("cluster_id").reset_index(drop=True)

    @property
    def previous_model(self) -> str | None:
        model = self.last.get("embedding_model")
        return model if isinstance(model, str) else None


@dataclass
class _Assignment:
    """Tonight's conversations against the current base clusters: the nearest one, the
    distance to it, and whether it lies within that cluster's radius."""

    nearest: np.ndarray
    distance: np.ndarray
    within: np.ndarray
    same_space: bool


def update_taxonomy(wh: WarehouseReader, settings: Settings, now: datetime) -> pd.DataFrame:
    """The state rows this build adds or replaces (see :mod:`kura_dbt.taxonomy.state`).

    ``wh`` has views ``embeddings`` and ``summaries`` and, on an incremental build, the
    previous ``state``.
    """
    tonight = _read_tonight(wh, settings)
    # tonight's conversations against the current taxonomy (also when it is about to change:
    # the figures say how much drift triggered the re-discovery)
    assignment = _assign(tonight)
    figures = _figures(tonight, assignment, settings)
    decision = decide(settings, figures)
    if tonight.conversations == 0:
        decision = Decision(False, "no conversations to cluster yet")
    epoch = _int(tonight.last.get("epoch"))
    if decision.discover:
        epoch += 1
        rows = _discovery_rows(wh, settings, now, epoch, tonight.model, tonight.clusters)
    else:
        rows = _assignment_rows(tonight, assignment, epoch, now)
    rows = _with_public_labels(wh, settings, rows, tonight, decision.discover, now)
    rows.append(_run_row(tonight, figures, decision, settings, epoch, now))
    return typed_frame(rows, st.STATE_SCHEMA)


def _read_tonight(wh: WarehouseReader, settings: Settings) -> _Tonight:
    """The model, the current clusters, the last run and the conversations to assign, read in
    SQL (only the new or changed conversations on an incremental build)."""
    state = wh.state
    emb = current_embeddings_sql(wh, settings)
    models = wh.query(sql.embeddings_by_model(emb))
    model = None if models.empty else str(models["model"].iloc[0])
    conversations = 0 if models.empty else int(models["n"].iloc[0])
    if state is None:
        clusters = pd.DataFrame(columns=list(st.STATE_SCHEMA))
        last: dict[str, Any] = {}
        pending = wh.query(sql.embeddings_of_model(emb, model))
    else:
        # a table from before a column existed lacks it until this build appends it
        stored = state_columns(wh, state)
        columns = [c for c in _CLUSTER_COLUMNS if c in stored]
        clusters = wh.query(sql.current_clusters(state, columns, st.CLUSTER))
        runs = wh.query(sql.last_run(state, st.RUN))
        last = {} if runs.empty else runs.iloc[0].to_dict()
        pending = wh.query(sql.embeddings_to_assign(emb, state, model, st.CONVERSATION))
    pending = pending.sort_values("conversation_id").reset_index(drop=True)
    return _Tonight(model, conversations, clusters, last, pending)


def _assign(tonight: _Tonight) -> _Assignment:
    """Tonight's conversations against the current base clusters, when they are in the same
    embedding space; else none is within a cluster."""
    X_new = _vectors(tonight.pending["embedding"])
    base = tonight.base
    same_space = not base.empty and len(X_new) > 0 and tonight.previous_model == tonight.model
    if not same_space:
        n = len(tonight.pending)
        return _Assignment(
            np.full(n, -1), np.full(n, np.nan), np.zeros(n, dtype=bool), same_space=False
        )
    nearest, distance, within = assign_to_centroids(
        X_new, _vectors(base["centroid"]), base["radius"].to_numpy(float)
    )
    return _Assignment(nearest, distance, within, same_space=True)


def _figures(tonight: _Tonight, assignment: _Assignment, settings: Settings) -> Figures:
    """What the policy decides on: tonight's counts and the last run's."""
    last = tonight.last
    return Figures(
        has_taxonomy=not tonight.base.empty,
        conversations=tonight.conversations,
        new=len(tonight.pending),
        novel=int((~assignment.within).sum()) if assignment.same_space else 0,
        conversations_at_discovery=_int(last.get("conversations_at_discovery")),
        new_since_discovery=_int(last.get("new_since_discovery")),
        novel_since_discovery=_int(last.get("novel_since_discovery")),
        embedding_model=tonight.model,
        previous_embedding_model=tonight.previous_model,
        settings_key=clustering_settings_key(settings),
        previous_settings_key=last.get("settings_key")
        if isinstance(last.get("settings_key"), str)
        else None,
    )


def _assignment_rows(
    tonight: _Tonight, assignment: _Assignment, epoch: int, now: datetime
) -> list[dict[str, Any]]:
    """One conversation row per pending conversation: assigned to its nearest cluster when
    within its radius, else novel."""
    base_ids = list(tonight.base["cluster_id"])
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(tonight.pending.itertuples(index=False)):
        nearest = assignment.nearest[i]
        near = base_ids[nearest] if nearest >= 0 else None
        within = assignment.within[i]
        rows.append(
            {
                "state_key": st.key(st.CONVERSATION, row.conversation_id),
                "record_type": st.CONVERSATION,
                "epoch": epoch,
                "updated_at": now,
                "conversation_id": row.conversation_id,
                "cluster_id": near if within else None,
                "nearest_cluster_id": near,
                "distance": float(assignment.distance[i]),
                "status": "assigned" if within else "novel",
                "text_hash": row.text_hash,
                "embedding_model": row.embedding_model,
            }
        )
    return rows


def _with_public_labels(
    wh: WarehouseReader,
    settings: Settings,
    rows: list[dict[str, Any]],
    tonight: _Tonight,
    discovered: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """``rows`` with the public labels this build's privacy thresholds call for (see
    :mod:`kura_dbt.taxonomy.privacy`): set on a discovery's cluster rows; on an ordinary build,
    a current cluster whose public label changed is written again. Needs the ``conversations``
    view (each conversation's user), which the dbt model always passes."""
    if "conversations" not in wh.views:
        return rows
    mine = pd.DataFrame(
        [r for r in rows if r["record_type"] == st.CONVERSATION],
        columns=["conversation_id", "cluster_id"],
    )
    if discovered:
        clusters = pd.DataFrame(
            [r for r in rows if r["record_type"] == st.CLUSTER and r.get("retired_epoch") is None]
        )
        stored = tonight.clusters[
            [c for c in ("cluster_id", *PUBLIC_COLUMNS) if c in tonight.clusters]
        ]
        clusters = clusters.drop(columns=[c for c in PUBLIC_COLUMNS if c in clusters])
        clusters = clusters.merge(stored, on="cluster_id", how="left")
        membership = mine
    else:
        clusters = tonight.clusters
        before = (
            wh.query(sql.conversation_assignments(wh.state, st.CONVERSATION)) if wh.state else None
        )
        membership = mine if before is None else _overridden(before, mine)
    if clusters.empty:
        return rows
    users = wh.query(sql.conversation_users(wh.views["conversations"]))
    membership = membership.merge(users, on="conversation_id", how="left")
    thresholds = Thresholds(settings.min_cluster_users, settings.min_cluster_conversations)
    labeller = LABELLERS.build(settings.labeller, settings)
    with public_label_stage(labeller, settings):
        labelled = public_labels(
            clusters, measures(clusters, membership), thresholds, labeller, now
        )
    return _apply_public(rows, labelled, clusters, discovered)


@contextmanager
def public_label_stage(labeller: Any, settings: Settings) -> Iterator[StageMonitor | None]:
    """The public labels' LLM calls (an LLM labeller) as a stage of their own, held to the
    budget caps (vars kura__llm_max_calls, kura__llm_max_cost_usd, kura_dbt.budget) like the
    summaries; what they spent is added to the names' stage monitor for the run summary."""
    llm = llm_of(labeller)
    if llm is None:
        yield None
        return
    outer = current_monitor()
    progress = Progress.of("int_kura__cluster_state (public labels)", settings, unit="calls")
    with budgeted(progress, llm) as monitor:
        yield monitor
    assert monitor is not None
    if monitor.capped:
        monitor.say_capped(
            f"{monitor.started} public labels asked for, {monitor.refused} shown unnamed until "
            "the next build"
        )
    if outer is not None:
        outer.add_spent(monitor)


def _overridden(before: pd.DataFrame, tonight: pd.DataFrame) -> pd.DataFrame:
    """The stored assignments with tonight's in place of the same conversations'."""
    kept = before[~before["conversation_id"].isin(set(tonight["conversation_id"]))]
    return pd.concat([kept, tonight], ignore_index=True)


def _apply_public(
    rows: list[dict[str, Any]], labelled: pd.DataFrame, clusters: pd.DataFrame, discovered: bool
) -> list[dict[str, Any]]:
    """The public columns written: into a discovery's cluster rows, or as the current clusters'
    rows again where they changed."""
    public = {
        r["cluster_id"]: {c: r[c] for c in PUBLIC_COLUMNS} for r in labelled.to_dict("records")
    }
    if discovered:
        for r in rows:
            if r["record_type"] == st.CLUSTER and r["cluster_id"] in public:
                r.update(public[r["cluster_id"]])
        return rows
    for before in clusters.to_dict("records"):
        after = public[before["cluster_id"]]
        if all(_same(before.get(c), after[c]) for c in PUBLIC_COLUMNS):
            continue
        rows.append(
            {
                **{k: None if _missing(v) else v for k, v in before.items()},
                **after,
                "state_key": st.key(st.CLUSTER, before["cluster_id"]),
                "record_type": st.CLUSTER,
            }
        )
    return rows


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, dict, str)) and bool(pd.isna(value)))


def _same(a: Any, b: Any) -> bool:
    return (_missing(a) and _missing(b)) or a == b


def _run_row(
    tonight: _Tonight,
    figures: Figures,
    decision: Decision,
    settings: Settings,
    epoch: int,
    now: datetime,
) -> dict[str, Any]:
    """The run's own row: its decision and the figures the next run starts from."""
    run_number = _int(tonight.last.get("run_number")) + 1
    discovered = decision.discover
    return {
        "state_key": st.key(st.RUN, f"{run_number:06d}"),
        "record_type": st.RUN,
        "epoch": epoch,
        "updated_at": now,
        "run_number": run_number,
        "decision": "discover" if discovered else "assign",
        "reason": decision.reason,
        "clusterer": CLUSTERERS.key(settings.clusterer),
        "settings_key": figures.settings_key,
        "embedding_model": tonight.model,
        "conversations": tonight.conversations,
        "new_conversations": figures.new,
        "novel_conversations": figures.novel,
        "conversations_at_discovery": tonight.conversations
        if discovered
        else figures.conversations_at_discovery,
        "new_since_discovery": 0 if discovered else figures.new_since_discovery + figures.new,
        "novel_since_discovery": 0 if discovered else figures.novel_since_discovery + figures.novel,
        "novel_share": figures.novel_share,
        "growth": figures.growth,
    }


def current_embeddings_sql(wh: WarehouseReader, settings: Settings) -> str:
    """A SQL subquery: the embeddings of each conversation's current text (the column chosen by
    ``kura__embedding_text``), see :func:`kura_dbt.sql.current_embeddings`."""
    return sql.current_embeddings(
        wh.views["embeddings"], wh.views["summaries"], settings.embedded_column()
    )


def _discovery_rows(
    wh: WarehouseReader,
    settings: Settings,
    now: datetime,
    epoch: int,
    model: str | None,
    clusters: pd.DataFrame,
) -> list[dict[str, Any]]:
    """A re-discovery over every current embedding of ``model``: conversation rows, cluster
    rows (new, kept and retired) and lineage."""
    everything = (
        wh.query(sql.embeddings_of_model(current_embeddings_sql(wh, settings), model))
        .sort_values("conversation_id")
        .reset_index(drop=True)
    )
    texts = wh.query(sql.summary_texts(wh.views["summaries"]))
    text_of = dict(zip(texts["conversation_id"], texts["summary"], strict=True))
    ids = list(everything["conversation_id"])
    found = discover(
        ids,
        _vectors(everything["embedding"]),
        [str(text_of.get(c, "")) for c in ids],
        settings,
        _previous(wh, clusters),
        groups=_calibration_groups(wh, ids),
    )
    old = clusters.set_index("cluster_id") if not clusters.empty else None
    return [
        *_discovered_conversations(everything, found, epoch, now),
        *_cluster_rows(found, old, epoch, now, model),
        *_retired_rows(found, old, epoch),
        *_lineage_rows(found, epoch, now),
    ]


def _calibration_groups(wh: WarehouseReader, ids: list[str]) -> np.ndarray | None:
    """Each conversation's calibration group for the novelty radii: its user, else its day
    (``stg_kura__conversations``, the ``conversations`` view); None without the view."""
    if "conversations" not in wh.views:
        return None
    known = wh.query(sql.conversation_groups(wh.views["conversations"]))
    known = known.drop_duplicates("conversation_id").set_index("conversation_id")
    rows = known.reindex([str(c) for c in ids])
    return calibration_groups(list(rows["user_id"]), list(rows["day"]))


def _previous(wh: WarehouseReader, clusters: pd.DataFrame) -> Previous:
    """The taxonomy a re-discovery starts from: the current clusters, each conversation's
    cluster and every id ever used."""
    previous = Previous(clusters=clusters)
    if wh.state is None:
        return previous
    assigned = wh.query(sql.conversation_assignments(wh.state, st.CONVERSATION))
    previous.assignment = dict(
        zip(assigned["conversation_id"], assigned["cluster_id"], strict=True)
    )
    ever = wh.query(sql.clusters_ever(wh.state, st.CLUSTER))
    previous.taken_ids = set(ever["cluster_id"].dropna())
    return previous


def _discovered_conversations(
    everything: pd.DataFrame, found: Discovery, epoch: int, now: datetime
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(everything.itertuples(index=False)):
        label = int(found.labels[i])
        rows.append(
            {
                "state_key": st.key(st.CONVERSATION, row.conversation_id),
                "record_type": st.CONVERSATION,
                "epoch": epoch,
                "updated_at": now,
                "conversation_id": row.conversation_id,
                "cluster_id": found.base_ids[label] if label >= 0 else None,
                "nearest_cluster_id": found.base_ids[int(found.nearest[i])]
                if len(found.base_ids)
                else None,
                "distance": float(found.distance[i]),
                "status": "discovered" if label >= 0 else "noise",
                "text_hash": row.text_hash,
                "embedding_model": row.embedding_model,
            }
        )
    return rows


def _cluster_rows(
    found: Discovery, old: pd.DataFrame | None, epoch: int, now: datetime, model: str | None
) -> list[dict[str, Any]]:
    """One row per cluster of the new hierarchy; a kept id keeps its ``created_epoch``."""
    radius = dict(zip(found.base_ids, found.radii, strict=True))
    rows: list[dict[str, Any]] = []
    for h in found.hierarchy.to_dict("records"):
        cid = h["cluster_id"]
        created = epoch
        if old is not None and cid in old.index:
            created = _int(old.loc[cid, "created_epoch"], epoch)
        rows.append(
            {
                "state_key": st.key(st.CLUSTER, cid),
                "record_type": st.CLUSTER,
                "epoch": epoch,
                "updated_at": now,
                "cluster_id": cid,
                "level": h["level"],
                "parent_id": h["parent_id"],
                "name": h["name"],
                "description": h["description"],
                "keywords": h["keywords"],
                "labeller": h["labeller"],
                "label_key": h["label_key"],
                # ClusterLabel.error, as build_hierarchy recorded it: kura__llm_usage counts it
                "label_error": bool(h["label_error"]),
                "llm_calls": h["llm_calls"],
                "prompt_tokens": h["prompt_tokens"],
                "completion_tokens": h["completion_tokens"],
                # bounded retries of the name (kura_dbt.parking)
                "attempts": h["attempts"],
                "gave_up": bool(h["gave_up"]),
                "error": h["error"],
                "centroid": json.dumps(found.centroid_of.get(cid)),
                "radius": radius.get(cid),
                "size_at_discovery": h["size"],
                "created_epoch": created,
                "retired_epoch": None,
                "embedding_model": model,
            }
        )
    return rows


def _retired_rows(found: Discovery, old: pd.DataFrame | None, epoch: int) -> list[dict[str, Any]]:
    """The clusters the re-discovery retired, as they were, with ``retired_epoch``; the row
    keeps its own updated_at: its LLM usage stays with the run that paid."""
    if old is None:
        return []
    return [
        {
            **old.loc[cid].to_dict(),
            "state_key": st.key(st.CLUSTER, cid),
            "record_type": st.CLUSTER,
            "cluster_id": cid,
            "retired_epoch": epoch,
        }
        for cid in dict.fromkeys(found.retired)
        if cid in old.index
    ]


def _lineage_rows(found: Discovery, epoch: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "state_key": st.key(st.LINEAGE, epoch, n),
            "record_type": st.LINEAGE,
            "epoch": epoch,
            "updated_at": now,
            **line,
        }
        for n, line in enumerate(found.lineage)
    ]
