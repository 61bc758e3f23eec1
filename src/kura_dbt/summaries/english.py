"""English rules of the local summariser: the task phrase of a sentence ("find a bus to
Sacramento", "how to ...", "explain why ...", "answer a question about ..."), key phrases, and
whether a sentence is a request. The word lists and cue tables are ``data/english.json``.
(Requests and summaries quote the user; nothing is rewritten into the third person.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kura_dbt.summaries._data import cues, load
from kura_dbt.summaries.questions import question_task
from kura_dbt.summaries.text import DISCOURSE

_DATA = load("english")

# Words that carry no topic: the one list of them, which the local labeller uses too.
FUNCTION_WORDS = frozenset(_DATA["function_words"])
# The summariser's stop words add the words of how people ask ("help", "please", "today"), so
# that a key phrase is what they ask about.
EN_STOP = FUNCTION_WORDS | frozenset(_DATA["conversational_words"])
_EN_VERBS = frozenset(_DATA["verbs"])
_EN_QUESTION_START = frozenset(_DATA["question_starts"])
# The auxiliaries that open a question ("do", "can", "isn't", ...): the question starts that
# are not question words. Before a subject pronoun they are a question's word order ("do you").
AUXILIARIES = frozenset(w for w in _EN_QUESTION_START if not w.startswith(("wh", "how")))
SUBJECT_PRONOUNS = frozenset("i you we they he she it".split())
_CLAUSE_STOP = frozenset(_DATA["clause_stops"])
_PREPOSITIONS = frozenset(_DATA["prepositions"])
_ARTICLES = frozenset(_DATA["articles"])
_GERUND_BASES: dict[str, str] = dict(_DATA["gerunds"])

# Token sequences that introduce the wanted action; what follows is a verb phrase. Longest
# first.
_ACTION_CUES = tuple(sorted(cues(_DATA["cues"]["action"]), key=lambda cue: -len(cue)))
# Cues that may also start a later clause ("..., can you find", "... and want to find").
_INNER_CUES = cues(_DATA["cues"]["inner"])
_FIND_CUES = cues(_DATA["cues"]["find"])
_INTEREST_CUES = cues(_DATA["cues"]["interest"])
_WANT_CUES = cues(_DATA["cues"]["want"])
_HOW_CUES = cues(_DATA["cues"]["how"])
# first person -> third person in a task phrase: "help with my homework" -> "help with their
# homework"
_FIRST_PERSON: dict[str, str] = dict(_DATA["first_person"])


def _base_from_gerund(word: str) -> str | None:
    """'finding' -> 'find', 'planning' -> 'plan', 'making' -> 'make'; None if not a verb
    known here."""
    if word in _GERUND_BASES:
        return _GERUND_BASES[word]
    if not word.endswith("ing") or len(word) < 6:
        return None
    stem = word[:-3]
    for base in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else ""):
        if base and base in _EN_VERBS:
            return base
    return None


_TRAILING_PLEASE = re.compile(r"[,\s]+please(?=[\s.!?]*$)", re.IGNORECASE)


def strip_please(text: str) -> str:
    return _TRAILING_PLEASE.sub("", text)


Token = tuple[str, str, bool]  # (as written, lower-case bare word, a clause ends after it)


def tokenise(sentence: str) -> list[Token]:
    """(token as written, lower-case bare word, a clause ends after it)."""
    out = []
    for raw in sentence.split():
        bare = raw.strip(".,!?;:\"'(){}…“”‘’")
        if not (bare.startswith("[") and bare.endswith("]")):  # keep "[EMAIL]" placeholders
            bare = bare.strip("[]")
        if not bare:
            continue
        ends = raw.rstrip("\"'”’)]}").endswith((",", ";", ":", ".", "?", "!", "…"))
        out.append((bare, bare.lower().replace("’", "'"), ends))
    return out


def _starts_with(lowers: list[str], cue: tuple[str, ...]) -> bool:
    return tuple(lowers[: len(cue)]) == cue


def _display(token: str, lower: str, first: bool) -> str:
    """The token as the user wrote it, first person in the third ("my" -> "their"); a
    sentence-initial common word in lower case."""
    if lower in _FIRST_PERSON:
        return _FIRST_PERSON[lower]
    if first and (lower in EN_STOP or lower in _EN_VERBS or lower in _PREPOSITIONS):
        return lower
    return token


def _phrase(tokens: list[Token], verb: bool, max_words: int = 8) -> str | None:
    """The phrase at the start of ``tokens``: a verb (when ``verb``; its 'me'/'us' dropped)
    and its object, or a noun phrase, with at most one prepositional phrase; it ends at a
    clause boundary (punctuation, 'that', 'when', 'and', ...) or after ``max_words`` words
    (but not inside a run of capitalised words)."""
    out: list[str] = []
    prepositions = 0
    for i, (token, lower, ends) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if (
            verb
            and i == 1
            and lower in {"me", "us"}
            and following not in _PREPOSITIONS
            and not ends
        ):
            continue  # "find me a bus" -> "find a bus"; "tell me about" keeps "them"
        if out and lower in _CLAUSE_STOP:
            break
        if out and lower in _PREPOSITIONS:
            # "directed by", "located in": part of the noun phrase, not a new phrase
            if not (out[-1].lower().endswith("ed") and lower in {"by", "in", "on", "at"}):
                prepositions += 1
            if prepositions > 1 or len(out) >= max_words - 1:
                break
        if len(out) >= max_words and not (token[:1].isupper() and out[-1][:1].isupper()):
            break
        out.append(_display(token, lower, first=(i == 0)))
        if ends and (len(out) > 1 or not verb):
            break
    while out and (out[-1].lower() in _PREPOSITIONS or out[-1].lower() in _ARTICLES):
        out.pop()
    return " ".join(out) if out else None


def _verb_phrase(tokens: list[Token]) -> str | None:
    return _phrase(tokens, verb=True)


def _noun_phrase(tokens: list[Token], articles: bool = False) -> str | None:
    """The noun phrase at the start of ``tokens``; its leading article is dropped unless
    ``articles``."""
    while not articles and tokens and tokens[0][1] in _ARTICLES:
        tokens = tokens[1:]
    return _phrase(tokens, verb=False)


def _as_base_verb(tokens: list[Token]) -> list[Token]:
    """'finding a bus' -> 'find a bus' (for a gerund of a verb known here)."""
    if tokens:
        base = _base_from_gerund(tokens[0][1])
        if base:
            return [(base, base, tokens[0][2]), *tokens[1:]]
    return tokens


def key_phrases(tokens: list[Token], stop: frozenset[str], limit: int = 3) -> list[str]:
    """Runs of consecutive non-stop words (at most four words each), in order."""
    phrases: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            phrase = " ".join(run[:4])
            if phrase.lower() not in (p.lower() for p in phrases):
                phrases.append(phrase)
            run.clear()

    for i, (token, lower, ends) in enumerate(tokens):
        if lower in stop or lower in _FIRST_PERSON or len(lower) < 2 and not lower.isdigit():
            flush()
        else:
            run.append(_display(token, lower, first=(i == 0)) if stop is EN_STOP else token)
            if ends:
                flush()
        if len(phrases) >= limit:
            break
    flush()
    # a single common verb is no key phrase ("invented", "play")
    phrases = [p for p in phrases if p.lower() not in _EN_VERBS]
    return phrases[:limit]


def _help_with(tokens: list[Token]) -> str | None:
    """'with finding a bus' -> 'find a bus'; 'with my SQL query' -> 'help with their SQL
    query'. ``tokens`` start with the preposition."""
    rest = tokens[1:]
    if not rest:
        return None
    if _base_from_gerund(rest[0][1]):
        return _verb_phrase(_as_base_verb(rest))
    phrase = _noun_phrase(rest)
    return f"help with {phrase}" if phrase else None


