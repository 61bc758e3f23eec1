"""What the next build's privacy audit (``int_kura__privacy_audit``) will send, for ``kura
estimate``: one call per distinct text to audit, with its tokens and cost at the configured
prices, as for the summaries.

Two parts:

* the texts the warehouse shows now (``int_kura__privacy_texts``: summaries, requests, tasks,
  cluster names, descriptions and keywords) that the auditor has not scored, or failed on and
  has not given up on: selected with the model's own SQL (:func:`kura_dbt.sql.pending_audits`),
  their prompts rendered as the auditor renders them;
* the texts of the summaries the same build writes (a summary, a request and a task for each
  conversation it summarises): not written yet, so their length is the mean of the summary
  texts there are (or :data:`DEFAULT_NEW_TEXT_TOKENS`);
* the cluster texts ``int_kura__privacy_relabels`` remakes in the same build (the withheld ones
  in which the offline detector finds something to remove), each audited again: certain for
  a text withheld now and not remade yet, at most for a cluster text pending audit (the build
  may withhold it).

Then an upper bound (``*_at_most``) for what only the build can tell: when the taxonomy will or
may be re-discovered (:mod:`kura_dbt.taxonomy.forecast`), a name, description and keyword list
for every cluster the re-discovery can make, audited, and remade and audited again should they
be withheld; clusters that survive keep their names, so a real one sends fewer.

The local auditor makes no call: 0 calls, 0 tokens, $0 (the texts are still counted). The
Cortex auditor (var ``kura__auditor: cortex``, the default on a Snowflake target) is estimated
from its prompt as models/cortex/int_kura__privacy_audit.sql sends it, and its response format's
schema (:func:`kura_dbt.summaries.cortex.schema_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kura_dbt import sql
from kura_dbt.audit.stage import DEFAULT_AUDIT_COMPLETION_TOKENS, parked_audits, pending_audits
from kura_dbt.frames import WarehouseReader
from kura_dbt.parking import RetryPolicy
from kura_dbt.privacy_relabel import CLUSTER_KINDS
from kura_dbt.taxonomy.forecast import Forecast

__all__ = ["AuditRequest", "audit_request_of", "estimate_audits"]

# tokens of one summary, request or task not written yet, before any summary exists
DEFAULT_NEW_TEXT_TOKENS = 40
# texts the privacy auditor scores for each conversation summarised: summary, request, task
TEXTS_PER_SUMMARY = 3
CORTEX_MODEL = "llama3.1-70b"  # var kura__cortex_model's default
# characters of a cluster's name, description and keywords (what it shows the auditor, in
# int_kura__privacy_texts) before any cluster is named: a few words, two sentences, a list
DEFAULT_CLUSTER_TEXT_CHARS: dict[str, float] = {
    "cluster_name": 40,
    "cluster_description": 200,
    "cluster_keywords": 80,
}


@dataclass(frozen=True)
class AuditRequest:
    """What one call of an LLM auditor sends: the key of its scores in
    ``int_kura__privacy_audit`` (name, model, prompt version), the prompt of one text
    (``prompt``, without what every call carries), the tokens every call carries on top
    (``overhead_tokens``: the rubric and the answer's schema) and the prices (``llm``)."""

    name: str
    model: str
    prompt_version: str
    prompt: Callable[[str, str], str]
    overhead_tokens: int
    llm: Any

    def prompt_tokens(self, kind: str, text: str) -> int:
        from kura_dbt.llm import approx_tokens

        return self.overhead_tokens + approx_tokens(self.prompt(kind, text))


def audit_request_of(settings: Any, variables: Mapping[str, Any], snowflake: bool) -> Any:
    """The auditor var ``kura__auditor`` names as the build resolves it (``auto``: ``cortex``
    on Snowflake, else ``local``): an :class:`AuditRequest` for an LLM auditor, the local
    auditor itself otherwise (it makes no call)."""
    from kura_dbt.audit import AUDITORS
    from kura_dbt.llm import approx_tokens, request_overhead_tokens

    name = str(settings.auditor).strip().lower()
    if name == "auto":
        name = "cortex" if snowflake else "local"
    name = AUDITORS.key(name)
    llm = settings.llm_settings()
    if name == "cortex":
        from kura_dbt.summaries.cortex import audit_request, schema_tokens

        request = audit_request()
        limit = int(request["max_text_chars"])
        return AuditRequest(
            "cortex",
            str(variables.get("kura__cortex_model") or CORTEX_MODEL),
            request["prompt_version"],
            lambda kind, text: f"<{kind}>\n{text[:limit]}\n</{kind}>",
            approx_tokens(request["system_prompt"] + "\n\n") + schema_tokens(request),
            llm,
        )
    if name == "openai":
        from kura_dbt.audit.llm import AUDIT_PROMPT, PrivacyScore, audit_prompt, prompt_version

        return AuditRequest(
            "openai",
            str(llm.model or ""),
            prompt_version(),
            audit_prompt,
            approx_tokens(AUDIT_PROMPT) + request_overhead_tokens(PrivacyScore, llm.mode),
            llm,
        )
    from kura_dbt.audit.offline import OfflineAuditor

    return OfflineAuditor()


def estimate_audits(
    warehouse: WarehouseReader,
    auditor: Any,
    policy: RetryPolicy,
    new_summaries: int,
    min_score: int = 1,
    taxonomy: Forecast | None = None,
) -> dict[str, Any]:
    """The next run's audit: ``warehouse`` has ``texts`` (``int_kura__privacy_texts``; None
    when the build has not made it yet), ``relabels`` (``int_kura__privacy_relabels``, when
    there is one) and ``state`` (``int_kura__privacy_audit``); ``new_summaries``: the
    conversations the same run summarises; ``min_score``: var ``kura__privacy_min_score``;
    ``taxonomy``: the build's re-discovery (:func:`kura_dbt.taxonomy.forecast.forecast`)."""
    texts = warehouse.views.get("texts")
    todo = pending_audits(warehouse, auditor, policy) if texts else _no_texts()
    relabel = _relabels(warehouse, auditor, todo, min_score)
    taxonomy = taxonomy or Forecast("no", "", 0)
    new_cluster_texts = len(CLUSTER_KINDS) * taxonomy.clusters_at_most
    remade = new_cluster_texts if _relabelled(min_score) else 0
    out: dict[str, Any] = {
        "auditor": auditor.name,
        "model": auditor.model,
        "texts": len(todo),
        "retries": int(todo["previous_error"].notna().sum()) if len(todo) else 0,
        "parked": parked_audits(warehouse, auditor) if texts else 0,
        "new_summary_texts": TEXTS_PER_SUMMARY * new_summaries,
        "relabels": int(relabel["certain"].sum()),
        "relabels_at_most": len(relabel) + remade,
        "rediscover": taxonomy.rediscover,
        "rediscover_reason": taxonomy.reason,
        "new_cluster_texts_at_most": new_cluster_texts,
        **dict.fromkeys(("calls", "prompt_tokens", "completion_tokens"), 0),
        **dict.fromkeys(("calls_at_most", "prompt_tokens_at_most", "completion_tokens_at_most"), 0),
        "cost_usd": 0.0,
        "cost_usd_at_most": 0.0,
        "completion_per_call": None,
        "completion_from_history": False,
    }
    if not isinstance(auditor, AuditRequest):  # the local auditor: nothing is sent
        return out
    audits = sum(auditor.prompt_tokens(str(r.kind), str(r.text)) for r in todo.itertuples())
    remakes = [auditor.prompt_tokens(str(r.kind), str(r.text)) for r in relabel.itertuples()]
    certain = sum(t for t, sure in zip(remakes, relabel["certain"], strict=True) if sure)
    per_new_text = auditor.overhead_tokens + _summary_text_tokens(warehouse, auditor)
    audits += out["new_summary_texts"] * per_new_text
    per_cluster = _cluster_texts_tokens(warehouse, auditor)  # a name, description, keywords
    history = _completion_history(warehouse, auditor)
    per_call = history or DEFAULT_AUDIT_COMPLETION_TOKENS
    out["calls"] = len(todo) + out["new_summary_texts"] + out["relabels"]
    out["prompt_tokens"] = audits + certain
    out["calls_at_most"] = (
        len(todo) + out["new_summary_texts"] + out["relabels_at_most"] + new_cluster_texts
    )
    out["prompt_tokens_at_most"] = (
        audits + sum(remakes) + per_cluster * taxonomy.clusters_at_most * (2 if remade else 1)
    )
    out["completion_per_call"] = float(per_call)
    out["completion_from_history"] = history is not None
    for suffix in ("", "_at_most"):
        completion = int(round(out["calls" + suffix] * per_call))
        out["completion_tokens" + suffix] = completion
        out["cost_usd" + suffix] = auditor.llm.cost(out["prompt_tokens" + suffix], completion)
    return out


def _relabelled(min_score: int) -> bool:
    """Whether ``int_kura__privacy_relabels`` remakes the withheld cluster texts: not when
    ``kura__privacy_min_score`` 1 withholds nothing."""
    return min_score > 1


def _relabels(
    warehouse: WarehouseReader, auditor: Any, todo: pd.DataFrame, min_score: int
) -> pd.DataFrame:
    """The remade cluster texts ``int_kura__privacy_relabels`` may send to the auditor, one
    row per distinct replacement (``kind``, ``text``), each ``certain`` when the text it remakes
    is withheld now and not remade yet with this auditor and detector (the model's own SQL,
    :func:`kura_dbt.sql.withheld_cluster_texts`); the others remake a cluster text pending
    audit in ``todo``, should the same build withhold it. Only texts in which the offline
    detector finds something to remove are remade (:func:`kura_dbt.privacy_relabel.
    without_details`); with Cortex, AI_REDACT decides in the build, so every one of them is
    a call at most (the withheld text's length for the new text's)."""
    frame = pd.DataFrame(columns=["kind", "text", "certain"])
    texts = warehouse.views.get("texts")
    if not texts or not _relabelled(min_score):
        return frame.astype({"certain": bool})
    from kura_dbt.audit.offline import detector_version
    from kura_dbt.incremental import text_hash
    from kura_dbt.privacy_relabel import CORTEX_DETECTOR, without_details

    cortex = auditor.name == "cortex"
    withheld = _no_texts()
    if warehouse.state is not None:
        query = sql.withheld_cluster_texts(
            texts,
            warehouse.state,
            warehouse.views.get("relabels"),
            min_score,
            auditor,
            CORTEX_DETECTOR if cortex else detector_version(),
            CLUSTER_KINDS,
        )
        withheld = warehouse.query(query)
    pending = todo[
        todo["kind"].isin(CLUSTER_KINDS) & ~todo["text_hash"].isin(set(withheld["text_hash"]))
    ]
    candidates = pd.concat(
        [withheld.assign(certain=not cortex), pending.assign(certain=False)], ignore_index=True
    )
    if candidates.empty:
        return frame.astype({"certain": bool})
    if cortex:
        out = candidates[["kind", "text", "certain"]].drop_duplicates("text")
        return out.astype({"certain": bool}).reset_index(drop=True)
    candidates["remade"] = without_details(
        [str(t) for t in candidates["text"]], [str(k) for k in candidates["kind"]]
    )
    moved = candidates[candidates["remade"] != candidates["text"]].copy()
    moved["hash"] = [text_hash(t) for t in moved["remade"]]
    moved = moved.sort_values("certain", ascending=False, kind="stable")
    moved = moved.drop_duplicates("hash")  # one call per distinct replacement, as the build
    out = moved[["kind", "remade", "certain"]].rename(columns={"remade": "text"})
    return out.astype({"certain": bool}).reset_index(drop=True)


def _no_texts() -> pd.DataFrame:
    return pd.DataFrame(columns=["text_hash", "kind", "text", "previous_error"])


def _summary_text_tokens(warehouse: WarehouseReader, auditor: AuditRequest) -> int:
    """Prompt tokens of one summary, request or task text: the mean of those there are."""
    texts = warehouse.views.get("texts")
    if texts is None:
        return DEFAULT_NEW_TEXT_TOKENS
    mean = warehouse.query(sql.mean_summary_text_length(texts))["mean"].iloc[0]
    if pd.isna(mean):
        return DEFAULT_NEW_TEXT_TOKENS
    return len(auditor.prompt("summary", "")) // 4 + int(round(float(mean) / 4))


def _cluster_texts_tokens(warehouse: WarehouseReader, auditor: AuditRequest) -> int:
    """Prompt tokens of auditing one cluster's name, description and keywords: their mean
    lengths among the cluster texts there are (or :data:`DEFAULT_CLUSTER_TEXT_CHARS`)."""
    chars = dict(DEFAULT_CLUSTER_TEXT_CHARS)
    texts = warehouse.views.get("texts")
    if texts is not None:
        means = warehouse.query(sql.mean_text_length_by_kind(texts, CLUSTER_KINDS))
        chars.update({str(k): float(m) for k, m in zip(means["kind"], means["mean"]) if m})
    return sum(
        auditor.overhead_tokens + len(auditor.prompt(kind, "")) // 4 + int(round(chars[kind] / 4))
        for kind in CLUSTER_KINDS
    )


def _completion_history(warehouse: WarehouseReader, auditor: AuditRequest) -> float | None:
    """Mean completion tokens of the scores the same auditor and model gave before."""
    if warehouse.state is None:
        return None
    frame = warehouse.query(sql.average_completion_tokens(warehouse.state, auditor, "auditor"))
    mean = frame["mean"].iloc[0]
    return None if pd.isna(mean) else float(mean)
