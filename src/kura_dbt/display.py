"""Text from users, made safe to show on a terminal, in a log or in the report; and counted
nouns said right.

A cluster name, an example, a conversation or cluster id all come from what users typed or
from a file someone else wrote. Control characters in them act instead of showing: ``ESC ] 0 ;
... BEL`` sets a terminal's title, ``ESC [ 31 m`` its colour, a carriage return overwrites the
line, and the bidi controls (U+202A-E: embeddings and overrides; U+2066-9: isolates) reorder
the characters after them (U+202E followed by ``gnp.exe`` displays as ``exe.png``). Every C0
and C1 control character (U+0000-001F, U+007F-009F) and every explicit bidi control is shown as
a visible marker, ``[U+001B]``, so that what is displayed is what was written, in the order it
was written. Tab and line feed stay where text may span lines (``multiline=True``); a name on
one line gets markers for them too. Letters of right-to-left scripts and the implicit marks
(U+200E/F) are left alone: they cannot override the direction of other letters.
"""

from __future__ import annotations

import re
from typing import Any

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def _marker(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def has_control(text: str, multiline: bool = False) -> bool:
    """Whether ``text`` holds a C0 or C1 control character or a bidi control (tab and line
    feed allowed when ``multiline``)."""
    return (_MULTILINE if multiline else _ONE_LINE).search(text) is not None


def visible(text: str, multiline: bool = False) -> str:
    """``text`` with every control character (C0, C1; tab and line feed kept when
    ``multiline``) and every bidi control replaced by ``[U+XXXX]``."""
    return (_MULTILINE if multiline else _ONE_LINE).sub(_marker, text)


def visible_all(value: Any, multiline: bool = True) -> Any:
    """:func:`visible` on every string in a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return visible(value, multiline)
    if isinstance(value, dict):
        return {visible_all(k, multiline): visible_all(v, multiline) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_all(v, multiline) for v in value]
    return value


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``1 user``, ``2 users``, ``1 category``, ``0 categories`` (``plural_form`` when the
    plural is not the noun plus ``s``)."""
    word = noun if n == 1 else (plural_form or noun + "s")
    return f"{n} {word}"
