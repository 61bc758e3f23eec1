"""What the Snowflake Cortex backends send, rendered from the same prompts and schemas as the
Python LLM backends: one source of truth.

The Cortex backends run in SQL (``models/cortex/``, ``macros/cortex/``): ``AI_COMPLETE`` with a
JSON-schema ``response_format`` for summaries and cluster names. Their prompt and schema are not
written a second time in SQL: :func:`summary_request` and :func:`label_request` render them from
``summaries.openai.SYSTEM_PROMPT`` + ``response_model(facets)`` and ``labels.openai.LABEL_PROMPT``
+ ``ClusterName``, and :func:`render_macros` writes them into ``macros/cortex/requests.sql``
(``kura schema --format dbt``). ``tests/python/test_cortex.py`` fails when the file the package
ships differs from what this module renders.

A Cortex schema is the pydantic JSON schema made plain, because structured outputs accept a
subset of JSON Schema (https://docs.snowflake.com/en/user-guide/snowflake-cortex/complete-structured-outputs):
``$ref`` is inlined, an optional field (``X | None``) becomes ``X`` and is left out of
``required`` (the model omits it when it cannot judge it, and the SQL reads a missing key as
NULL), numeric bounds and defaults are dropped (the bounds stay in the field's description and
the SQL clamps scores to 1-5), titles are dropped (tokens for nothing).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kura_dbt.llm import approx_tokens, fit_to_budget

__all__ = [
    "LABEL_PROMPT_VERSION",
    "audit_request",
    "cortex_schema",
    "label_request",
    "render_macros",
    "sql_object_literal",
    "summary_request",
]

LABEL_PROMPT_VERSION = "clio-names-v1"
_DROPPED = {"title", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
# the marker fit_to_budget puts where it cuts a long transcript (its default argument)
TRUNCATION_MARKER: str = fit_to_budget.__defaults__[0]  # type: ignore[index]


def cortex_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema as AI_COMPLETE's ``response_format`` schema: ``$ref`` inlined,
    ``anyOf [X, null]`` made ``X`` and optional, bounds, defaults and titles dropped."""
    defs = dict(schema.get("$defs") or {})

    def plain(node: Any) -> Any:
        if isinstance(node, list):
            return [plain(v) for v in node]
        if not isinstance(node, Mapping):
            return node
        if "$ref" in node:
            target = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return plain(merged)
        options = node.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(kept) == 1:
                merged = {**kept[0], **{k: v for k, v in node.items() if k != "anyOf"}}
                return plain(merged)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key == "$defs":
                continue
            if key == "properties":
                out[key] = {name: plain(prop) for name, prop in value.items()}
            else:
                out[key] = plain(value)
        if out.get("type") == "object" and "properties" in out:
            out["required"] = [
                name
                for name in out["properties"]
                if name in (node.get("required") or ()) and not _nullable(node["properties"][name])
            ]
        return out

    return plain({k: v for k, v in schema.items() if k != "$defs"})


def _nullable(prop: Mapping[str, Any]) -> bool:
    options = prop.get("anyOf")
    return isinstance(options, list) and any(
        isinstance(o, Mapping) and o.get("type") == "null" for o in options
    )


def _version(prefix: str, *parts: Any) -> str:
    digest = hashlib.md5(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:8]
    return f"{prefix}-cortex-{digest}"


def summary_request(extra_facets: Any = None) -> dict[str, Any]:
    """The Cortex summariser's request: the system prompt, the response format (the JSON schema
    of ``ConversationSummary`` plus the extra facets, as :func:`cortex_schema`), the marker of a
    cut transcript, the facet names and the prompt version (stored with every row; a change to
    any of these re-summarises)."""
    from kura_dbt.summaries.openai import (
        PROMPT_VERSION,
        SYSTEM_PROMPT,
        parse_facets,
        response_model,
    )

    facets = parse_facets(extra_facets)
    schema = cortex_schema(response_model(facets).model_json_schema())
    response_format = {"type": "json", "schema": schema}
    return {
        "system_prompt": SYSTEM_PROMPT,
        "response_format": response_format,
        "response_format_sql": sql_object_literal(response_format),
        "truncation_marker": TRUNCATION_MARKER,
        "extra_facets": [f.name for f in facets],
        "prompt_version": _version(
            PROMPT_VERSION, SYSTEM_PROMPT, response_format, TRUNCATION_MARKER
        ),
    }


def schema_tokens(request: Mapping[str, Any]) -> int:
    """The tokens of a request's response format (its JSON schema), which ``kura estimate``
    counts as input of every call, as it counts the schema instructor adds for an OpenAI
    backend (whether Cortex bills them, only a real account's usage answer shows)."""
    return approx_tokens(json.dumps(request["response_format"]))


