"""Programming-language detection: fenced-block tags (```python), syntax cues in untagged
blocks, and strong cues anywhere. The tag aliases and cue tables are ``data/code.json``."""

from __future__ import annotations

import re

from kura_dbt.summaries._data import load, pattern

__all__ = ["CODE_FENCE_ANY", "detect_programming_languages"]

_DATA = load("code")

# Fenced code blocks: ```lang ... ``` (or ~~~). An unclosed fence runs to the end of the text.
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:^[ \t]*(?P=fence)|\Z)",
    re.MULTILINE | re.DOTALL,
)
# A whole fenced block, fence lines included (to cut code out of prose).
CODE_FENCE_ANY = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL
)
# fence tag -> language
_FENCE_ALIASES: dict[str, str] = {
    tag: language for language, tags in _DATA["fence_tags"].items() for tag in tags
}
# Cues strong enough to count anywhere in the text (code pasted without a fence). Each cue
# has literal strings of which one must be in the text before the pattern runs (fast path).
_STRONG_CUES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (cue["language"], tuple(cue["literals"]), re.compile(pattern(cue["pattern"]), re.MULTILINE))
    for cue in _DATA["strong_cues"]
)
# Weaker cues, used only inside a fenced block without a language tag (short texts).
_BLOCK_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (language, cue) for language, _, cue in _STRONG_CUES
) + tuple(
    (cue["language"], re.compile(pattern(cue["pattern"]), re.MULTILINE))
    for cue in _DATA["weak_cues"]
)


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group("info").strip(), m.group("body")) for m in _FENCE.finditer(text)]


def detect_programming_languages(text: str) -> list[str]:
    """Programming languages in ``text``: from fenced-block tags (```python), else from the
    syntax cues in untagged blocks, and from strong cues anywhere (``#include <stdio.h>``,
    ``def f(x):``, ``SELECT ... FROM``). In order of first appearance, lower case."""
    found: list[str] = []

    def add(language: str) -> None:
        if language not in found:
            found.append(language)

    text = text or ""
    for info, body in _fenced_blocks(text):
        tag = info.split()[0].lower().strip("{}.") if info else ""
        if tag in _FENCE_ALIASES:
            add(_FENCE_ALIASES[tag])
        elif not tag:
            for language, cue in _BLOCK_CUES:
                if cue.search(body):
                    add(language)
    for language, literals, cue in _STRONG_CUES:
        if any(literal in text for literal in literals) and cue.search(text):
            add(language)
    if "c++" in found and "c" in found:
        found.remove("c")
    return found
