"""Human-language detection: a small stop-word and script detector (no model, no dependency,
same answer on every machine).

Latin-script languages by counts of their most frequent function words (English, Spanish,
German, French, Italian, Portuguese, Dutch, Polish, Swedish, Turkish), other languages by
Unicode script (Russian/Ukrainian, Greek, Arabic, Persian, Urdu, Hebrew, Hindi, Thai, Chinese,
Japanese, Korean). The word lists and script tables are ``data/language.json``.
"""

from __future__ import annotations

import re

from kura_dbt.summaries._data import load

__all__ = ["LATIN_STOPWORDS", "detect_human_language", "human_languages"]

_DATA = load("language")

# language -> its stop words; the order is the tie-break order (an earlier language wins)
LATIN_STOPWORDS: dict[str, frozenset[str]] = {
    language: frozenset(words) for language, words in _DATA["latin_stopwords"].items()
}
_LATIN_ORDER = tuple(LATIN_STOPWORDS)
# Letters that only one of the Latin-script languages above uses.
_LATIN_MARKERS = {
    language: re.compile(f"[{letters}]") for language, letters in _DATA["latin_markers"].items()
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

# (name, letters, weight per character): one CJK character is about one word. Latin first:
# a tie goes to the earlier script.
_SCRIPTS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (script["name"], re.compile(script["letters"]), script["weight"]) for script in _DATA["scripts"]
)
_LATIN_LETTERS = _SCRIPTS[0][1]
_SCRIPT_LANGUAGE: dict[str, str] = dict(_DATA["script_languages"])
# letters that tell Ukrainian from Russian, and Urdu and Persian from Arabic
_VARIANTS = {
    language: re.compile(f"[{letters}]") for language, letters in _DATA["variant_letters"].items()
}
_UKRAINIAN = _VARIANTS["Ukrainian"]
_URDU = _VARIANTS["Urdu"]
_PERSIAN = _VARIANTS["Persian"]
_DETECT_CHARS = 4000  # characters of one message that language detection reads


def _word_languages() -> dict[str, tuple[str, ...]]:
    """Stop word -> the languages that have it, in tie-break order."""
    languages: dict[str, tuple[str, ...]] = {}
    for language in _LATIN_ORDER:
        for word in LATIN_STOPWORDS[language]:
            languages[word] = languages.get(word, ()) + (language,)
    return languages


_WORD_LANGUAGES = _word_languages()


def _detect(text: str) -> tuple[str | None, int]:
    """(language, evidence) for one text; evidence is the number of supporting hits."""
    text = text[:_DETECT_CHARS]
    if text.isascii():
        counts = {"latin": len(_LATIN_LETTERS.findall(text))}
    else:
        counts = {name: len(pattern.findall(text)) * weight for name, pattern, weight in _SCRIPTS}
    script = max(counts, key=lambda name: counts[name])  # first of equals wins: latin
    if counts[script] == 0:
        return None, 0
    if script != "latin":
        hits = counts[script]
        if script == "cyrillic":
            return ("Ukrainian" if _UKRAINIAN.search(text) else "Russian"), hits
        if script == "arabic":
            if _URDU.search(text):
                return "Urdu", hits
            return ("Persian" if _PERSIAN.search(text) else "Arabic"), hits
        if script == "han":
            return ("Japanese" if counts["kana"] else "Chinese"), hits
        return _SCRIPT_LANGUAGE[script], hits
    lowered = text.lower()
    scores = dict.fromkeys(_LATIN_ORDER, 0)
    for word in _WORD.findall(lowered):
        for language in _WORD_LANGUAGES.get(word.replace("’", "'"), ()):
            scores[language] += 1
    if not lowered.isascii():
        for language, marker in _LATIN_MARKERS.items():
            scores[language] += min(3, len(marker.findall(lowered)))
    best = max(_LATIN_ORDER, key=lambda language: scores[language])
    if scores[best] == 0:
        return None, 0
    return best, scores[best]


def detect_human_language(text: str) -> str | None:
    """The human language of ``text`` as an English name ("English", "Spanish", ...), or
    ``None`` when there is no evidence (no letters, or no common word of any language)."""
    return _detect(text or "")[0]


def human_languages(texts: list[str]) -> list[str]:
    """Languages of the user's messages, main (most words) first; another language is kept
    when at least a quarter of the words and three hits support it."""
    weight: dict[str, int] = {}
    evidence: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        language, hits = _detect(text)
        if language is None:
            continue
        words = max(1, len(text[:_DETECT_CHARS].split()))
        weight[language] = weight.get(language, 0) + words
        evidence[language] = evidence.get(language, 0) + hits
        first_seen.setdefault(language, i)
    if not weight:
        return []
    ranked = sorted(weight, key=lambda lang: (-weight[lang], first_seen[lang]))
    total = sum(weight.values())
    main, rest = ranked[0], ranked[1:]
    return [main] + [lang for lang in rest if weight[lang] * 4 >= total and evidence[lang] >= 3]
