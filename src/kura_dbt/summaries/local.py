"""The offline local summariser: honest, deterministic, extractive.

``LocalSummariser`` does not judge or invent anything; it extracts:

* ``request``: the text worth embedding, the user's substantive request in their own words:
  greetings, pleasantries and content-free turns are skipped; pasted code, logs and data are
  replaced by a marker ("[python code]", with the error line of a pasted traceback); of a
  long message the opening sentences are kept, and its closing question or instruction; of a
  message that is an instruction around pasted prose, only the instruction and a marker
  ("[pasted recipe]", :mod:`kura_dbt.summaries.paste`); a
  first request of fewer than five words is followed by the next substantive turn; no
  template, at most ``max_request_chars`` characters. ``None`` when the user asks nothing.
* ``summary``: for display, the request quoted in a sentence ('The user asks: "..."'; 'The
  user writes: "..."' for a statement), "(with pasted python code)" when there was code, and
  the later sentence that brings the most new words ('; later: "..."'). The user's words are
  quoted, never rewritten. A conversation with no request gets a fixed sentence that starts
  with "No request:" (flag ``greeting_only``).
* ``task``: a short phrase from the user's words: for English the leading imperative or wanted
  action ("find a bus to Sacramento"), "how to ..." for how-to questions, other questions
  reported ("explain why kombucha has bubbles", "ask who invented the honeycomb", "ask
  whether a refund is possible": :mod:`kura_dbt.summaries.questions`, with spaCy's parse) or,
  where the parse reads no question, "answer a question about <key phrases>", else ``None``
  (key phrases alone are no task);
  for other languages the key phrases that YAKE finds (with its stop words for the
  language); ``None`` when nothing is left, and for languages written without spaces.
* ``languages``: the human language(s) of the user's prose, code removed (English names, e.g.
  "English", "Spanish"; :mod:`kura_dbt.summaries.language`) and the programming languages
  seen in the code of any message (lower-case ids, e.g. "python", "c++", "sql";
  :mod:`kura_dbt.summaries.code`).
* ``concerning_score``, ``user_frustration``, ``assistant_errors``: always ``None``; a local
  extractor cannot judge them honestly.

Every text field goes through :func:`kura_dbt.redact.redact` (e-mails, phones, cards, IPs).
Person names are NOT removed (that needs a named-entity model).

Conversations without user text get a record with ``summary``, ``request`` and ``task`` set to
``None`` and flags saying why (``empty``, ``no_user_message``); nothing raises. Whitespace and
invisible characters (zero-width spaces and joiners, a BOM) are no text; a user text with no
letter or digit (only symbols, emoji or blank-looking characters) has no request and is
flagged ``greeting_only``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kura_dbt.redact import redact, redact_with_counts
from kura_dbt.summaries.code import Split, detect_programming_languages, split_code
from kura_dbt.summaries.english import (
    EN_STOP,
    english_task,
    is_request,
    strip_please,
    word_stem,
)
from kura_dbt.summaries.language import detect_languages
from kura_dbt.summaries.paste import Paste, find_paste
from kura_dbt.summaries.schema import FLAGS, ROLES, Message, SummaryRecord
from kura_dbt.summaries.text import (
    DISCOURSE,
    capitalise,
    clean_message,
    has_content,
    has_text,
    has_words,
    is_pleasantry,
    keyphrase_task,
    looks_like_injection,
    select_request,
    shorten,
    split_sentences,
    strip_labels,
    words,
)

__all__ = ["LocalSummariser"]

NO_REQUEST_GREETING = "No request: the user only greets, thanks or chats without asking anything."
NO_REQUEST_NO_WORDS = "No request: the user's messages have no words."
_LONG_MESSAGE_SENTENCES = 6  # a message of more sentences is a pasted document or a long brief
_SHORT_REQUEST_WORDS = 5  # a request of fewer words is followed by the next substantive turn


@dataclass
class _Turn:
    """One user message: what was pasted, and the prose as sentences (greetings removed)."""

    split: Split
    sentences: list[str]
    substantive: bool
    paste: Paste | None = None  # an instruction around pasted prose

    @property
    def own_words(self) -> list[str]:
        """The user's own lines: the instruction alone when the rest is pasted."""
        return [self.paste.instruction] if self.paste else self.sentences