def english_task(sentence: str) -> str | None:
    """The task phrase of one English sentence, or None."""
    text = DISCOURSE.sub("", sentence)
    return _task_from_tokens(tokenise(text), question=sentence.rstrip().endswith("?"), text=text)


def _task_from_tokens(
    tokens: list[Token], question: bool, depth: int = 0, text: str | None = None
) -> str | None:
    """The task phrase of a sentence's words: read through the cues it opens with ("can you",
    "I want to", "how do I", ...), then a verb phrase, a question as a reported one ("explain
    why ...", from ``text``, the sentence as written, :mod:`kura_dbt.summaries.questions`) or
    else its key phrases, or a request later in the sentence."""
    if not tokens or depth > 2:
        return None
    via_cue = False  # after a cue such as "can you" or "I want to", a verb phrase follows
    for _ in range(4):
        cue = _read_cue(tokens)
        if cue is None:
            break
        if cue.rest is None:
            return cue.task
        tokens, via_cue = cue.rest, True
    if not tokens:
        return None
    if via_cue or tokens[0][1] in _EN_VERBS:
        return _verb_phrase(tokens)
    if question or tokens[0][1] in _EN_QUESTION_START:
        reported = question_task(text) if text is not None else None
        if reported:
            return reported
        phrases = key_phrases(tokens, EN_STOP)
        return f"answer a question about {', '.join(phrases)}" if phrases else None
    return _task_later(tokens, question, depth)


@dataclass(frozen=True)
class _Cue:
    """What the cue a sentence opens with says: the task, or (``rest``) the words after it,
    to be read on as a verb phrase."""

    task: str | None = None
    rest: list[Token] | None = None


