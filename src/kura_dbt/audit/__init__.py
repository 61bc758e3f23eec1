"""The privacy auditor: every text the build may show (summaries, requests, cluster names and
descriptions) gets a privacy score on CLIO's 1-5 scale, and what scores below
``kura__privacy_min_score`` is withheld from the target schema, the tree and the report.

The scale is CLIO's (Tamkin, McCain et al., "Clio: Privacy-Preserving Insights into Real-World
AI Use", arXiv:2412.13678, Appendix G, the privacy auditor prompt): **higher is safer**.

* 1: not privacy-preserving: names, locations, proper nouns or other details that could
  identify an individual or a handful of people;
* 2: only slightly: details that could identify a specific company, website, community or
  school;
* 3: fairly: general, with specifics that might narrow it down to a few thousand people;
* 4: mostly: general, could narrow identification only with the right context;
* 5: fully: general information only, nothing identifying.

Backends (var ``kura__auditor``, :data:`AUDITORS`): ``local``, the offline one
(:mod:`kura_dbt.audit.offline`, presidio-analyzer with a packaged spaCy model), ``openai``
(:mod:`kura_dbt.audit.llm`, an OpenAI-compatible endpoint through instructor + openai) and
``cortex`` (the same prompt and schema through AI_COMPLETE, rendered by
:func:`kura_dbt.summaries.cortex.audit_request`, run in SQL).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kura_dbt.registry import Registry

__all__ = ["AUDITORS", "AuditRecord", "KINDS", "build_auditor"]

# what is audited: one row per distinct text of each kind
KINDS = ("summary", "request", "task", "cluster_name", "cluster_description", "cluster_keywords")


@dataclass
class AuditRecord:
    """One text's audit: its score (1-5, CLIO's scale; None when the audit failed), why, and
    what the call cost (LLM backends)."""

    text_hash: str
    auditor: str
    model: str | None
    prompt_version: str
    score: int | None = None
    reason: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    llm_calls: int | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


AUDITORS: Registry[Any] = Registry("auditor")


def build_auditor(settings: Any) -> Any:
    """The auditor the settings name (``settings.auditor``)."""
    return AUDITORS.build(settings.auditor, settings)


@AUDITORS.register("local")
def _offline(settings: Any) -> Any:
    from kura_dbt.audit.offline import OfflineAuditor

    return OfflineAuditor()


@AUDITORS.register("openai")
def _openai(settings: Any) -> Any:
    from kura_dbt.audit.llm import LLMAuditor

    return LLMAuditor(settings.llm_settings())


@AUDITORS.register("cortex")
def _cortex(settings: Any) -> Any:
    raise ValueError(
        "kura: the cortex auditor runs in SQL on Snowflake (models/cortex/"
        "int_kura__privacy_audit.sql replaces the Python model); it has no Python backend. Its "
        "prompt and schema: kura_dbt.summaries.cortex.audit_request"
    )