class LocalSummariser:
    """Offline, deterministic, extractive summariser: no network, no randomness.

    ``max_chars`` bounds the work per conversation: only the first ``max_chars`` characters of
    the transcript (all messages' text, in order) are read; a longer one is flagged
    ``truncated``. ``max_request_chars`` bounds ``request`` (400 characters, about 100
    tokens: well inside a 256-token embedding model); ``max_summary_chars`` bounds ``summary``.
    """

    name = "local"
    model = "kura-local-extractive"
    # Change whenever the extraction logic changes: stored summaries with another version
    # are recomputed.
    # v3: the instruction around pasted prose; task a verb phrase; v4: a question's task is a
    # reported question ("explain why ...", "ask whether ...")
    prompt_version = "local-v4"

    def __init__(
        self,
        max_chars: int = 20_000,
        max_request_chars: int = 400,
        max_summary_chars: int = 500,
        redact_details: bool = False,
    ) -> None:
        if max_chars < 1 or max_request_chars < 20 or max_summary_chars < 40:
            raise ValueError("max_chars >= 1, max_request_chars >= 20, max_summary_chars >= 40")
        self.max_chars = int(max_chars)
        self.max_request_chars = int(max_request_chars)
        self.max_summary_chars = int(max_summary_chars)
        # names, street addresses and account numbers too (presidio, kura_dbt.audit.offline)
        self.redact_details = bool(redact_details)
        if self.redact_details:  # other summaries: stored ones are recomputed
            from kura_dbt.audit.offline import detector_version

            self.prompt_version = f"{type(self).prompt_version}+{detector_version()}"

    # ------------------------------------------------------------------ public

    def summarise(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        conversation_id: str | None = None,
    ) -> SummaryRecord:
        """The record of one conversation. Never raises for bad content: a failure becomes a
        record with ``error`` set and the flag ``error``."""
        base: dict[str, Any] = {
            "conversation_id": None if conversation_id is None else str(conversation_id),
            "summariser": self.name,
            "model": self.model,
            "prompt_version": self.prompt_version,
        }
        try:
            return SummaryRecord(**base, **self._summarise([Message.coerce(m) for m in messages]))
        except Exception as exc:  # one bad conversation never aborts a batch
            return SummaryRecord(
                **base, flags=["error"], error=f"{type(exc).__name__}: {exc}"[:1000]
            )

    def summarise_many(
        self,
        conversations: Iterable[tuple[Any, Iterable[Message | Mapping[str, Any]]]],
    ) -> list[SummaryRecord]:
        """Records for ``(conversation_id, messages)`` pairs, in order, one at a time (the
        private details, when ``redact_details``, in one batch)."""
        records = [self.summarise(m, conversation_id=cid) for cid, m in conversations]
        return _without_details(records) if self.redact_details else records

    # ------------------------------------------------------------------ work

    def _summarise(self, messages: list[Message]) -> dict[str, Any]:
        """The facets, counts and flags of one conversation (``SummaryRecord``'s fields)."""
        counts, total_chars, flags = _turn_counts(messages)
        if total_chars > self.max_chars:
            flags.add("truncated")
        user_texts, other_texts = _visible_texts(messages, self.max_chars)
        if any(looks_like_injection(text) for text in user_texts):
            flags.add("possible_prompt_injection")
        programming = detect_programming_languages("\n".join(user_texts + other_texts))
        result: dict[str, Any] = {**counts, "languages": programming}
        if not user_texts:
            result["flags"] = _ordered(flags)
            return result
        turns = [self._turn(text) for text in _redacted(user_texts, flags)]
        for turn in turns:
            programming += [p for p in turn.split.languages if p not in programming]
        # the language of the user's prose: code, logs and content-free turns say nothing
        # (of a paste, only the instruction; quoted strings, such as an error message, aside)
        prose = [_unquoted("\n".join(t.own_words)) for t in turns if t.substantive]
        human = detect_languages(prose)
        main_code = human[0][0] if human else None
        if main_code not in (None, "en"):
            flags.add("non_english")
        names = [name for _, name in human]
        result["languages"] = names + [p for p in programming if p not in names]
        result.update(self._facets(turns, main_code, flags))
        result["flags"] = _ordered(flags)
        return result

    @staticmethod
    def _turn(text: str) -> _Turn:
        split = split_code(text)
        cleaned = clean_message(split.prose)
        sentences = [strip_labels(s) for s in cleaned.split("\n") if s]
        sentences = [s for s in sentences if s]
        return _Turn(
            split, sentences, has_content(sentences), find_paste(sentences, _asks, split.prose)
        )

    def _facets(self, turns: list[_Turn], main_code: str | None, flags: set[str]) -> dict[str, Any]:
        """The request, summary and task from the user's (redacted) turns."""
        substantive = [i for i, turn in enumerate(turns) if turn.substantive]
        if not substantive:
            return _no_request(turns, flags)
        english = main_code in (None, "en")
        used, prose, request = self._request(turns, substantive)
        first_sentence = split_sentences(prose)[0] if prose else ""
        asks = first_sentence.rstrip().endswith("?") or (
            english and is_request(first_sentence, words(first_sentence))
        )
        summary = f'The user {"asks" if asks else "writes"}: "{prose}"'
        languages = [p for i in used for p in turns[i].split.languages if turns[i].split.has_code]
        pasted = [f"{languages[0]} code" if languages else "code"]
        pasted = pasted if any(turns[i].split.has_code for i in used) else []
        pasted += [p.kind for i in used if (p := turns[i].paste) and p.kind not in pasted]
        if pasted:
            summary += f" (with pasted {' and '.join(pasted)})."
        later = [i for i in substantive if i not in used]
        follow_up = self._follow_up(turns, later, prose)
        if follow_up:
            summary = f'{summary}; later: "{follow_up}"'
        summary = shorten(summary, self.max_summary_chars)
        task = _task(split_sentences(prose.rstrip("…")), english, main_code)
        return {
            "request": redact(request),
            "summary": redact(summary),
            "task": redact(task) if task else None,
        }

    def _request(self, turns: list[_Turn], substantive: list[int]) -> tuple[list[int], str, str]:
        """The turns the request is read from (the first substantive one, and the next while
        the request is short), the user's words in them, and the request (words and code
        markers, shortened)."""
        used = [substantive[0]]
        parts = [self._turn_request(turns[substantive[0]])]
        for i in substantive[1:]:
            if len(" ".join(p[0] for p in parts).split()) >= _SHORT_REQUEST_WORDS:
                break
            used.append(i)
            parts.append(self._turn_request(turns[i]))
        prose = " ".join(p[0] for p in parts)
        markers = " ".join(dict.fromkeys(p[1] for p in parts if p[1]))
        return used, prose, shorten(f"{prose} {markers}".strip(), self.max_request_chars)

    def _turn_request(self, turn: _Turn) -> tuple[str, str]:
        """(the user's words, the code marker) of one substantive turn: its first sentences;
        of a long message also its closing question or instruction (or only that, when the
        message opens with pasted text rather than a request)."""
        marker = turn.split.marker()
        error = turn.split.error_line() if marker else None
        if error:
            marker = f"{marker} {shorten(error, 120)}"
        if turn.paste is not None:  # the instruction, and what was pasted as a marker
            marker = " ".join(m for m in (marker, turn.paste.marker()) if m)
            return shorten(turn.paste.instruction, self.max_request_chars), marker
        sentences = turn.sentences
        text = select_request(sentences, self.max_request_chars, wanted=150)
        if len(sentences) > _LONG_MESSAGE_SENTENCES:
            last = sentences[-1]
            if last not in text and _asks(last):
                text = f"{text} … {last}" if _asks(sentences[0]) else last
        return shorten(text, self.max_request_chars), marker

    def _follow_up(self, turns: list[_Turn], indices: list[int], request: str) -> str | None:
        """The later user sentence, not a pleasantry, that brings the most words not already
        in the request (at least two), a question or request counting two more; the earliest
        wins a tie. Quoted as written."""
        seen = {word_stem(w) for w in words(request) if w not in EN_STOP}
        best: tuple[int, str] | None = None
        for i in indices:
            for sentence in turns[i].sentences:
                if is_pleasantry(sentence):
                    continue
                sentence = DISCOURSE.sub("", sentence) or sentence
                sentence_words = [w for w in words(sentence) if w]
                new = {word_stem(w) for w in sentence_words if w not in EN_STOP} - seen
                new.discard("")
                if len(new) < 2:
                    continue
                score = len(new) + (2 if is_request(sentence, sentence_words) else 0)
                if best is None or score > best[0]:
                    best = (score, sentence)
        if best is None:
            return None
        return shorten(capitalise(strip_please(best[1])), 160)


