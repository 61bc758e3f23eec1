"""The word lists and cue tables of the local summariser: JSON files in ``data/``, shipped as
package data and read once each (their ``about`` key says what each table is)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The JSON object of ``kura_dbt/summaries/data/<name>.json``."""
    path = resources.files("kura_dbt.summaries") / "data" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def pattern(value: str | list[str]) -> str:
    """A regular expression stored as one string, or as a list of parts (a long one, to keep
    the file's lines short) that are joined."""
    return value if isinstance(value, str) else "".join(value)


def alternatives(items: Iterable[str]) -> str:
    """``a|b|c``: the regular-expression alternatives of a table."""
    return "|".join(items)


def cues(phrases: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Cue phrases as word tuples, in order: ``"can you"`` -> ``("can", "you")``."""
    return tuple(tuple(phrase.split()) for phrase in phrases)
