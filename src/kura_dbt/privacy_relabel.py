"""Names the privacy auditor withheld, made again without what it found (issue 22).

The auditor (``int_kura__privacy_audit``) scores every cluster name, description and keyword
list; one that scores below ``kura__privacy_min_score`` is withheld from the marts. Withheld
is not the end of it: ``int_kura__privacy_relabels``, after the audit in the same build, makes
each withheld cluster text again with the private details the offline detector finds removed
(the spans of :data:`kura_dbt.audit.offline.REDACTED_ENTITIES` replaced by their marker,
``[NAME]``, ``[ADDRESS]``, ``[ACCOUNT]``, ..., then :func:`kura_dbt.redact.redact`'s
patterns), and has the same auditor score the new text. ``kura__clusters`` shows the new text
only when that score passes; a text in which the detector finds nothing to remove keeps no
replacement and stays withheld. Offline: the detector is presidio on spaCy's installed small
pipeline; an LLM auditor's calls for the new texts run under the budget caps and are counted
in ``kura__llm_usage`` (stage ``privacy_relabel``).

Incremental, keyed by the withheld text's hash: a text is remade once per auditor, model,
prompt version and detector version. With the Cortex auditor the table is
models/cortex/int_kura__privacy_relabels.sql: Snowflake's AI_REDACT finds the details
(``detector_version`` :data:`CORTEX_DETECTOR`) and AI_COMPLETE scores the new text.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from kura_dbt import sql
from kura_dbt.budget import budgeted, llm_of
from kura_dbt.frames import WarehouseReader
from kura_dbt.incremental import text_hash
from kura_dbt.progress import Progress
from kura_dbt.settings import Settings
from kura_dbt.tables import typed_frame

RELABEL_SCHEMA: dict[str, str] = {
    "text_hash": "string",  # MD5 of the withheld text
    "kind": "string",
    "replacement": "string",  # NULL: the detector found nothing to remove
    "replacement_hash": "string",
    "score": "Int64",  # the auditor's score of the replacement
    "reason": "string",
    "error": "string",
    "auditor": "string",
    "model": "string",
    "prompt_version": "string",
    "detector_version": "string",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "cost_usd": "float64",
    "llm_calls": "Int64",
    "relabelled_at": "datetime64[us]",
}

CLUSTER_KINDS = ("cluster_name", "cluster_description", "cluster_keywords")
# detector_version of the rows models/cortex/int_kura__privacy_relabels.sql writes (the Cortex
# auditor's relabels: Snowflake's AI_REDACT finds the details)
CORTEX_DETECTOR = "ai_redact"


def relabel_withheld(warehouse: WarehouseReader, config: Any) -> pd.DataFrame:
    """The rows of ``int_kura__privacy_relabels`` this build adds or replaces: ``warehouse``
    has views ``texts`` (int_kura__privacy_texts) and ``audit`` (int_kura__privacy_audit)."""
    settings = Settings.from_config(config)
    min_score = settings.privacy_min_score
    # Cortex: models/cortex/int_kura__privacy_relabels.sql in place of this; 1 shows all
    if settings.auditor == "cortex" or min_score <= 1:
        return typed_frame([], RELABEL_SCHEMA)
    from kura_dbt.audit import build_auditor
    from kura_dbt.audit.offline import detector_version

    auditor = build_auditor(settings)
    detector = detector_version()
    todo = warehouse.query(
        sql.withheld_cluster_texts(
            warehouse.views["texts"],
            warehouse.views["audit"],
            warehouse.state,
            min_score,
            auditor,
            detector,
            CLUSTER_KINDS,
        )
    )
    if todo.empty:
        return typed_frame([], RELABEL_SCHEMA)
    replacements = without_details(list(todo["text"]), list(todo["kind"]))
    new = pd.DataFrame(
        {
            "text_hash": [text_hash(r) for r in replacements],
            "kind": list(todo["kind"]),
            "text": replacements,
        }
    )
    changed = [r != t for r, t in zip(replacements, todo["text"], strict=True)]
    scores = _audited(auditor, new[changed].drop_duplicates("text_hash"), settings)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    rows = []
    for (withheld, kind, _), replacement, moved in zip(
        todo[["text_hash", "kind", "text"]].itertuples(index=False),
        replacements,
        changed,
        strict=True,
    ):
        audit = scores.get(text_hash(replacement), {}) if moved else {}
        if moved and not audit:
            continue  # the budget cap kept it from the auditor: pending, withheld meanwhile
        rows.append(
            {
                **{k: audit.get(k) for k in ("score", "reason", "error", "llm_calls")},
                **{k: audit.get(k) for k in ("prompt_tokens", "completion_tokens", "cost_usd")},
                "text_hash": withheld,
                "kind": kind,
                "replacement": replacement if moved else None,
                "replacement_hash": text_hash(replacement) if moved else None,
                "auditor": auditor.name,
                "model": auditor.model,
                "prompt_version": auditor.prompt_version,
                "detector_version": detector,
                "relabelled_at": now,
            }
        )
    return typed_frame(rows, RELABEL_SCHEMA)


def without_details(texts: list[str], kinds: list[str] | None = None) -> list[str]:
    """Each text (of ``kinds``: a cluster name's first capital is the labeller's) with the
    private details the offline detector finds replaced by markers."""
    from kura_dbt.audit.offline import redact_details
    from kura_dbt.redact import redact

    names = None if kinds is None else [kind == "cluster_name" for kind in kinds]
    return [redact(t) for t in redact_details(texts, names=names)]


def _audited(auditor: Any, new: pd.DataFrame, settings: Settings) -> dict[str, dict[str, Any]]:
    """The auditor's rows for the new texts, by hash (none for a text the budget cap kept)."""
    if new.empty:
        return {}
    from kura_dbt.audit.stage import scored

    progress = Progress.of("int_kura__privacy_relabels", settings, unit="calls")
    with budgeted(progress, llm_of(auditor)):
        frame = scored(auditor, new.reset_index(drop=True))
    return {row["text_hash"]: row for row in frame.to_dict("records")}
