"""The summary schema every summariser fills.

``ConversationSummary`` is the facet schema (an LLM backend fills the same pydantic model
through structured output, so its field descriptions are written as instructions).
``SummaryRecord`` is one flat output row per conversation: the facets plus counts, flags, usage
and an error column, with ``to_row()`` for a pandas DataFrame. ``Message`` is one message of
the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# One role map for the loaders, this schema and the dbt staging model (macros/input/
# message_rules.sql); see kura_dbt.loaders.message_rules.
from kura_dbt.loaders.message_rules import ROLES, normalise_role

__all__ = ["FLAGS", "ROLES", "ConversationSummary", "Message", "SummaryRecord"]

# Flags in the order they appear in a record.
FLAGS = (
    "empty",  # no message has any non-whitespace text
    "no_user_message",  # no user message has any non-whitespace text
    "greeting_only",  # no request: only greetings, pleasantries, content-free words or symbols
    "truncated",  # the transcript was longer than max_chars; only max_chars of it were read
    "non_english",  # the main human language of the user's text is not English
    "possible_prompt_injection",  # a user message contains a typical injection phrase
    "contains_pii",  # the user's text had e-mails, phones, cards or IPs (redacted)
    "unknown_role",  # a message had a role other than user/assistant/system/tool
    "error",  # the summariser failed on this conversation; see `error`
)


@dataclass
class Message:
    """One message of a conversation. ``role`` is normalised with the role map the loaders and
    the dbt staging model use (human/prompter/customer -> user, ai/bot/model/agent ->
    assistant, developer -> system, function/tool_result -> tool, ...; README "Input
    tables"); another role is kept in lower case and flagged ``unknown_role`` by the
    summariser. ``content`` ``None`` becomes ``""``."""

    role: str
    content: str

    def __post_init__(self) -> None:
        role = str(self.role or "").strip().lower()
        self.role = normalise_role(role) or role
        self.content = "" if self.content is None else str(self.content)

    @classmethod
    def coerce(cls, value: Message | Mapping[str, Any]) -> Message:
        """A ``Message`` from a ``Message`` or a mapping with ``role`` (or ``speaker`` /
        ``sender``) and ``content`` (or ``text``)."""
        if isinstance(value, Message):
            return value
        if isinstance(value, Mapping):
            role = value.get("role") or value.get("speaker") or value.get("sender") or ""
            content = value.get("content")
            if content is None:
                content = value.get("text")
            return cls(role=role, content="" if content is None else str(content))
        raise TypeError(f"not a message: {type(value).__name__}")


class ConversationSummary(BaseModel):
    """The facets of one conversation between a user and an AI assistant."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(
        description=(
            "One or two sentences, in English and in the neutral third person, saying what the "
            "user asked the assistant to do, e.g. 'The user asks the assistant to debug a "
            "Python script that parses CSV files.' Describe the request, not the answer. "
            "Leave out names, e-mail addresses, phone numbers, addresses and any other "
            "personally identifying details."
        )
    )
    request: str | None = Field(
        default=None,
        description=(
            "The user's overall request for the assistant, in one sentence, e.g. 'The user's "
            "overall request for the assistant is to book a bus ticket to Sacramento.' "
            "No personally identifying details. Null if the user makes no request."
        ),
    )
    task: str | None = Field(
        default=None,
        description=(
            "A short phrase naming the task the assistant is asked to perform, e.g. 'write "
            "a cover letter', 'debug Python code', 'find a restaurant'. Null if there is none."
        ),
    )
    languages: list[str] = Field(
        default_factory=list,
        description=(
            "The languages used in the conversation: human languages by their English name "
            "(e.g. 'English', 'Spanish') and programming languages in lower case (e.g. "
            "'python', 'sql'). Main human language first. Empty if there is no text."
        ),
    )
    concerning_score: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description=(
            "How concerning the user's requests are for safety, from 1 (not concerning at "
            "all: ordinary, benign requests) to 5 (very concerning: clear intent to cause "
            "serious harm). Null if it cannot be judged."
        ),
    )
    user_frustration: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description=(
            "How frustrated the user is with the assistant, from 1 (not frustrated: "
            "satisfied or neutral) to 5 (very frustrated). Null if it cannot be judged."
        ),
    )
    assistant_errors: list[str] | None = Field(
        default=None,
        description=(
            "The assistant's mistakes in this conversation, one short phrase each (e.g. "
            "'gave code that does not run', 'misread the date'). An empty list if there were "
            "none; null if it cannot be judged."
        ),
    )


class SummaryRecord(BaseModel):
    """One flat output row per conversation: the facets of :class:`ConversationSummary`
    (``summary`` may be ``None`` here: no user text, or an error) plus counts and flags."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = None
    summary: str | None = None
    request: str | None = None
    task: str | None = None
    languages: list[str] = Field(default_factory=list)
    concerning_score: int | None = Field(default=None, ge=1, le=5)
    user_frustration: int | None = Field(default=None, ge=1, le=5)
    assistant_errors: list[str] | None = None
    turn_count: int = Field(0, ge=0, description="messages with non-whitespace text, any role")
    user_turns: int = Field(0, ge=0, description="user messages with non-whitespace text")
    assistant_turns: int = Field(0, ge=0, description="assistant messages with text")
    user_chars: int = Field(0, ge=0, description="characters in all user messages (untruncated)")
    flags: list[str] = Field(default_factory=list)
    extra_facets: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    llm_calls: int | None = None
    error: str | None = None
    summariser: str | None = None
    model: str | None = None
    prompt_version: str | None = None

    def to_row(self) -> dict[str, Any]:
        """A dict of plain Python values (lists stay lists) for ``pandas.DataFrame``."""
        return self.model_dump(mode="python")

    @property
    def facets(self) -> ConversationSummary | None:
        """The facets as a :class:`ConversationSummary`; ``None`` without a summary."""
        if self.summary is None:
            return None
        return ConversationSummary(
            summary=self.summary,
            request=self.request,
            task=self.task,
            languages=list(self.languages),
            concerning_score=self.concerning_score,
            user_frustration=self.user_frustration,
            assistant_errors=None if self.assistant_errors is None else list(self.assistant_errors),
        )