def _read_cue(tokens: list[Token]) -> _Cue | None:
    """The cue ``tokens`` open with, or None when they open with none."""
    lowers = [t[1] for t in tokens]
    how = next((cue for cue in _HOW_CUES if _starts_with(lowers, cue)), None)
    if how:
        phrase = _verb_phrase(tokens[len(how) :])
        return _Cue(task=f"how to {phrase}" if phrase else None)
    find = next((cue for cue in _FIND_CUES if _starts_with(lowers, cue)), None)
    if find:
        phrase = _noun_phrase(tokens[len(find) :], articles=True)
        return _Cue(task=f"find {phrase}" if phrase else None)
    cue = next((cue for cue in _ACTION_CUES if _starts_with(lowers, cue)), None)
    if cue:
        rest = _as_base_verb(tokens[len(cue) :])
        if rest and rest[0][1] in {"with", "in", "on"} and cue[-1] in {"help", "me"}:
            return _Cue(task=_help_with(rest))
        return _Cue(rest=rest)
    interest = next((c for c in _INTEREST_CUES if _starts_with(lowers, c)), None)
    if interest:
        rest = tokens[len(interest) :]
        if rest and _base_from_gerund(rest[0][1]):
            return _Cue(task=_verb_phrase(_as_base_verb(rest)))
        return _Cue(task=_noun_phrase(rest))
    want = next((c for c in _WANT_CUES if _starts_with(lowers, c)), None)
    if not want:
        return None
    return _after_want(tokens[len(want) :])


def _after_want(rest: list[Token]) -> _Cue:
    """What follows "I want", "I need", ...: "to" and a verb, (some) help (with, in, to) ...,
    or what is wanted ("I need a one way flight" -> "one way flight")."""
    rest_lowers = [t[1] for t in rest]
    if rest_lowers[:1] == ["to"]:
        return _Cue(rest=rest[1:])
    # "I need (some) help / assistance (with|in|to) ..."
    if rest_lowers[:1] == ["some"] and rest_lowers[1:2] in (["help"], ["assistance"]):
        rest, rest_lowers = rest[1:], rest_lowers[1:]
    if rest_lowers[:1] in (["help"], ["assistance"], ["assistant"]):
        rest = rest[1:]
        if rest and rest[0][1] in {"with", "in", "on"}:
            return _Cue(task=_help_with(rest))
        if rest and rest[0][1] == "to":
            rest = rest[1:]
        return _Cue(rest=_as_base_verb(rest))
    return _Cue(task=_noun_phrase(rest))


def _task_later(tokens: list[Token], question: bool, depth: int) -> str | None:
    """An imperative or a request later in the sentence: "Given the code below, refactor it";
    "There is a business tour for me, can you find a flight"; "... and want to find X"; a
    first-person request anywhere ("I feel like I want to ...", "I think I need to ...")."""
    lowers = [t[1] for t in tokens]
    for i in range(1, len(tokens)):
        if not (tokens[i - 1][2] or lowers[i - 1] == "and"):  # not the start of a clause
            continue
        if tokens[i - 1][2] and lowers[i] in _EN_VERBS:
            return _verb_phrase(tokens[i:])
        if any(_starts_with(lowers[i:], cue) for cue in _INNER_CUES):
            return _task_from_tokens(tokens[i:], question, depth + 1)
    for i in range(1, len(tokens)):
        if lowers[i] == "i" and any(_starts_with(lowers[i:], cue) for cue in _WANT_CUES):
            return _task_from_tokens(tokens[i:], question, depth + 1)
    return None


# =============================================================================== summariser


def is_request(sentence: str, words: list[str]) -> bool:
    """A question or a request: ends with '?', or opens with a question word, an imperative
    verb, or a cue such as 'can you', 'I want', 'I'm looking for'."""
    if sentence.rstrip().endswith("?") or not words:
        return bool(words)
    if words[0] in _EN_VERBS or words[0] in _EN_QUESTION_START:
        return True
    return any(
        _starts_with(words, cue) for cues in (_ACTION_CUES, _WANT_CUES, _FIND_CUES) for cue in cues
    )


def request_form(sentence: str) -> str | None:
    """What a request's sentence does: "question" (it ends with '?' or opens with a question
    word), else its leading verb ("write", "explain"; after a cue such as "can you", "please"
    or "I want you to"), else None."""
    lowers = [t[1] for t in tokenise(DISCOURSE.sub("", sentence))]
    cue = next((c for c in (*_ACTION_CUES, *_WANT_CUES) if _starts_with(lowers, c)), None)
    opens_question = bool(lowers) and lowers[0] in _EN_QUESTION_START
    if cue is None and (sentence.rstrip().endswith("?") or opens_question):
        return "question"
    rest = lowers[len(cue) :] if cue else lowers
    while rest and rest[0] in {"please", "pls", "kindly", "you", "to"}:
        rest = rest[1:]
    if not rest:
        return None
    return rest[0] if rest[0] in _EN_VERBS else _base_from_gerund(rest[0])


def word_stem(word: str) -> str:
    word = word.strip("'")
    for suffix in ("ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word