@dataclass(frozen=True)
class CortexSummaries:
    """What models/cortex/kura__summaries.sql sends, for ``kura estimate``: its state key
    (``name``, ``model``, ``prompt_version``, as the model writes them), the LLM settings whose
    prices and caps apply (``settings``), and each conversation's prompt (:meth:`prompt`)."""

    model: str
    settings: Any  # kura_dbt.llm.LLMSettings
    extra_facets: Any = None
    name: str = "cortex"

    @functools.cached_property
    def request(self) -> dict[str, Any]:
        """:func:`summary_request`, built once (it renders the answer's schema)."""
        return summary_request(self.extra_facets)

    @property
    def prompt_version(self) -> str:
        return str(self.request["prompt_version"])

    @property
    def overhead_tokens(self) -> int:
        """The response format's tokens, on top of each prompt (:func:`schema_tokens`)."""
        return schema_tokens(self.request)

    def prompt(self, transcript: str) -> str | None:
        """The prompt the model sends for ``transcript`` (int_kura__transcripts.transcript),
        cut as it cuts it; None for a conversation without text (no call)."""
        if not transcript:
            return None
        budget = self.settings.max_transcript_tokens
        cut, _ = fit_to_budget(transcript, budget, self.request["truncation_marker"])
        return f"{self.request['system_prompt']}\n\n<transcript>\n{cut}\n</transcript>"


def label_request() -> dict[str, Any]:
    """The Cortex labeller's request: ``LABEL_PROMPT`` and the ``ClusterName`` schema."""
    from kura_dbt.labels.openai import LABEL_PROMPT, ClusterName

    response_format = {"type": "json", "schema": cortex_schema(ClusterName.model_json_schema())}
    return {
        "system_prompt": LABEL_PROMPT,
        "response_format": response_format,
        "response_format_sql": sql_object_literal(response_format),
        "prompt_version": _version(LABEL_PROMPT_VERSION, LABEL_PROMPT, response_format),
    }


def audit_request() -> dict[str, Any]:
    """The Cortex privacy auditor's request: ``AUDIT_PROMPT`` and the ``PrivacyScore`` schema
    of the LLM auditor (:mod:`kura_dbt.audit.llm`), the most characters of one text sent, and
    the prompt version stored with every score (a change re-audits)."""
    from kura_dbt.audit.llm import AUDIT_PROMPT, MAX_TEXT_TOKENS, PROMPT_VERSION, PrivacyScore

    response_format = {"type": "json", "schema": cortex_schema(PrivacyScore.model_json_schema())}
    return {
        "system_prompt": AUDIT_PROMPT,
        "response_format": response_format,
        "response_format_sql": sql_object_literal(response_format),
        "max_text_chars": MAX_TEXT_TOKENS * 4,
        "prompt_version": _version(PROMPT_VERSION, AUDIT_PROMPT, response_format),
    }


def sql_object_literal(value: Any) -> str:
    """``value`` as a Snowflake object / array constant (``{'type': 'json', ...}``), the form
    AI_COMPLETE's ``response_format`` argument takes (an object, not a JSON string)."""
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{_sql_string(str(k))}: {sql_object_literal(v)}" for k, v in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_object_literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return json.dumps(value)
    return _sql_string(str(value))


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


MACRO_HEADER = """\
{#- GENERATED by `kura schema --format dbt` from kura_dbt.summaries.cortex (the prompts and the
    schemas of the Python LLM backends): do not edit by hand. tests/python/test_cortex.py fails
    when this file differs from what the library renders. To add kura__extra_facets to the
    Cortex summariser, generate the file in your own project with your vars
    (`kura schema --format dbt --project-dir . --out macros/kura_cortex_requests.sql`) and put
    your project first in the kura dispatch search order (docs/SNOWFLAKE.md). -#}
"""


def _macro(name: str, request: Mapping[str, Any]) -> str:
    # a JSON string is a valid Jinja string literal: the same escapes, decoded back by Jinja
    text = json.dumps(json.dumps(request))
    return (
        f"{{% macro {name}() -%}}\n"
        f"    {{{{ return(adapter.dispatch('{name}', 'kura')()) }}}}\n"
        f"{{%- endmacro %}}\n\n"
        f"{{% macro default__{name}() -%}}\n"
        f"    {{{{ return(fromjson({text})) }}}}\n"
        f"{{%- endmacro %}}\n"
    )


def render_macros(extra_facets: Sequence[Any] | None = None) -> str:
    """The text of ``macros/cortex/requests.sql``: one dispatched macro per request."""
    return (
        MACRO_HEADER
        + "\n"
        + _macro("cortex_summary_request", summary_request(extra_facets))
        + "\n"
        + _macro("cortex_label_request", label_request())
        + "\n"
        + _macro("cortex_audit_request", audit_request())
    )
