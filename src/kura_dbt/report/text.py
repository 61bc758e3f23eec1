"""Conversation text made safe to display: bidirectional controls shown, never obeyed.

A summary or cluster name comes from what users typed. The explicit bidi controls (U+202A-E:
embeddings and overrides; U+2066-9: isolates) reorder the characters that follow them: U+202E
(right-to-left override) followed by `gnp.exe` displays as `exe.png`. Every such control is
replaced by a visible marker, `[U+202E]`, so that what is displayed is what was written in the
order it was written. Letters of right-to-left scripts and the implicit marks (U+200E/F) are
left alone: they cannot override the direction of other letters. The page also isolates each
piece of user text (CSS `unicode-bidi: isolate`) so that it cannot reorder what is around it.
"""

from __future__ import annotations

import re
from typing import Any

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _marker(match: re.Match) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def visible_bidi(text: str) -> str:
    """`text` with every bidi embedding, override and isolate control replaced by `[U+XXXX]`."""
    return _BIDI.sub(_marker, text)


def visible_bidi_all(value: Any) -> Any:
    """`visible_bidi` on every string in a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return visible_bidi(value)
    if isinstance(value, dict):
        return {visible_bidi_all(k): visible_bidi_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_bidi_all(v) for v in value]
    return value
