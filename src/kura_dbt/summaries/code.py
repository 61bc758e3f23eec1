"""Pasted code: programming-language detection (fenced-block tags such as ```python, syntax cues
in untagged blocks, strong cues anywhere) and the split of a message into the user's prose and
the code, logs or data they pasted (fenced or not). The tag aliases and cue tables are
``data/code.json``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kura_dbt.summaries._data import load, pattern

__all__ = ["CODE_FENCE_ANY", "Split", "detect_programming_languages", "split_code"]

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


# ----------------------------------------------------------------------------- prose and code

_LINES = _DATA["code_lines"]
# Lines that are code, a log or data whatever else they hold: a traceback frame, a compiler
# message, a shell prompt, a statement opening, a tag, a CSV row, ...
_CODE_LINE = re.compile(pattern(_LINES["code"]))
# Lines that are code unless they read as prose: an assignment or a key and a short value
# (TOML, YAML, INI), a line ending with ; { } or ), many brackets and operators.
_WEAK_CODE_LINE = re.compile(pattern(_LINES["weak_code"]))
_SYMBOLS = re.compile(r"[{}\[\]()<>=;$|\\/_\"'`*#@&%+~^]")
_PLAIN_WORD = re.compile(r"^[(\"'“‘¿¡]?[^\W\d_]+(?:['’-][^\W\d_]+)*[)\"'”’]?[.,;:!?…]*$")
# the line of a log or traceback that names the error
_ERROR_LINE = re.compile(pattern(_LINES["error"]))


def _reads_as_prose(line: str) -> bool:
    tokens = line.split()
    plain = sum(1 for token in tokens if _PLAIN_WORD.match(token))
    return plain >= 3 and plain >= 0.7 * len(tokens)


def _line_kind(line: str) -> str:
    """'blank', 'code' or 'prose'."""
    stripped = line.strip()
    if not stripped:
        return "blank"
    if _CODE_LINE.search(line):
        return "code"
    if _reads_as_prose(stripped):
        return "prose"
    if _WEAK_CODE_LINE.search(line):
        return "code"
    symbols = len(_SYMBOLS.findall(stripped))
    if symbols >= 3 and symbols >= 0.12 * len(stripped):
        return "code"
    return "prose"


@dataclass
class Split:
    """A message cut into the user's prose and what they pasted."""

    prose: str  # the user's own lines, in order (code replaced by a line break)
    code: str  # the pasted code, logs or data, fenced or not
    languages: list[str]  # programming languages seen in the code

    @property
    def has_code(self) -> bool:
        return bool(self.code.strip())

    def marker(self) -> str:
        """ "[python code]", "[code]"; "" without code."""
        if not self.has_code:
            return ""
        return f"[{self.languages[0]} code]" if self.languages else "[code]"

    def error_line(self) -> str | None:
        """The line of the pasted log or traceback that names the error, if there is one."""
        found = None
        for line in self.code.split("\n"):
            if _ERROR_LINE.search(line):
                found = line.strip()  # the last one: a traceback ends with the error
        return found


def split_code(text: str) -> Split:
    """``text`` cut into prose and pasted code: fenced blocks are code; other lines are code
    when they look like code, a log, a traceback or data and do not read as a sentence; a
    short line between two code lines, or an indented one next to code, is code too."""
    text = text or ""
    code_parts: list[str] = []
    if "```" in text or "~~~" in text:
        code_parts += [m.group(0) for m in CODE_FENCE_ANY.finditer(text)]
        text = CODE_FENCE_ANY.sub("\n", text)
    lines = text.split("\n")
    kinds = [_line_kind(line) for line in lines]
    neighbours = [i for i, kind in enumerate(kinds) if kind != "blank"]
    for position, i in enumerate(neighbours):
        if kinds[i] != "prose":
            continue
        before = kinds[neighbours[position - 1]] if position > 0 else None
        after = kinds[neighbours[position + 1]] if position + 1 < len(neighbours) else None
        line = lines[i]
        short = len(line.split()) <= 5 and not line.rstrip().endswith(("?", "."))
        indented = line[:1] in (" ", "\t") and len(line) - len(line.lstrip()) >= 2
        if (before == "code" and after == "code" and short) or (
            indented and "code" in (before, after)
        ):
            kinds[i] = "code"
    prose = "\n".join(line if kind != "code" else "" for line, kind in zip(lines, kinds))
    code_parts += [line for line, kind in zip(lines, kinds) if kind == "code"]
    code = "\n".join(code_parts)
    languages = detect_programming_languages(code) if code.strip() else []
    return Split(prose=prose, code=code, languages=languages)
