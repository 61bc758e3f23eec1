"""Summaries stage: conversations -> one summary record each. Backends by var
``kura__summariser``: ``local`` (offline, extractive) and ``openai`` (any OpenAI-compatible
endpoint)."""

from __future__ import annotations

from kura_dbt.registry import Registry
from kura_dbt.settings import Settings
from kura_dbt.summaries.base import Summariser
from kura_dbt.summaries.local import LocalSummariser
from kura_dbt.summaries.schema import ConversationSummary, Message, SummaryRecord

__all__ = [
    "SUMMARISERS",
    "ConversationSummary",
    "LocalSummariser",
    "Message",
    "Summariser",
    "SummaryRecord",
]

SUMMARISERS: Registry[Summariser] = Registry("summariser")


@SUMMARISERS.register("local")
def _local(settings: Settings) -> Summariser:
    return LocalSummariser(
        max_chars=settings.summariser_max_chars,
        redact_details=settings.summary_redact_details,
    )


@SUMMARISERS.register("openai")
def _openai(settings: Settings) -> Summariser:
    from kura_dbt.summaries.openai import OpenAISummariser, parse_facets

    return OpenAISummariser(settings.llm_settings(), parse_facets(settings.extra_facets))


@SUMMARISERS.register("cortex")
def _cortex(settings: Settings) -> Summariser:
    raise ValueError(
        "kura: the cortex summariser runs in SQL on Snowflake (models/cortex/kura__summaries.sql "
        "replaces the Python model); it has no Python backend. Its prompt and schema: "
        "`kura schema` (kura_dbt.summaries.cortex)"
    )
