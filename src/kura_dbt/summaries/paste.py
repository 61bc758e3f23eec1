"""Pasted prose: a message that is the user's instruction around a pasted document ("Rewrite
this recipe so it is vegan:" and the recipe; an essay, then "Can you fix the grammar?").

The request is the instruction, and the document is only named, by its kind, as a marker
("[pasted recipe]"), the way pasted code is (:mod:`kura_dbt.summaries.code`): what is pasted
says what the user works on, not what they ask. A message counts as an instruction around a
paste when it has line breaks and its first or last line asks for something and points at
the rest ("this", "the following", "below", "above", "it", or ends with a colon; one
paragraph, however long, is the user's own prose), and the rest is at least two lines
and ``MIN_PASTE_CHARS`` characters of which few lines ask anything themselves, and not a
bulleted list (a list of requirements is the user's own words, not a paste).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_PASTE_CHARS = 150
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_POINTS_AT = re.compile(
    r"\b(?:this|these|the following|following|below|above|here|it|my)\b|:\s*$", re.IGNORECASE
)
# what a pasted document is called in the instruction ("this recipe", "the following email")
_KINDS = (
    "abstract article blog caption chapter code comment cover description document draft "
    "email essay excerpt letter lyrics message note notes outline paper paragraph passage "
    "poem post prompt recipe report resume review script song speech story summary text "
    "transcript tweet"
).split()
_NAMED_KIND = re.compile(
    r"\b(?:this|these|the following|following|the|my|attached|below)\s+(?:\w+\s+)?("
    + "|".join(_KINDS)
    + r")s?\b",
    re.IGNORECASE,
)
# what a document looks like when the instruction does not say
_EMAIL = re.compile(r"^(?:dear\b|subject\s*:|(?:best |kind )?regards\b|sincerely\b)", re.I)
_RECIPE = re.compile(r"\b(?:ingredients|tbsp|tsp|tablespoons?|teaspoons?|cups? of|preheat)\b", re.I)


@dataclass(frozen=True)
class Paste:
    instruction: str  # the line that asks
    kind: str  # "recipe", "email", "text", ...

    def marker(self) -> str:
        return f"[pasted {self.kind}]"


def find_paste(lines: Sequence[str], asks: Callable[[str], bool], raw: str = "") -> Paste | None:
    """The instruction and the kind of what is pasted around it, or None when ``lines`` (a
    message's prose lines; ``raw``, the message as written) are not an instruction around a
    paste. A bulleted list is the user's own (requirements, points to cover), not a paste."""
    if len(lines) < 3:
        return None
    raw_lines = [" ".join(line.split()) for line in raw.splitlines() if line.strip()]
    if len(raw_lines) < 2:  # one paragraph is the user's own prose, however long
        return None
    if sum(1 for line in raw_lines if _BULLET.match(line)) * 2 >= len(raw_lines) - 1:
        return None
    opens_with_colon = lines[0].rstrip().endswith(":")
    for instruction, rest in ((lines[0], lines[1:]), (lines[-1], lines[:-1])):
        if not asks(instruction) or len(instruction) > 300:
            continue
        if not any(
            line.rstrip(" :.?!") == " ".join(instruction.split()).rstrip(" :.?!")
            for line in (raw_lines[0], raw_lines[-1])
        ):
            continue  # the instruction is a line of its own, before or after the paste
        # it points at the paste, or the message opens with "Here is my essay:"
        if not (_POINTS_AT.search(instruction) or (opens_with_colon and rest[0] == lines[0])):
            continue
        if sum(len(line) for line in rest) < MIN_PASTE_CHARS:
            continue
        if sum(1 for line in rest if asks(line) and line.rstrip().endswith("?")) > len(rest) / 3:
            continue  # questions after questions: the user's own, not a paste
        return Paste(instruction.rstrip(" :"), _kind(instruction, rest))
    return None


def _kind(instruction: str, rest: Sequence[str]) -> str:
    named = _NAMED_KIND.search(instruction)
    if named:
        return named.group(1).lower()
    if any(_EMAIL.search(line.strip()) for line in rest):
        return "email"
    if len(_RECIPE.findall("\n".join(rest))) >= 2:
        return "recipe"
    return "text"
