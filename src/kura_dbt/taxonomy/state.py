"""The clustering state: one incremental table (``int_kura__cluster_state``) that survives builds.

It holds four kinds of rows, told apart by ``record_type`` and keyed by ``state_key``:

- ``conversation``: a conversation's assignment: its base cluster (NULL when novel or noise),
  its nearest base cluster and the cosine distance to it, the status (``discovered``,
  ``assigned``, ``novel``, ``noise``), the epoch it was made in, and the text hash and embedding
  model it was made from (a change makes it pending again);
- ``cluster``: a cluster at any level: its opaque id, parent, name, description, keywords,
  centroid (JSON), radius (base level), the epoch that created it, the epoch that retired it;
- ``run``: one per build: the decision (``discover`` or ``assign``), why, and the figures behind
  it (new, novel, novel share and growth since the last discovery);
- ``lineage``: one per (old, new) pair at a re-discovery: ``same``, ``split``, ``merge``,
  ``new``, ``retired``, with the overlap.

One table instead of four because the model that assigns needs the centroids it assigns to,
and a dbt model can only read its own previous state without a cycle. The SQL models
``kura__conversation_clusters``, ``kura__taxonomy``, ``kura__cluster_runs`` and
``kura__cluster_lineage`` are its typed views.
"""

from __future__ import annotations

STATE_SCHEMA: dict[str, str] = {
    "state_key": "string",
    "record_type": "string",
    "epoch": "Int64",
    "updated_at": "datetime64[us]",
    # conversation
    "conversation_id": "string",
    "cluster_id": "string",
    "nearest_cluster_id": "string",
    "distance": "float64",
    "status": "string",
    "text_hash": "string",
    "embedding_model": "string",
    # cluster
    "level": "Int64",
    "parent_id": "string",
    "name": "string",
    "description": "string",
    "keywords": "string",
    "labeller": "string",
    "label_key": "string",
    "label_error": "boolean",
    "llm_calls": "Int64",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "attempts": "Int64",  # the name's bounded retries (kura_dbt.parking)
    "gave_up": "boolean",
    "error": "string",
    # the label shown where the privacy thresholds hide a child (kura_dbt.taxonomy.privacy)
    "public_name": "string",
    "public_description": "string",
    "public_keywords": "string",
    "public_label_key": "string",
    "public_labelled_at": "datetime64[us]",
    "public_llm_calls": "Int64",
    "public_prompt_tokens": "Int64",
    "public_completion_tokens": "Int64",
    "public_label_error": "string",
    "centroid": "string",
    "radius": "float64",
    "size_at_discovery": "Int64",
    "created_epoch": "Int64",
    "retired_epoch": "Int64",
    # lineage
    "old_cluster_id": "string",
    "new_cluster_id": "string",
    "relation": "string",
    "overlap": "float64",
    "shared_conversations": "Int64",
    # run
    "run_number": "Int64",
    "decision": "string",
    "reason": "string",
    "clusterer": "string",
    "settings_key": "string",
    "conversations": "Int64",
    "new_conversations": "Int64",
    "novel_conversations": "Int64",
    "conversations_at_discovery": "Int64",
    "new_since_discovery": "Int64",
    "novel_since_discovery": "Int64",
    "novel_share": "float64",
    "growth": "float64",
}

CONVERSATION, CLUSTER, RUN, LINEAGE = "conversation", "cluster", "run", "lineage"


def key(record_type: str, *parts: object) -> str:
    """The ``state_key`` of a row: its record type and what identifies it."""
    return ":".join([record_type, *(str(p) for p in parts)])
