"""A question's task as a reported question: "Why does kombucha have bubbles?" -> "explain why
kombucha has bubbles", "Who invented the honeycomb?" -> "ask who invented the honeycomb", "Can
a language model train itself?" -> "ask whether a language model can train itself".

English puts the auxiliary before the subject in a question ("why *does* kombucha have") and
after it in a reported one ("why kombucha *has*"). The subject and the auxiliary come from the
dependency parse of spaCy's small English pipeline, the one the offline privacy detector
already loads (:func:`kura_dbt.audit.offline.analyzer`); "do" goes and its tense moves to the
verb (lemminflect's inflection tables: "did ... fall" -> "fell"). "You" is the assistant and
"I" the user ("What can you do?" -> "ask what the assistant can do"). A question the parse
does not read as a wh- or yes/no question gives None, and the caller keeps its key phrases.
Without the pipeline installed (the ``local`` extra) every answer is None.
"""

from __future__ import annotations

import functools
from typing import Any

from kura_dbt.cache import LruCache, digest

# what the user writes about the assistant and about themselves, as a task says it
_PRONOUNS = {
    "you": "the assistant",
    "your": "the assistant's",
    "yours": "the assistant's",
    "yourself": "itself",
    "u": "the assistant",
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
    "we": "they",
    "us": "them",
    "our": "their",
    "ours": "theirs",
    "ourselves": "themselves",
}
_QUOTES = frozenset({'"', "“", "”", "``", "''"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})
_FINITE = frozenset({"VBZ", "VBP", "VBD", "MD"})
# spaCy's tags of question words ("what", "whose", "why", "which"); also read by
# kura_dbt.labels.requests
WH_TAGS = frozenset({"WP", "WP$", "WRB", "WDT"})
_OPINION = frozenset({"think", "know", "believe", "reckon", "suppose"})
# be after a new subject: "are you" -> "the assistant is", "am I" -> "they are"
_BE = {
    ("the assistant", "are"): "is",
    ("the assistant", "were"): "was",
    ("they", "am"): "are",
    ("they", "was"): "were",
    ("they", "is"): "are",
}

_CACHE: LruCache[bytes, str | None] = LruCache(20_000)


@functools.cache
def spacy_pipeline() -> Any:
    """The offline detector's spaCy pipeline, or None without the ``local`` extra (it brings
    lemminflect too)."""
    try:
        import lemminflect  # noqa: F401

        from kura_dbt.audit.offline import analyzer

        return analyzer().nlp_engine.nlp["en"]
    except ImportError:
        return None


def question_task(sentence: str) -> str | None:
    """The task of one English question ("explain why ...", "ask who ...", "ask whether ..."),
    or None (not read as a question, or no parser installed)."""
    key = digest(sentence)
    held = _CACHE.get_many([key])
    if key in held:
        return held[key]
    nlp = spacy_pipeline()
    task = None
    if nlp is not None:
        asked = sentence.rstrip().endswith("?")
        try:
            task = _reported(list(nlp(sentence, disable=["ner"])), asked)
        except Exception:  # an odd parse keeps the key phrases; the summary never fails on it
            task = None
    _CACHE.put_many({key: task})
    return task


def _reported(tokens: list[Any], asked: bool = True) -> str | None:
    """The task of a parsed question (its first clause; ``asked``: it ends with '?'), or
    None."""
    tokens = _first_clause(tokens)
    if len(tokens) < 2:  # "Why?": nothing to report
        return None
    aux = next((t for t in tokens[:5] if _inverted(t)), None)
    subject = _subject(tokens, aux) if aux is not None else None
    if aux is None or subject is None:
        return _declarative(tokens, asked) or _do_then_one_word(tokens)
    lead = [t for t in tokens if t.i < aux.i]
    if lead and (not any(t.tag_ in WH_TAGS for t in lead) or any(t.text == "," for t in lead)):
        return None  # not a wh-question, or one after a clause ("When I buy a TV, what ...")
    said = [t for t in aux.head.children if t.dep_ == "ccomp"] if _opinion(aux, subject) else []
    if not lead and said:  # "Do you think X?" -> "whether X"
        clause = [t for t in tokens if said[0].left_edge.i <= t.i <= said[0].right_edge.i]
        wh = clause[0].tag_ in WH_TAGS
        return ("ask " if wh else "ask whether ") + _render(clause, _agreement(clause))
    span = [t for t in tokens if subject.left_edge.i <= t.i <= subject.right_edge.i]
    between = [t for t in tokens if aux.i < t.i < span[0].i and t.dep_ != "neg"]
    order = lead + between + span
    changed = _move_aux(aux, span, tokens, order)
    order += [t for t in tokens if t.i > span[-1].i and t.i != aux.i and t not in order]
    verb = _verb_for(lead, aux)
    changed = {**_agreement(order), **changed}
    return f"{verb} {'' if lead else 'whether '}{_render(order, changed)}"


