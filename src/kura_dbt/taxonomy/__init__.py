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
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.clustering import CLUSTERERS
from kura_dbt.clustering.assign import assign_to_centroids
from kura_dbt.incremental import embedded_text_sql
from kura_dbt.parking import state_columns
from kura_dbt.settings import Settings
from kura_dbt.tables import typed_frame
from kura_dbt.taxonomy import state as st
from kura_dbt.taxonomy.discover import Discovery, Previous, discover
from kura_dbt.taxonomy.policy import Decision, Figures, clustering_settings_key, decide

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


def update_taxonomy(wh: Any, settings: Settings, now: datetime) -> pd.DataFrame:
    """The state rows this build adds or replaces (see :mod:`kura_dbt.taxonomy.state`).

    ``wh`` is a :class:`kura_dbt.frames.Warehouse` with views ``embeddings`` and ``summaries``
    and, on an incremental build, the previous ``state``.
    """
    state = wh.state
    emb = current_embeddings(wh, settings)
    models = wh.query(
        f"select model, count(*) as n from {emb} group by model order by n desc, model"
    )
    model = None if models.empty else str(models["model"].iloc[0])
    usable = "1 = 1" if model is None else f"model = '{model}'"
    conversations = 0 if models.empty else int(models["n"].iloc[0])

    if state is None:
        clusters = pd.DataFrame(columns=list(st.STATE_SCHEMA))
        last: dict[str, Any] = {}
        pending = wh.query(
            f"select conversation_id, text_hash, model as embedding_model, embedding "
            f"from {emb} where {usable}"
        )
    else:
        # a table from before a column existed lacks it until this build appends it
        stored = state_columns(wh, state)
        clusters = wh.query(
            f"select {', '.join(c for c in _CLUSTER_COLUMNS if c in stored)} from {state} "
            f"where record_type = '{st.CLUSTER}' and retired_epoch is null"
        )
        runs = wh.query(
            f"select * from {state} where record_type = '{st.RUN}' order by run_number desc limit 1"
        )
        last = {} if runs.empty else runs.iloc[0].to_dict()
        pending = wh.query(
            f"select e.conversation_id, e.text_hash, e.model as embedding_model, e.embedding "
            f"from {emb} as e left join {state} as s "
            f"on s.state_key = '{st.CONVERSATION}:' || e.conversation_id "
            f"and s.text_hash = e.text_hash and s.embedding_model = e.model "
            f"where s.state_key is null and e.{usable.replace('1 = 1', 'model is not null')}"
        )
    pending = pending.sort_values("conversation_id").reset_index(drop=True)
    base = clusters[clusters["level"] == 0].sort_values("cluster_id").reset_index(drop=True)
    epoch = _int(last.get("epoch"))
    previous_model = (
        last.get("embedding_model") if isinstance(last.get("embedding_model"), str) else None
    )

    # tonight's conversations against the current taxonomy (also when it is about to change:
    # the figures say how much drift triggered the re-discovery)
    X_new = _vectors(pending["embedding"])
    same_space = not base.empty and len(X_new) > 0 and previous_model == model
    if same_space:
        centroids = _vectors(base["centroid"])
        nearest, distance, within = assign_to_centroids(
            X_new, centroids, base["radius"].to_numpy(float)
        )
    else:
        nearest = np.full(len(pending), -1)
        distance = np.full(len(pending), np.nan)
        within = np.zeros(len(pending), dtype=bool)
    figures = Figures(
        has_taxonomy=not base.empty,
        conversations=conversations,
        new=len(pending),
        novel=int((~within).sum()) if same_space else 0,
        conversations_at_discovery=_int(last.get("conversations_at_discovery")),
        new_since_discovery=_int(last.get("new_since_discovery")),
        novel_since_discovery=_int(last.get("novel_since_discovery")),
        embedding_model=model,
        previous_embedding_model=previous_model,
        settings_key=clustering_settings_key(settings),
        previous_settings_key=last.get("settings_key")
        if isinstance(last.get("settings_key"), str)
        else None,
    )
    decision = decide(settings, figures)
    if conversations == 0:
        decision = Decision(False, "no conversations to cluster yet")

    rows: list[dict[str, Any]] = []
    if decision.discover:
        epoch += 1
        rows += _discovery_rows(wh, settings, now, epoch, model, usable, clusters, state)
    else:
        base_ids = list(base["cluster_id"])
        for i, row in enumerate(pending.itertuples(index=False)):
            near = base_ids[nearest[i]] if nearest[i] >= 0 else None
            rows.append(
                {
                    "state_key": st.key(st.CONVERSATION, row.conversation_id),
                    "record_type": st.CONVERSATION,
                    "epoch": epoch,
                    "updated_at": now,
                    "conversation_id": row.conversation_id,
                    "cluster_id": near if within[i] else None,
                    "nearest_cluster_id": near,
                    "distance": float(distance[i]),
                    "status": "assigned" if within[i] else "novel",
                    "text_hash": row.text_hash,
                    "embedding_model": row.embedding_model,
                }
            )
    run_number = _int(last.get("run_number")) + 1
    rows.append(
        {
            "state_key": st.key(st.RUN, f"{run_number:06d}"),
            "record_type": st.RUN,
            "epoch": epoch,
            "updated_at": now,
            "run_number": run_number,
            "decision": "discover" if decision.discover else "assign",
            "reason": decision.reason,
            "clusterer": CLUSTERERS.key(settings.clusterer),
            "settings_key": figures.settings_key,
            "embedding_model": model,
            "conversations": conversations,
            "new_conversations": figures.new,
            "novel_conversations": figures.novel,
            "conversations_at_discovery": conversations
            if decision.discover
            else figures.conversations_at_discovery,
            "new_since_discovery": 0
            if decision.discover
            else figures.new_since_discovery + figures.new,
            "novel_since_discovery": 0
            if decision.discover
            else figures.novel_since_discovery + figures.novel,
            "novel_share": figures.novel_share,
            "growth": figures.growth,
        }
    )
    return typed_frame(rows, st.STATE_SCHEMA)


