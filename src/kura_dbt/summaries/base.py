"""The summariser interface: conversations -> one :class:`SummaryRecord` each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from kura_dbt.summaries.schema import Message, SummaryRecord


@runtime_checkable
class Summariser(Protocol):
    """What the pipeline needs from a summariser. ``name``, ``model`` and ``prompt_version``
    are stored with every summary and are part of the cache key: changing any of them
    re-summarises."""

    name: str
    prompt_version: str

    @property
    def model(self) -> str | None:
        """The model's name, or ``None`` where the backend has none."""
        ...

    def summarise_many(self, pairs: Sequence[tuple[Any, list[Message]]], /) -> list[SummaryRecord]:
        """One record per ``(conversation_id, messages)`` pair, in order. A failure on one
        conversation is that record's ``error``; an exception means the backend failed as a
        whole (the pipeline then sets the error on every row)."""
        ...