def _declarative(tokens: list[Any], asked: bool) -> str | None:
    """A wh-question already in the order of a reported one: the wh-word is (in) the subject,
    before any auxiliary ("Who invented the honeycomb?", "How many people live in Paris?").
    Without a question mark only when the wh-word is the subject ("When I got cash I believe
    ..." is no question)."""
    clause_after_comma = any(
        t.text == "," and (n.tag_ in WH_TAGS or _inverted(n))
        for t, n in zip(tokens, tokens[1:], strict=False)
    )
    if tokens[0].tag_ not in WH_TAGS or clause_after_comma:
        return None
    if not asked and tokens[0].dep_ not in _SUBJECTS:
        return None
    first_subject = next((t.i for t in tokens if t.dep_ in _SUBJECTS), None)
    first_finite = next((t.i for t in tokens if _inverted(t)), None)
    if first_subject is None or (first_finite is not None and first_finite < first_subject):
        return None
    return "ask " + _render(tokens, _agreement(tokens))


def _do_then_one_word(tokens: list[Any]) -> str | None:
    """ "How does an LLM work?", where the parse takes "work" for a noun: a wh-word, "do", the
    subject, then one word, the verb, in the tense of "do" ("explain how an LLM works")."""
    if len(tokens) < 4 or tokens[0].tag_ not in WH_TAGS:
        return None
    do, last = tokens[1], tokens[-1]
    if do.lemma_ != "do" or do.tag_ not in _FINITE or not last.is_alpha:
        return None
    changed = {last.i: _inflect(last.lower_, _tense(do), last.lower_)}
    return f"{_verb_for(tokens[:1], do)} {_render(tokens[:1] + tokens[2:], changed)}"


def _agreement(tokens: list[Any]) -> dict[int, str]:
    """The verbs whose subject "you" or "I" becomes "the assistant" or "they": "you take" ->
    "the assistant takes", "I am" -> "they are"."""
    changed = {}
    for t in tokens:
        verb = t.head
        if t.dep_ != "nsubj" or verb.i < t.i or verb not in tokens:
            continue
        if t.lower_ in {"you", "u"} and verb.tag_ == "VBP":
            changed[verb.i] = _inflect(verb.lemma_, "VBZ", verb.text)
        elif t.lower_ == "i" and verb.lower_ in {"am", "'m", "’m", "was"}:
            changed[verb.i] = "were" if verb.lower_ == "was" else "are"
    return changed


def _first_clause(tokens: list[Any]) -> list[Any]:
    """The tokens before a second question ("..., and what's ...", "and how does ...") or the
    end punctuation; quotation marks left out."""
    out: list[Any] = []
    for t, after in zip(tokens, [*tokens[1:], None], strict=True):
        if t.text in {";", "?", "!"}:
            break
        if after is not None and t.lower_ in {"and", "or", "but"}:
            if after.tag_ in WH_TAGS or _inverted(after) or after.text == ",":
                break  # "... and how does it ..."
        if after is not None and t.text == "," and after.lower_ in {"and", "or", "but"}:
            break
        if t.text not in _QUOTES:
            out.append(t)
    while out and out[-1].is_punct:
        out.pop()
    return out


