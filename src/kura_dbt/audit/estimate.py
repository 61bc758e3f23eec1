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
  texts there are (or :data:`DEFAULT_NEW_TEXT_TOKENS`). New cluster names of a re-discovery
  are not counted: whether one happens depends on the build.

The local auditor makes no call: 0 calls, 0 tokens, $0 (the texts are still counted). The
Cortex auditor (var ``kura__auditor: cortex``, the default on a Snowflake target) is estimated
from its prompt as models/cortex/int_kura__privacy_audit.sql sends it; AI_COMPLETE's own usage
answer may count more (the response format's schema).
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

__all__ = ["AuditRequest", "audit_request_of", "estimate_audits"]

# tokens of one summary, request or task not written yet, before any summary exists
DEFAULT_NEW_TEXT_TOKENS = 40
# texts the privacy auditor scores for each conversation summarised: summary, request, task
TEXTS_PER_SUMMARY = 3
CORTEX_MODEL = "llama3.1-70b"  # var kura__cortex_model's default


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
        from kura_dbt.summaries.cortex import audit_request

        request = audit_request()
        limit = int(request["max_text_chars"])
        return AuditRequest(
            "cortex",
            str(variables.get("kura__cortex_model") or CORTEX_MODEL),
            request["prompt_version"],
            lambda kind, text: f"<{kind}>\n{text[:limit]}\n</{kind}>",
            approx_tokens(request["system_prompt"] + "\n\n"),
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
    warehouse: WarehouseReader, auditor: Any, policy: RetryPolicy, new_summaries: int
) -> dict[str, Any]:
    """The next run's audit: ``warehouse`` has ``texts`` (``int_kura__privacy_texts``; None
    when the build has not made it yet) and ``state`` (``int_kura__privacy_audit``);
    ``new_summaries``: the conversations the same run summarises."""
    texts = warehouse.views.get("texts")
    todo = pending_audits(warehouse, auditor, policy) if texts else _no_texts()
    out: dict[str, Any] = {
        "auditor": auditor.name,
        "model": auditor.model,
        "texts": len(todo),
        "retries": int(todo["previous_error"].notna().sum()) if len(todo) else 0,
        "parked": parked_audits(warehouse, auditor) if texts else 0,
        "new_summary_texts": TEXTS_PER_SUMMARY * new_summaries,
        "calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "completion_per_call": None,
        "completion_from_history": False,
    }
    if not isinstance(auditor, AuditRequest):  # the local auditor: nothing is sent
        return out
    prompts = [auditor.prompt_tokens(str(r.kind), str(r.text)) for r in todo.itertuples()]
    per_new_text = auditor.overhead_tokens + _summary_text_tokens(warehouse, auditor)
    history = _completion_history(warehouse, auditor)
    per_call = history or DEFAULT_AUDIT_COMPLETION_TOKENS
    out["calls"] = len(prompts) + out["new_summary_texts"]
    out["prompt_tokens"] = sum(prompts) + out["new_summary_texts"] * per_new_text
    out["completion_per_call"] = float(per_call)
    out["completion_from_history"] = history is not None
    out["completion_tokens"] = int(round(out["calls"] * per_call))
    out["cost_usd"] = auditor.llm.cost(out["prompt_tokens"], out["completion_tokens"])
    return out


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


def _completion_history(warehouse: WarehouseReader, auditor: AuditRequest) -> float | None:
    """Mean completion tokens of the scores the same auditor and model gave before."""
    if warehouse.state is None:
        return None
    frame = warehouse.query(sql.average_completion_tokens(warehouse.state, auditor, "auditor"))
    mean = frame["mean"].iloc[0]
    return None if pd.isna(mean) else float(mean)
