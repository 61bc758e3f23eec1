"""Language-neutral text rules of the local summariser: sentences, greetings and pleasantries,
shortening, and prompt-injection phrases. The word tables are ``data/text.json``."""

from __future__ import annotations

import functools
import re
from typing import Any

from kura_dbt.loaders.message_rules import is_blank
from kura_dbt.summaries._data import alternatives, load, pattern
from kura_dbt.summaries.code import CODE_FENCE_ANY

_DATA = load("text")

# ----------------------------------------------------------------------------- prompt injection

# Typical prompt-injection phrases, matched on lower-cased text. Each pattern starts with a
# literal word, which is looked for first (fast path).
_INJECTION_TABLE = _DATA["injection"]
_OVERRIDE = (
    r"\s+(?:(?:" + alternatives(_INJECTION_TABLE["override_determiners"]) + r")\s+){0,3}"
    r"(?:(?:" + alternatives(_INJECTION_TABLE["override_qualifiers"]) + r")\s+)?"
    r"(?:" + alternatives(_INJECTION_TABLE["override_objects"]) + r")\b"
)  # "ignore all previous instructions", "bypass the safety filters", ...
_INJECTION: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (literal, re.compile(regex))
    for literal, regex in (
        *((verb, verb + _OVERRIDE) for verb in _INJECTION_TABLE["override_verbs"]),
        *((cue["literal"], pattern(cue["pattern"])) for cue in _INJECTION_TABLE["phrases"]),
    )
)
_DAN = re.compile(r"\bDAN\b")


def looks_like_injection(text: str) -> bool:
    """Whether ``text`` contains a typical prompt-injection phrase."""
    if "DAN" in text and _DAN.search(text):
        return True
    lowered = text.lower().replace("’", "'")
    return any(literal in lowered and cue.search(lowered) for literal, cue in _INJECTION)


# ----------------------------------------------------------------------------- blank text


def has_text(text: str | None) -> bool:
    """Whether ``text`` has a visible character. Whitespace and invisible characters
    (zero-width spaces and joiners, the BOM, ...: the blank characters the loaders and the
    dbt models share) are no text, so a message made of them is not summarised."""
    return not is_blank(text)


# ----------------------------------------------------------------------------- greetings

_GREETING = re.compile(
    r"^\s*(?:"
    r"(?:" + alternatives(_DATA["greetings"]) + r")"
    r"(?:\s+(?:" + alternatives(_DATA["addressees"]) + r"))*"
    r"(?:\s*[!,.:;~)\-–—，。！、]+\s*|\s*\n\s*|\s*$|\s+(?=(?:"
    + alternatives(_DATA["followed_by"])
    + r")\b))"
    r")+",
    re.IGNORECASE,
)
_PLEASANTRY_SENTENCE = re.compile(
    r"^\s*(?:" + alternatives(_DATA["pleasantries"]) + r")\s*[?.!,]*\s*",
    re.IGNORECASE,
)
_PLEASANTRY_WORDS = frozenset(_DATA["pleasantry_words"])
# Openers that carry no request: "So, ...", "Also ...", "Yes, ...", "Perfect! ...". Words that
# can start a real sentence ("Good books for kids?", "No idea how ...") only go with punctuation.
DISCOURSE = re.compile(
    r"^(?:(?:(?:" + alternatives(_DATA["discourse"]["bare"]) + r")\b[,!.]?"
    r"|(?:" + alternatives(_DATA["discourse"]["punctuated"]) + r")[,!.])\s+)+",
    re.IGNORECASE,
)

# ----------------------------------------------------------------------------- sentences

