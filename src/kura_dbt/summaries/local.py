"""The offline local summariser: honest, deterministic, extractive.

``LocalSummariser`` does not judge or invent anything; it extracts:

* ``request``: the user's first substantive message (greetings and pleasantries removed),
  cut to its first sentence(s), at most ``max_request_chars`` characters, in the user's words.
* ``summary``: one or two sentences built from those words in the third person
  ("The user needs to find a bus to Sacramento on March 3rd."; "The user asks the assistant
  to write an outline about ..."; "The user asks: How can they ...?"), plus the follow-up
  request that brings the most new words, if there is one ("Follow-up: ...").
* ``task``: a short phrase from the user's words: the leading imperative or wanted action
  ("find a bus to Sacramento"), "how to ..." for how-to questions, "answer a question about
  <key phrases>" for other questions, or the key phrases alone; ``None`` when nothing is left.
* ``languages``: the human language(s) of the user's messages (English names, e.g.
  "English", "Spanish"; :mod:`kura_dbt.summaries.language`) and the programming languages
  seen in fenced code blocks or strong syntax cues in any message (lower-case ids, e.g.
  "python", "c++", "sql"; :mod:`kura_dbt.summaries.code`).
* ``concerning_score``, ``user_frustration``, ``assistant_errors``: always ``None``; a local
  extractor cannot judge them honestly.

Every text field goes through :func:`kura_dbt.redact.redact` (e-mails, phones, cards, IPs).
Person names are NOT removed (that needs a named-entity model).

Conversations without user text get a record with ``summary``, ``request`` and ``task`` set to
``None`` and flags saying why (``empty``, ``no_user_message``); nothing raises. Whitespace and
invisible characters (zero-width spaces and joiners, a BOM) are no text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kura_dbt.redact import redact, redact_with_counts
from kura_dbt.summaries.code import CODE_FENCE_ANY, detect_programming_languages
from kura_dbt.summaries.english import (
    EN_STOP,
    english_task,
    is_request,
    key_phrases,
    strip_please,
    summary_sentence,
    third_person,
    tokenise,
    word_stem,
)
from kura_dbt.summaries.language import LATIN_STOPWORDS, human_languages
from kura_dbt.summaries.schema import FLAGS, ROLES, Message, SummaryRecord
from kura_dbt.summaries.text import (
    DISCOURSE,
    SPACES,
    capitalise,
    clean_message,
    end_sentence,
    has_text,
    is_pleasantry,
    looks_like_injection,
    select_request,
    shorten,
    split_sentences,
    words,
)

__all__ = ["LocalSummariser"]


class LocalSummariser:
    """Offline, deterministic, extractive summariser: no model, no network, no randomness.

    ``max_chars`` bounds the work per conversation: only the first ``max_chars`` characters of
    the transcript (all messages' text, in order) are read; a longer one is flagged
    ``truncated``. ``max_request_chars`` bounds ``request``; ``max_summary_chars`` bounds
    ``summary``.
    """

    name = "local"
    model = "kura-local-extractive"
    # Change whenever the extraction logic changes: stored summaries with another version
    # are recomputed.
    prompt_version = "local-v1"

    def __init__(
        self,
        max_chars: int = 20_000,
        max_request_chars: int = 200,
        max_summary_chars: int = 400,
    ) -> None:
        if max_chars < 1 or max_request_chars < 20 or max_summary_chars < 40:
            raise ValueError("max_chars >= 1, max_request_chars >= 20, max_summary_chars >= 40")
        self.max_chars = int(max_chars)
        self.max_request_chars = int(max_request_chars)
        self.max_summary_chars = int(max_summary_chars)

    # ------------------------------------------------------------------ public

    def summarise(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        conversation_id: str | None = None,
    ) -> SummaryRecord:
        """The record of one conversation. Never raises for bad content: a failure becomes a
        record with ``error`` set and the flag ``error``."""
        base = {
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
        """Records for ``(conversation_id, messages)`` pairs, in order, one at a time."""
        return [self.summarise(messages, conversation_id=cid) for cid, messages in conversations]

    # ------------------------------------------------------------------ work

    def _summarise(self, messages: list[Message]) -> dict[str, Any]:
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
        if total_chars > self.max_chars:
            flags.add("truncated")
        if turn_count == 0:
            flags.add("empty")
        if user_turns == 0:
            flags.add("no_user_message")

        # What is read, at most max_chars characters in all: the users' messages in order
        # (they are what is summarised), then the other messages in order (only searched for
        # code) with what is left.
        budget = self.max_chars
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
        visible_all = user_texts + other_texts
        if any(looks_like_injection(text) for text in user_texts):
            flags.add("possible_prompt_injection")

        programming = detect_programming_languages("\n".join(visible_all))
        result: dict[str, Any] = {
            "turn_count": turn_count,
            "user_turns": user_turns,
            "assistant_turns": assistant_turns,
            "user_chars": user_chars,
            "languages": programming,
        }
        if not user_texts:
            result["flags"] = _ordered(flags)
            return result

        human = human_languages(
            [CODE_FENCE_ANY.sub(" ", t) if "```" in t else t for t in user_texts]
        )
        if human and human[0] != "English":
            flags.add("non_english")
        result["languages"] = human + [p for p in programming if p not in human]

        redacted: list[str] = []
        for text in user_texts:
            clean, counts = redact_with_counts(text)
            if any(counts.values()):
                flags.add("contains_pii")
            redacted.append(clean)
        facets = self._facets(redacted, main_language=human[0] if human else None, flags=flags)
        result.update(facets)
        result["flags"] = _ordered(flags)
        return result

    def _facets(
        self, user_texts: list[str], main_language: str | None, flags: set[str]
    ) -> dict[str, Any]:
        cleaned = [clean_message(text) for text in user_texts]
        substantive = [
            i
            for i, text in enumerate(cleaned)
            if text and not all(is_pleasantry(s) for s in text.split("\n"))
        ]
        if not substantive:
            first = next((t for t in user_texts if t.strip()), "")
            plain = SPACES.sub(" ", first.replace("\n", " ")).strip()
            if CODE_FENCE_ANY.sub("", first).strip() == "" and plain:
                # the user sent only code
                request = "[code]"
                summary = "The user shares code without other text."
            else:
                flags.add("greeting_only")
                request = shorten(plain, self.max_request_chars)
                summary = f"The user only writes: {request}"
            return {
                "request": redact(request),
                "summary": redact(shorten(summary, self.max_summary_chars)),
                "task": None,
            }

        first_index = substantive[0]
        sentences = cleaned[first_index].split("\n")
        request = select_request(sentences, self.max_request_chars)
        english = main_language in (None, "English")

        summary = summary_sentence(request) if english else f"The user asks: {request}"
        summary = end_sentence(summary)
        follow_up = self._follow_up(cleaned, substantive[1:], request, english)
        if follow_up:
            summary = f"{summary} Follow-up: {end_sentence(follow_up)}"
        summary = shorten(summary, self.max_summary_chars)

        task = None
        request_sentences = split_sentences(request.rstrip("…"))
        if english:
            for sentence in request_sentences[:3]:
                task = english_task(sentence)
                if task:
                    break
            if not task:
                phrases = key_phrases(tokenise(" ".join(request_sentences)), EN_STOP)
                task = ", ".join(phrases) if phrases else None
        elif main_language in LATIN_STOPWORDS:
            # key phrases in the user's language; without a stop-word list (other scripts)
            # no honest phrase can be cut out, and the task stays None
            stop = LATIN_STOPWORDS[main_language]
            phrases = key_phrases(tokenise(" ".join(request_sentences)), stop)
            task = ", ".join(phrases) if phrases else None
        if task:
            task = shorten(task, 100)
        return {
            "request": redact(request),
            "summary": redact(summary),
            "task": redact(task) if task else None,
        }

    def _follow_up(
        self, cleaned: list[str], indices: list[int], request: str, english: bool
    ) -> str | None:
        """The later user sentence, not a pleasantry, that brings the most words not already
        in the request (at least two), a question or request counting two more; the earliest
        wins a tie."""
        seen = {word_stem(w) for w in words(request) if w not in EN_STOP}
        best: tuple[int, str] | None = None
        for i in indices:
            for sentence in cleaned[i].split("\n"):
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
        text = capitalise(best[1])
        if english:
            text = capitalise(strip_please(third_person(text)))
        return shorten(text, 160)


def _ordered(flags: set[str]) -> list[str]:
    known = [f for f in FLAGS if f in flags]
    return known + sorted(flags - set(FLAGS))
