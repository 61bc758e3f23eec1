"""Names from the users' own requests: a short request of a cluster's most central
conversations, without what only frames it ("Why was my card payment declined?" -> "Card
payment declined"; "I am looking for a one-way flight, please." -> "Look for a one-way
flight", a leading verb in the imperative), as a candidate for the cluster's name
(:mod:`kura_dbt.labels.local`; base clusters only).

The phrases of a cluster name its subject ("card payment", "declined"); how its users ask
says what they want of it, in the words an analyst would write, and the name chosen by
meaning (:mod:`kura_dbt.labels.semantic`) then sits nearer the cluster's own requests. The
frame is found by spaCy's tagger (the offline detector's pipeline): the pronouns, auxiliaries,
determiners, question words and interjections that open a request, and the pronouns,
prepositions and time or discourse adverbs that close it. Without the pipeline there are no
such candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kura_dbt.labels.semantic import user_words
from kura_dbt.summaries.questions import WH_TAGS
from kura_dbt.summaries.text import split_sentences

REQUEST_TEXTS = 30  # a cluster's most central texts whose first sentence may name it
REQUEST_WORDS = (2, 5)  # a request name's words, at least and at most
# what opens a request without saying what it is about: "Could you", "Why was my", "Hi, I"
_OPENING_POS = frozenset({"PRON", "AUX", "DET", "INTJ", "SCONJ", "CCONJ", "PART", "PUNCT"})
# who asks and who is asked, in a summary's words ("The user asks the assistant to ...")
_PARTIES = frozenset("user users assistant ai chatbot bot".split())
# a verb that frames the request after it: "I'd like to", "I need to", "help me", "wondering
# if", "asks for"
_FRAME_VERBS = frozenset(
    "like want wants need needs wish love hope try trying wanted needed wonder wondering help "
    "able ask asks asking request requests requesting seek seeks seeking think believe guess "
    "suppose".split()
)
_AFTER_FRAME = frozenset({"to", "if", "whether", "for", "with"})
# a question word that stands for what is asked about ("which countries", "what happens")
_WH_NOMINAL = WH_TAGS - {"WRB"}  # "which", "what", "whose"; not "how", "why"
_CONTENT = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "NUM"})
# a framing verb that takes what is wanted as its object: "I need a bus", "want event tickets"
_WANTING = frozenset("want wants wanted need needs needed wanna".split())
# what closes one: "... for me", "... to", "... please", "... yet?"
_CLOSING_POS = frozenset(
    {"PRON", "AUX", "DET", "INTJ", "SCONJ", "CCONJ", "PART", "PUNCT", "ADP", "SPACE"}
)
_CLOSING_ADVERBS = frozenset(
    "yet now again already still today anymore though too so then here there soon ever "
    "please asap currently".split()
)


def request_names(texts_per_cluster: Sequence[Sequence[str]], nlp: Any) -> list[list[str]]:
    """Per cluster, the distinct request names of its first ``REQUEST_TEXTS`` texts (most
    central first), in that order; none without a pipeline (``nlp`` None)."""
    if nlp is None:
        return [[] for _ in texts_per_cluster]
    firsts = [
        [_first_sentence(t) for t in texts[:REQUEST_TEXTS] if t] for texts in texts_per_cluster
    ]
    flat = [s for sentences in firsts for s in sentences]
    docs = iter(nlp.pipe(flat, disable=["parser", "ner"]))
    out = []
    for sentences in firsts:
        names: dict[str, str] = {}
        for _ in sentences:
            name = request_name(next(docs))
            if name is not None:
                names.setdefault(name.casefold(), name)
        out.append(list(names.values()))
    return out


def request_name(doc: Any) -> str | None:
    """One tagged sentence's request without its frame, capitalised, or None when what is left
    is not ``REQUEST_WORDS`` words long."""
    sentence = list(doc)
    tokens = _unframed(sentence)
    tokens = _as_statement(sentence[: len(sentence) - len(tokens)], tokens)
    while tokens and (
        tokens[-1].pos_ in _CLOSING_POS or tokens[-1].text.casefold() in _CLOSING_ADVERBS
    ):
        tokens = tokens[:-1]
    if not tokens or any(t.text == "[" or t.like_url or t.like_email for t in tokens):
        return None
    # a request names what is to be done, as an analyst writes it: "Finding a hotel" -> "Find a
    # hotel", "Debugging a Python script" -> "Debug a Python script"
    first = tokens[0].lemma_ if tokens[0].tag_ == "VBG" and tokens[0].lemma_ else tokens[0].text
    text = (first + tokens[0].whitespace_ + "".join(t.text_with_ws for t in tokens[1:])).strip()
    words = text.casefold().split()
    low, high = REQUEST_WORDS
    if not low <= len(words) <= high or len(set(words)) < len(words):  # none twice: a stutter
        return None
    return text[0].upper() + text[1:]


def _unframed(tokens: list[Any]) -> list[Any]:
    """The tokens after the request's frame: its opening words, the parties named ("the user
    asks the assistant to"), a framing verb with what ties it to the request."""
    while True:
        while tokens and (tokens[0].pos_ in _OPENING_POS or tokens[0].tag_ in WH_TAGS):
            if tokens[0].tag_ == "WRB" and len(tokens) > 1 and tokens[1].pos_ in ("ADJ", "ADV"):
                return []  # "How long does a transfer take?": no span of it names it
            tokens = tokens[1:]
        if len(tokens) < 2:
            return tokens
        first, then = tokens[0].text.casefold(), tokens[1]
        if first in _PARTIES or first in _WANTING:
            tokens = tokens[1:]
        elif first in _FRAME_VERBS and then.text.casefold() in _AFTER_FRAME:
            tokens = tokens[2:]
        elif first in _FRAME_VERBS and then.pos_ in ("PRON", "DET", "VERB"):
            tokens = tokens[1:]
        else:
            return tokens


def _as_statement(opening: list[Any], tokens: list[Any]) -> list[Any]:
    """What is left of a question once its opening is gone, read as a statement, or nothing
    when it cannot be: "Has my transfer been sent?" -> "transfer sent" (a perfect's "been"
    without its "has"); "Which countries do you support?", "What happens once ..." and
    "... can I" keep their question's word order, which no name can."""
    for i, token in enumerate(opening):
        following = opening[i + 1] if i + 1 < len(opening) else (tokens[0] if tokens else None)
        if token.tag_ in _WH_NOMINAL and following is not None and following.pos_ in _CONTENT:
            return []  # "Which countries ...", "What happens ..."
    if any(a.pos_ == "AUX" and b.pos_ == "PRON" for a, b in zip(tokens, tokens[1:])):
        return []  # "... do you support", "... can I"
    out: list[Any] = []
    for token, following in zip(tokens, [*tokens[1:], None][: len(tokens)], strict=True):
        passive = token.lower_ == "been" and following is not None and following.tag_ == "VBN"
        if passive and not any(t.lemma_ == "have" for t in out):
            continue  # "top up been reverted" -> "top up reverted"
        out.append(token)
    return out


def _first_sentence(text: str) -> str:
    sentences = split_sentences(user_words(text))
    return sentences[0] if sentences else ""