_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|\(?[a-zA-Z]\))\s+")
_ABBREVIATIONS = frozenset(_DATA["abbreviations"])
_SENTENCE_END = re.compile(r"([.!?…]+|[。！？]+)([\"'”’)\]]*)(\s+|$)|[。！？]+")
SPACES = re.compile(r"[ \t\u00a0]+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: every line is split on sentence punctuation; a full stop ends a
    sentence only before an upper-case letter, a digit or a quote, and not after a common
    abbreviation. Bullets are removed."""
    sentences: list[str] = []
    for raw_line in text.split("\n"):
        line = SPACES.sub(" ", _BULLET.sub("", raw_line)).strip()
        if not line:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            end = match.end()
            punct = match.group(1) or match.group(0)
            if punct == "." and end < len(line):
                following = line[end : end + 1]
                if not (following.isupper() or following.isdigit() or following in "\"'“‘([¿¡"):
                    continue
                # the word before the full stop (at most 8 characters back: bounded work)
                previous_word = line[max(start, match.start() - 8) : match.start()]
                previous_word = previous_word.rsplit(" ", 1)[-1].lower()
                if previous_word.rstrip(".") in _ABBREVIATIONS or len(previous_word) == 1:
                    continue
            sentence = line[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


def _strip_greetings(text: str) -> str:
    for _ in range(4):
        before = text
        text = _GREETING.sub("", text, count=1)
        text = _PLEASANTRY_SENTENCE.sub("", text, count=1)
        if text == before:
            break
    return text.strip()


def words(sentence: str) -> list[str]:
    """The words of ``sentence``, lower case, without surrounding punctuation."""
    return [w.strip(".,!?;:\"'()[]{}…").lower().replace("’", "'") for w in sentence.split()]


def is_pleasantry(sentence: str) -> bool:
    """Whether ``sentence`` has only pleasantry words ("Great, thanks!"; also no words)."""
    return all(w in _PLEASANTRY_WORDS for w in words(sentence) if w)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a space where one is near the end, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—(\"'") + "…"


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def end_sentence(text: str) -> str:
    """``text`` without trailing space, ending with sentence punctuation (a full stop added)."""
    text = text.rstrip()
    if not text:
        return text
    return text if text[-1] in ".!?…:。！？" else text + "."


def clean_message(text: str) -> str:
    """A user message as prose, one sentence a line: code blocks removed, greetings and
    opening pleasantries stripped."""
    prose = CODE_FENCE_ANY.sub("\n", text) if "```" in text or "~~~" in text else text
    prose = _strip_greetings(prose)
    sentences = split_sentences(prose)
    while sentences and (
        is_pleasantry(sentences[0]) or _PLEASANTRY_SENTENCE.fullmatch(sentences[0])
    ):
        sentences.pop(0)
    if sentences:
        sentences[0] = capitalise(DISCOURSE.sub("", sentences[0]) or sentences[0])
    return "\n".join(sentences)


def select_request(sentences: list[str], limit: int, wanted: int = 60) -> str:
    """The first sentence, plus the next ones while the text is shorter than ``wanted`` or
    ends with a colon (a list follows), cut to ``limit`` characters."""
    out = sentences[0]
    i = 1
    while i < len(sentences) and (len(out) < wanted or out.endswith(":")):
        if len(out) >= wanted and len(out) + 1 + len(sentences[i]) > limit:
            break
        out = f"{out} {sentences[i]}"
        i += 1
    return shorten(out, limit)


# ----------------------------------------------------------------------------- content

_LABEL = re.compile(r"^(?:(?:" + alternatives(_DATA["labels"]) + r")\s*[:：]\s*)+", re.IGNORECASE)
_WORDLIKE = re.compile(r"[^\W_]")
_NO_CONTENT_WORDS = _PLEASANTRY_WORDS | frozenset(_DATA["no_content_words"])


def strip_labels(sentence: str) -> str:
    """``sentence`` without leading labels such as "Follow-up:", "Question:", "Q:"."""
    return _LABEL.sub("", sentence).strip()


def has_words(text: str) -> bool:
    """Whether ``text`` has a letter or a digit (not only symbols, emoji or blank-looking
    characters)."""
    return bool(_WORDLIKE.search(text))


def has_content(sentences: list[str]) -> bool:
    """Whether the sentences hold a word that is not a greeting, a pleasantry or a bare
    pronoun or function word ("He", "ok thanks", "?" hold none)."""
    return any(
        w not in _NO_CONTENT_WORDS and has_words(w) for s in sentences for w in words(s) if w
    )


@functools.cache
def _keyphrase_extractor(language: str) -> Any:
    import yake

    # yake's stop words for the language (its language-neutral list when it has none)
    return yake.KeywordExtractor(lan=language, n=3, top=3, dedup_lim=0.7)


def keyphrase_task(text: str, language: str) -> str | None:
    """Up to three key phrases of ``text`` (YAKE, with the stop words of ``language``, an
    ISO 639-1 code), in the order they appear; None for a language written without spaces
    (its words cannot be cut out) or when there are none."""
    if not text.strip() or _UNSPACED.search(text):
        return None
    phrases = [phrase for phrase, _ in _keyphrase_extractor(language).extract_keywords(text)]
    phrases.sort(key=lambda phrase: (text.find(phrase) % (len(text) + 1), phrase))
    return ", ".join(phrases) if phrases else None


_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