def current_embeddings(wh: Any, settings: Settings) -> str:
    """SQL for the embeddings of each conversation's current text (the column chosen by
    ``kura__embedding_text``): a vector whose text changed or whose summary failed since it was
    embedded is not clustered."""
    emb, summaries = wh.views["embeddings"], wh.views["summaries"]
    text = embedded_text_sql(settings.embedded_column(), "s")
    return (
        f"(select e.conversation_id, e.text_hash, e.model, e.embedding from {emb} as e "
        f"inner join {summaries} as s on s.conversation_id = e.conversation_id "
        f"and s.error is null and e.text_hash = md5({text}) "
        f"where e.embedding is not null and e.error is null)"
    )


def _discovery_rows(
    wh: Any,
    settings: Settings,
    now: datetime,
    epoch: int,
    model: str | None,
    usable: str,
    clusters: pd.DataFrame,
    state: str | None,
) -> list[dict[str, Any]]:
    emb, summaries = current_embeddings(wh, settings), wh.views["summaries"]
    everything = (
        wh.query(
            f"select conversation_id, text_hash, model as embedding_model, embedding "
            f"from {emb} where {usable}"
        )
        .sort_values("conversation_id")
        .reset_index(drop=True)
    )
    texts = wh.query(f"select conversation_id, summary from {summaries} where summary is not null")
    text_of = dict(zip(texts["conversation_id"], texts["summary"], strict=True))
    previous = Previous(clusters=clusters)
    if state is not None:
        assigned = wh.query(
            f"select conversation_id, cluster_id from {state} "
            f"where record_type = '{st.CONVERSATION}'"
        )
        previous.assignment = dict(
            zip(assigned["conversation_id"], assigned["cluster_id"], strict=True)
        )
        ever = wh.query(f"select cluster_id from {state} where record_type = '{st.CLUSTER}'")
        previous.taken_ids = set(ever["cluster_id"].dropna())
    ids = list(everything["conversation_id"])
    X = _vectors(everything["embedding"])
    found = discover(ids, X, [str(text_of.get(c, "")) for c in ids], settings, previous)

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
    old = clusters.set_index("cluster_id") if not clusters.empty else None
    radius = dict(zip(found.base_ids, found.radii, strict=True))
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
    if old is not None:
        for cid in dict.fromkeys(found.retired):
            if cid in old.index:
                kept = old.loc[cid].to_dict()
                # the row keeps its own updated_at: its LLM usage stays with the run that paid
                rows.append(
                    {
                        **kept,
                        "state_key": st.key(st.CLUSTER, cid),
                        "record_type": st.CLUSTER,
                        "cluster_id": cid,
                        "retired_epoch": epoch,
                    }
                )
    for n, line in enumerate(found.lineage):
        rows.append(
            {
                "state_key": st.key(st.LINEAGE, epoch, n),
                "record_type": st.LINEAGE,
                "epoch": epoch,
                "updated_at": now,
                **line,
            }
        )
    return rows