def _inverted(token: Any) -> bool:
    """An auxiliary or a form of "be" (the verb itself) in a finite form."""
    auxiliary = token.dep_ in {"aux", "auxpass"} or (token.dep_ == "ROOT" and token.lemma_ == "be")
    # a sentence's first "Do" is often tagged as the base form
    finite = token.tag_ in _FINITE or (token.lower_ == "do" and token.dep_ == "aux")
    return auxiliary and finite


def _subject(tokens: list[Any], aux: Any) -> Any:
    """The subject after ``aux`` that belongs to it (or to the verb it helps), or None."""
    heads = {aux.i, aux.head.i}
    return next(
        (t for t in tokens if t.i > aux.i and t.dep_ in _SUBJECTS and t.head.i in heads), None
    )


def _opinion(aux: Any, subject: Any) -> bool:
    return aux.lemma_ == "do" and subject.lower_ in {"you", "u"} and aux.head.lemma_ in _OPINION


def _move_aux(aux: Any, span: list[Any], tokens: list[Any], order: list[Any]) -> dict[int, str]:
    """Put ``aux`` after the subject in ``order`` (or drop "do" and inflect its verb); the
    words whose text changes, by index."""
    new_subject = _PRONOUNS.get(span[0].lower_) if len(span) == 1 else None
    negated = [t for t in tokens if t.i == aux.i + 1 and t.dep_ == "neg"]
    if aux.lemma_ == "do" and not negated:
        verb = aux.head
        tag = _tense(aux)
        if tag == "VB" and new_subject == "the assistant":
            tag = "VBZ"
        return {verb.i: _inflect(verb.lemma_, tag, verb.text)} if verb.i > span[-1].i else {}
    order.append(aux)
    order.extend(negated)
    changed = {t.i: "not" for t in negated}
    form = _BE.get((new_subject or "", aux.lower_)) if aux.lemma_ == "be" else None
    changed[aux.i] = form or aux.lower_  # "Can a model ...?" -> "a model can"
    return changed


def _tense(do: Any) -> str:
    """The verb form "do" gives the verb it helps: "did" past, "does" third person, else the
    base form."""
    return {"VBD": "VBD", "VBZ": "VBZ"}.get(do.tag_, "VB")


def _inflect(lemma: str, tag: str, fallback: str) -> str:
    """``lemma`` in the form ``tag`` (lemminflect's tables; its rules for a word they lack),
    or ``fallback``."""
    if tag == "VB":
        return lemma
    from lemminflect import getInflection

    forms = getInflection(lemma, tag=tag, inflect_oov=True)
    return str(forms[0]) if forms else fallback


def _verb_for(lead: list[Any], aux: Any) -> str:
    """ "explain" for why, how (not "how many") and what ... mean; "ask" otherwise."""
    words = [t.lower_ for t in lead]
    if "why" in words or words[-1:] == ["how"]:  # not "how many", "how fast"
        return "explain"
    if words[:1] == ["what"] and aux.lemma_ == "do" and aux.head.lemma_ == "mean":
        return "explain"
    return "ask"


def _render(tokens: list[Any], changed: dict[int, str]) -> str:
    """The words in order, pronouns as a task says them, the first in lower case unless a
    name; a clitic ("'s") and punctuation stick to the word before."""
    out = ""
    before = None
    for n, t in enumerate(tokens):
        generic = t.lower_ in {"you", "u"} and t.dep_ not in _SUBJECTS  # "turns you into"
        text = changed.get(t.i) or (None if generic else _PRONOUNS.get(t.lower_)) or t.text
        if t.lower_ in {"n't", "n’t"}:
            text = "not"
        elif n == 0 and t.tag_ not in {"NNP", "NNPS"} and text == t.text:
            text = text[:1].lower() + text[1:]
        attach = text[:1] in {"'", "’"} or text in {",", ".", ":", "%", ")"}
        # as written: "self-attention", "Google's" (not "is" + "n't")
        attach = attach or (before is not None and before.i == t.i - 1 and not before.whitespace_)
        attach = attach and text != "not"
        out += text if (attach or not out or out.endswith("(")) else " " + text
        before = t
    return out