_QUOTED = re.compile(r"\"[^\"\n]{3,}\"|“[^”\n]{3,}”|`[^`\n]+`|'[^'\n]{12,}'")


def _unquoted(text: str) -> str:
    """``text`` without quoted strings (a pasted error message), unless nothing else is left."""
    rest = _QUOTED.sub(" ", text)
    return rest if len(rest.split()) >= 3 else text


def _asks(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or is_request(sentence, words(sentence))


def _ordered(flags: set[str]) -> list[str]:
    known = [f for f in FLAGS if f in flags]
    return known + sorted(flags - set(FLAGS))


def _turn_counts(messages: Sequence[Message]) -> tuple[dict[str, int], int, set[str]]:
    """The turn and character counts of a conversation (``turn_count``, ``user_turns``,
    ``assistant_turns``, ``user_chars``), its characters in all, and the flags they raise."""
    flags: set[str] = set()
    total_chars = 0
    turn_count = user_turns = assistant_turns = user_chars = 0
    for message in messages:
        content = message.content
        if message.role not in ROLES:
            flags.add("unknown_role")
        if has_text(content):
            turn_count += 1
            if message.role == "user":
                user_turns += 1
            elif message.role == "assistant":
                assistant_turns += 1
        if message.role == "user":
            user_chars += len(content)
        total_chars += len(content)
    if turn_count == 0:
        flags.add("empty")
    if user_turns == 0:
        flags.add("no_user_message")
    counts = {
        "turn_count": turn_count,
        "user_turns": user_turns,
        "assistant_turns": assistant_turns,
        "user_chars": user_chars,
    }
    return counts, total_chars, flags


def _visible_texts(messages: Sequence[Message], max_chars: int) -> tuple[list[str], list[str]]:
    """What is read, at most ``max_chars`` characters in all: the users' messages in order
    (they are what is summarised), then the other messages in order (only searched for code)
    with what is left."""
    budget = max_chars
    user_texts: list[str] = []
    for message in messages:
        if budget <= 0:
            break
        if message.role == "user" and has_text(message.content):
            visible = message.content[:budget]
            budget -= len(visible)
            if has_text(visible):
                user_texts.append(visible)
    other_texts: list[str] = []
    for message in messages:
        if budget <= 0:
            break
        if message.role != "user" and has_text(message.content):
            visible = message.content[:budget]
            budget -= len(visible)
            other_texts.append(visible)
    return user_texts, other_texts


def _redacted(texts: Sequence[str], flags: set[str]) -> list[str]:
    """The texts with personal data redacted; flags ``contains_pii`` where there was some."""
    redacted: list[str] = []
    for text in texts:
        clean, counts = redact_with_counts(text)
        if any(counts.values()):
            flags.add("contains_pii")
        redacted.append(clean)
    return redacted


def _no_request(turns: Sequence[_Turn], flags: set[str]) -> dict[str, Any]:
    """The facets of a conversation whose user turns say nothing: pasted code, or a greeting
    (flagged ``greeting_only``)."""
    pasted = next((t.split for t in turns if t.split.has_code), None)
    if pasted is not None:  # code without a word about it
        request = pasted.marker()
        error = pasted.error_line()
        if error:
            request = f"{request} {shorten(error, 160)}"
        what = f"{pasted.languages[0]} code" if pasted.languages else "code"
        return {
            "request": redact(request),
            "summary": f"The user pastes {what} without a question.",
            "task": None,
        }
    flags.add("greeting_only")
    texts = [" ".join(t.split.prose.split()) for t in turns]
    summary = NO_REQUEST_GREETING if any(map(has_words, texts)) else NO_REQUEST_NO_WORDS
    return {"request": None, "summary": summary, "task": None}


def _task(request_sentences: Sequence[str], english: bool, main_code: str | None) -> str | None:
    """The task: in English, from the first of the request's first three sentences that names
    one, else its key phrases; in another language, its key phrases in that language."""
    task = None
    if english:
        for sentence in request_sentences[:3]:
            task = english_task(sentence)
            if task:
                break
    elif main_code:
        task = keyphrase_task(" ".join(request_sentences), main_code)
    if task:
        task = shorten(task, 100)
    return task


_DETAIL_FIELDS = ("request", "summary", "task")


def _without_details(records: list[SummaryRecord]) -> list[SummaryRecord]:
    """The records with the names, street addresses and account numbers presidio finds in
    their request, summary and task replaced by markers ([NAME], [ADDRESS], [ACCOUNT])."""
    try:
        from kura_dbt.audit.offline import analyzer, redact_details

        analyzer()
    except ImportError as exc:
        raise ImportError(
            f"{exc}; or set var kura__summary_redact_details: false (the patterns for e-mails, "
            "phones, cards and IPs only)"
        ) from exc
    places = [(i, f) for i, r in enumerate(records) for f in _DETAIL_FIELDS if getattr(r, f)]
    texts = redact_details([getattr(records[i], f) for i, f in places])
    changes: dict[int, dict[str, str]] = {}
    for (i, field), text in zip(places, texts, strict=True):
        changes.setdefault(i, {})[field] = text
    return [r.model_copy(update=changes[i]) if i in changes else r for i, r in enumerate(records)]
