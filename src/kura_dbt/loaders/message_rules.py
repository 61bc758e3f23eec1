"""The rules an input message is held to, shared with the dbt package: which roles are known (and
the names mapped to them), and which characters are not text.

There is ONE copy of both: the JSON values in the dbt macro file ``macros/input/message_rules.sql``
(``kura.builtin_role_aliases()`` and ``kura.blank_characters()``; the staging model's CASE and the
empty-content check are generated from them). This module reads them from that file, which is
here as ``message_rules.sql`` (a link to the macro; package data, so a wheel carries a copy).
``kura load``, the summariser's :class:`~kura_dbt.summaries.schema.Message` and dbt therefore
agree on every role; a site adds its own names with the var ``kura__role_aliases`` in dbt and
``--role-alias NAME=ROLE`` in ``kura load`` (:func:`role_aliases` merges them the same way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "BLANK_CHARACTERS",
    "INVISIBLE_CHARACTERS",
    "MACRO_FILE",
    "ROLES",
    "ROLE_ALIASES",
    "WHITESPACE_CHARACTERS",
    "is_blank",
    "is_invisible_only",
    "normalise_role",
    "role_aliases",
]

ROLES = ("user", "assistant", "system", "tool")

MACRO_FILE = Path(__file__).with_name("message_rules.sql")


def _json_value(text: str, name: str) -> Any:
    """The JSON value of ``{%- set <name> = ... -%}`` in the macro file."""
    match = re.search(r"\{%-?\s*set " + name + r"\s*=\s*(.*?)\s*-?%\}", text, re.DOTALL)
    if match is None:
        raise RuntimeError(f"{MACRO_FILE}: no `set {name} = ...` (the shared message rules)")
    return json.loads(match.group(1))


def _read() -> tuple[dict[str, str], dict[str, list[str]]]:
    try:
        # through importlib.resources, so that it reads inside the zip a Snowflake stored
        # procedure imports (`kura stage`) as well as on disk
        text = resources.files(__package__).joinpath(MACRO_FILE.name).read_text(encoding="utf-8")
        if "{%" not in text and len(text) < 300:  # the link checked out as a file (Windows)
            text = (MACRO_FILE.parent / text.strip()).read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - a broken install
        raise RuntimeError(f"the shared message rules are missing: {exc}") from exc
    return _json_value(text, "role_aliases"), _json_value(text, "blank_characters")


ROLE_ALIASES, _BLANK = _read()
WHITESPACE_CHARACTERS = "".join(_BLANK["whitespace"])
INVISIBLE_CHARACTERS = "".join(_BLANK["invisible"])
BLANK_CHARACTERS = WHITESPACE_CHARACTERS + INVISIBLE_CHARACTERS


def role_aliases(site: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The built-in aliases with a site's merged over them, as the dbt macro
    ``kura.role_aliases()`` merges the var ``kura__role_aliases``: names are trimmed and
    lower-cased, a role must be one of :data:`ROLES`, and ``None`` (or "") drops an alias."""
    merged = dict(ROLE_ALIASES)
    for name, role in (site or {}).items():
        key = str(name).strip().lower()
        if role is None or role == "":
            merged.pop(key, None)
        elif str(role).strip().lower() in ROLES:
            merged[key] = str(role).strip().lower()
        else:
            raise ValueError(
                f"role alias {name!r} maps to {role!r}; a role is one of {', '.join(ROLES)} "
                f"(or none to drop the alias)"
            )
    return merged


def normalise_role(value: Any, aliases: Mapping[str, str] = ROLE_ALIASES) -> str | None:
    """The pipeline's role for a source role (blank characters around it and case ignored), or
    None when it is unknown."""
    if not isinstance(value, str):
        return None
    return aliases.get(value.strip(BLANK_CHARACTERS).lower())


def is_blank(text: str | None) -> bool:
    """Whether ``text`` has no visible character: only whitespace and invisible characters
    (zero-width spaces and joiners, the BOM, ...). None is blank."""
    return not text or not text.strip(BLANK_CHARACTERS)


def is_invisible_only(text: str | None) -> bool:
    """Blank, but not only whitespace: invisible characters are what made it look non-empty."""
    return is_blank(text) and text is not None and bool(text.strip(WHITESPACE_CHARACTERS))
