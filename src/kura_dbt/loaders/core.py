"""What every loader shares: the records it produces, the bookkeeping that makes the counts add up,
role and timestamp normalisation, and byte decoding that never drops a record.

Outcomes of a record (a conversation or a message read from a file):

* ``loaded``   written to ``<schema>.conversations`` / ``<schema>.messages``;
* ``skipped``  deliberately not loaded, with a reason (a branch the user abandoned, a hidden system
  message, a message with no text, an exact duplicate);
* ``rejected`` could not be used (malformed, missing or wrong fields, unknown role, a duplicate id
  with different content, a conversation with nothing usable in it).

Skipped and rejected records each get a row in ``<schema>.load_rejects`` (column ``outcome``), and
so do repairs made to loaded records (``loaded_with_fix``: invalid UTF-8 or a lone UTF-16 surrogate
replaced, an unreadable timestamp stored as NULL). For conversations and for messages:
read = loaded + skipped + rejected.

Roles and blank content follow the rules shared with the dbt package
(:mod:`kura_dbt.loaders.message_rules`).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard, TypeVar

from .message_rules import ROLE_ALIASES, is_invisible_only, normalise_role, role_aliases

EXCERPT_CHARS = 300


class LoadError(Exception):
    """The file cannot be read at all (the message names the file and what is wrong)."""


# What to do with a conversation whose id is already taken (by an earlier record of the same
# file, or by a conversation loaded from another source) and whose content differs:
# reject it (the first is kept), replace the first with it, or keep both (it gets a new id).
ON_DUPLICATE = ("reject", "replace", "keep-both")
_DUPLICATE_HINT = "pass --on-duplicate replace or keep-both to load it"


# --------------------------------------------------------------------------------------------
# records


@dataclass
class Message:
    message_index: int
    role: str
    content: str
    created_at: datetime | None = None
    source_message_id: str | None = None


@dataclass
class Conversation:
    conversation_id: str
    user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    title: str | None = None
    messages: list[Message] = field(default_factory=list)
    raw_message_count: int = 0  # messages the source record held (any outcome)

    def content_hash(self) -> str:
        payload = [
            self.user_id,
            _iso(self.created_at),
            _iso(self.updated_at),
            self.title,
            [
                [m.message_index, m.role, m.content, _iso(m.created_at), m.source_message_id]
                for m in self.messages
            ],
        ]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class Issue:
    record: str
    outcome: str  # rejected | skipped | loaded_with_fix
    reason: str  # a fixed category, so that rejects group and deduplicate
    field: str | None = None
    detail: str | None = None
    raw_excerpt: str | None = None
    conversation_id: str | None = None
    message_index: int | None = None


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    skipped: int = 0
    rejected: int = 0

    def adds_up(self) -> bool:
        return self.read == self.loaded + self.skipped + self.rejected

    def __str__(self) -> str:
        return (
            f"{self.read} read = {self.loaded} loaded + {self.skipped} skipped + "
            f"{self.rejected} rejected"
        )


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


class Collector:
    """Collects the conversations a parser builds and accounts for every record it reads."""

    def __init__(
        self,
        source: str,
        role_aliases: Mapping[str, str | None] | None = None,
        on_duplicate: str = "reject",
    ) -> None:
        if on_duplicate not in ON_DUPLICATE:
            raise ValueError(
                f"on_duplicate is one of {', '.join(ON_DUPLICATE)}, not {on_duplicate!r}"
            )
        self.source = source
        self.on_duplicate = on_duplicate
        # the shared role map, with a site's aliases (``kura load --role-alias``) merged over it
        self.role_aliases = _merged_role_aliases(role_aliases)
        # which column or key of a generic file was used for what, and how it was chosen when
        # that is worth saying (printed by `kura load`)
        self.columns: dict[str, str] = {}
        self.column_notes: list[str] = []
        self.conversations: dict[str, Conversation] = {}
        self.conversation_counts = Counts()
        self.message_counts = Counts()
        self.notes: Counter[str] = (
            Counter()
        )  # how content was transformed (markers, dropped blocks)
        self.fixes: Counter[str] = Counter()  # repairs to loaded records
        self.issues: list[Issue] = []
        self._first_record: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._copies: Counter[str] = Counter()  # records seen per id (keep-both numbering)
        # progress hooks (the CLI draws a bar): on_start(total records), on_advance(n)
        self.on_start: Callable[[int], None] | None = None
        self.on_advance: Callable[[int], None] | None = None

    def start(self, total: int) -> None:
        if self.on_start is not None:
            self.on_start(total)

    def advance(self, n: int = 1) -> None:
        if self.on_advance is not None:
            self.on_advance(n)

    def role(self, value: Any) -> str | None:
        """The pipeline's role for a source role, or None when it is unknown."""
        return normalise_role(value, self.role_aliases)

    # -- issues ------------------------------------------------------------------------------
    def issue(self, record: str, outcome: str, reason: str, **kwargs: Any) -> None:
        if "raw_excerpt" in kwargs:
            kwargs["raw_excerpt"] = excerpt(kwargs["raw_excerpt"])
        self.issues.append(Issue(record=record, outcome=outcome, reason=reason, **kwargs))

    def fix(self, record: str, reason: str, **kwargs: Any) -> None:
        self.fixes[reason] += 1
        self.issue(record, "loaded_with_fix", reason, **kwargs)

    # -- messages ----------------------------------------------------------------------------
    def message_read(self, n: int = 1) -> None:
        self.message_counts.read += n

    def message_skipped(self, record: str, reason: str, **kwargs: Any) -> None:
        self.message_counts.skipped += 1
        self.issue(record, "skipped", reason, **kwargs)

    def message_rejected(self, record: str, reason: str, **kwargs: Any) -> None:
        self.message_counts.rejected += 1
        self.issue(record, "rejected", reason, **kwargs)

    # -- conversations -----------------------------------------------------------------------
    def reject_conversation(
        self, record: str, reason: str, *, n_messages: int = 0, **kwargs: Any
    ) -> None:
        """A conversation record that is unusable before its messages are looked at: it and the
        ``n_messages`` messages it holds are read and rejected (one issue row for all)."""
        self.conversation_counts.read += 1
        self.conversation_counts.rejected += 1
        self.message_counts.read += n_messages
        self.message_counts.rejected += n_messages
        if n_messages:
            note = f"its {n_messages} messages are rejected with it"
            kwargs["detail"] = f"{kwargs['detail']}; {note}" if kwargs.get("detail") else note
        self.issue(record, "rejected", reason, **kwargs)

    def finish_conversation(self, conv: Conversation, record: str) -> bool:
        """Account for a parsed conversation whose messages were each counted as read (and as
        skipped or rejected where they were); the messages in ``conv.messages`` are pending and
        are loaded, skipped or rejected here with their conversation."""
        self.conversation_counts.read += 1
        n = len(conv.messages)
        cid = conv.conversation_id
        if n == 0:
            self.conversation_counts.rejected += 1
            reason = "empty conversation" if conv.raw_message_count == 0 else "no usable messages"
            self.issue(
                record,
                "rejected",
                reason,
                field="messages",
                conversation_id=cid,
                detail=f"{conv.raw_message_count} messages in the record, none usable",
            )
            return False
        digest = conv.content_hash()
        self._copies[cid] += 1
        if cid in self.conversations:
            first = self._first_record[cid]
            if digest == self._hashes[cid]:
                self.conversation_counts.skipped += 1
                self.message_counts.skipped += n
                self.issue(
                    record,
                    "skipped",
                    "exact duplicate conversation",
                    field="conversation_id",
                    conversation_id=cid,
                    detail=f"same content as {first}",
                )
                return False
            return self._duplicate_in_file(conv, record, first)
        self._add(conv, record, digest)
        return True

    def _add(self, conv: Conversation, record: str, digest: str | None = None) -> None:
        cid = conv.conversation_id
        self.conversations[cid] = conv
        self._first_record[cid] = record
        self._hashes[cid] = digest or conv.content_hash()
        self.conversation_counts.loaded += 1
        self.message_counts.loaded += len(conv.messages)

    def _drop(self, cid: str, outcome: str) -> Conversation:
        """Take a loaded conversation back out; it is counted as ``outcome`` instead."""
        conv = self.conversations.pop(cid)
        self._hashes.pop(cid)
        self.conversation_counts.loaded -= 1
        self.message_counts.loaded -= len(conv.messages)
        setattr(self.conversation_counts, outcome, getattr(self.conversation_counts, outcome) + 1)
        setattr(
            self.message_counts, outcome, getattr(self.message_counts, outcome) + len(conv.messages)
        )
        return conv

    def _rename(self, cid: str, new_id: str) -> None:
        conv = self.conversations.pop(cid)
        conv.conversation_id = new_id
        self.conversations[new_id] = conv
        self._hashes[new_id] = self._hashes.pop(cid)
        self._first_record[new_id] = self._first_record[cid]

    def _duplicate_in_file(self, conv: Conversation, record: str, first: str) -> bool:
        """A second record of this file with a known id and different content, by the policy."""
        cid, n = conv.conversation_id, len(conv.messages)
        kwargs: dict[str, Any] = {"field": "conversation_id", "conversation_id": cid}
        if self.on_duplicate == "replace":
            self._drop(cid, "skipped")
            self.issue(
                first,
                "skipped",
                "replaced by a later record with the same conversation_id",
                detail=f"{record} has different content and replaces it",
                **kwargs,
            )
            self._add(conv, record)
            return True
        if self.on_duplicate == "keep-both":
            conv.conversation_id = new_id = f"{cid}#{self._copies[cid]}"
            self.fix(
                record,
                "duplicate conversation_id kept under a new id",
                detail=f"different content from {first}; loaded as {new_id!r}",
                **kwargs,
            )
            self._add(conv, record)
            return True
        self.conversation_counts.rejected += 1
        self.message_counts.rejected += n
        self.issue(
            record,
            "rejected",
            "duplicate conversation_id",
            detail=f"different content from {first}, which is kept; its {n} messages are "
            f"rejected with it ({_DUPLICATE_HINT})",
            **kwargs,
        )
        return False

    def resolve_stored(
        self, stored: Mapping[str, tuple[str, str, str | None]], source: str
    ) -> list[str]:
        """Apply the duplicate policy to conversations whose id is already stored from ANOTHER
        source with different content (``stored``: id -> (content_hash, source, its text)); a newer
        export of the same source updates its conversations. Returns the ids to be replaced; the
        text they had is kept in their issue row's excerpt."""
        replaced: list[str] = []
        for cid, (digest, stored_source, old_text) in stored.items():
            conv = self.conversations.get(cid)
            if conv is None or stored_source == source or digest == self._hashes[cid]:
                continue
            record = self._first_record[cid]
            kwargs: dict[str, Any] = {"field": "conversation_id", "conversation_id": cid}
            where = f"already loaded from source {stored_source!r} with different content"
            if self.on_duplicate == "replace":
                replaced.append(cid)
                self.fix(
                    record,
                    "replaced a conversation of another source",
                    detail=f"{where}; its text was",
                    raw_excerpt=old_text,
                    **kwargs,
                )
            elif self.on_duplicate == "keep-both":
                new_id = f"{cid}@{source}"
                self.fix(
                    record,
                    "duplicate conversation_id kept under a new id",
                    detail=f"{where}; loaded as {new_id!r}",
                    **kwargs,
                )
                self._rename(cid, new_id)
            else:
                self._drop(cid, "rejected")
                self.issue(
                    record,
                    "rejected",
                    "conversation_id of another source",
                    detail=f"{where}, which is kept; its {len(conv.messages)} messages are "
                    f"rejected with it ({_DUPLICATE_HINT})",
                    **kwargs,
                )
        return replaced

    def check(self) -> None:
        """The invariant every load asserts: nothing read goes unaccounted for."""
        c, m = self.conversation_counts, self.message_counts
        assert c.adds_up(), f"conversation counts do not add up: {c}"
        assert m.adds_up(), f"message counts do not add up: {m}"
        assert c.loaded == len(self.conversations), (c.loaded, len(self.conversations))
        assert m.loaded == sum(len(x.messages) for x in self.conversations.values()), m


# --------------------------------------------------------------------------------------------
# roles and blank content: one map and one set of blank characters, shared with the dbt package
# (macros/input/message_rules.sql). ROLE_ALIASES and normalise_role are importable from here too.


def _merged_role_aliases(site: Mapping[str, str | None] | None) -> Mapping[str, str]:
    return ROLE_ALIASES if not site else role_aliases(site)


def blank_detail(text: str | None) -> str | None:
    """The detail of a message skipped for having no text: says so when invisible characters
    (zero-width spaces or joiners, a BOM) are what made it look non-empty."""
    if is_invisible_only(text):
        return "only invisible characters (zero-width spaces or joiners, BOM, NUL, ...)"
    return None


# --------------------------------------------------------------------------------------------
# timestamps

_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")
_EXTRA_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%b %d, %Y %H:%M:%S",
    "%b %d, %Y",
)


def _to_utc_naive(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _from_epoch(x: float) -> datetime:
    if not math.isfinite(x):
        raise ValueError("not a finite number")
    magnitude = abs(x)
    if magnitude < 1e11:
        seconds = x  # seconds (until the year 5138)
    elif magnitude < 1e14:
        seconds = x / 1e3  # milliseconds
    elif magnitude < 1e17:
        seconds = x / 1e6  # microseconds
    else:
        seconds = x / 1e9  # nanoseconds
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


def parse_timestamp(value: Any) -> datetime | None:
    """A timestamp in UTC (naive) from the forms exports use: ISO 8601 with or without ``Z`` or an
    offset, epoch seconds / milliseconds / microseconds / nanoseconds (numbers or numeric strings),
    ``YYYY/MM/DD HH:MM[:SS]``, RFC 2822. None and "" give None; anything else raises ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, datetime):
        return _to_utc_naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)):
        return _epoch_timestamp(float(value), value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return parse_timestamp(value.item())
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if not text:
        return None
    if _NUMERIC.match(text):
        return _epoch_timestamp(float(text), value)
    return _text_timestamp(text, value)


def _epoch_timestamp(x: float, value: Any) -> datetime:
    """Epoch seconds, milliseconds, ... as a timestamp; ValueError names `value` when out of
    range."""
    try:
        return _from_epoch(x)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"not a timestamp: {value!r}") from exc


def _text_timestamp(text: str, value: Any) -> datetime:
    """ISO 8601, the extra formats, then RFC 2822; ValueError naming `value` when none fits."""
    iso = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    iso = re.sub(r"\s*(UTC|GMT)$", "+00:00", iso)
    try:
        return _to_utc_naive(datetime.fromisoformat(iso))
    except ValueError:
        pass
    for fmt in _EXTRA_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return _to_utc_naive(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    raise ValueError(f"not a timestamp: {value!r}")


def timestamp_or_fix(
    value: Any, collector: Collector, record: str, field_name: str, **kwargs: Any
) -> datetime | None:
    """parse_timestamp, or None with a ``loaded_with_fix`` issue when the value is unreadable."""
    try:
        return parse_timestamp(value)
    except ValueError:
        collector.fix(
            record,
            "unparseable timestamp stored as NULL",
            field=field_name,
            raw_excerpt=value if isinstance(value, str) else repr(value),
            **kwargs,
        )
        return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------------------------
# bytes to text


def decode_bytes(data: bytes, collector: Collector, max_issue_rows: int = 1000) -> str:
    """UTF-8 (a BOM is dropped; UTF-16 with a BOM is understood). Invalid bytes are replaced with
    U+FFFD and recorded as ``loaded_with_fix``, one row per line (record = its line, the detail
    lists the places): the record keeps its text rather than being lost for one bad byte. Every
    replacement is counted in ``collector.fixes``; at most ``max_issue_rows`` lines get a row."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    spans: list[tuple[int, int]] = []
    _DECODE_SPANS.spans = spans
    text = data.decode("utf-8", _RECORD_AND_REPLACE)  # one pass; the handler notes each span
    reason = "invalid UTF-8 replaced with U+FFFD"
    places: list[tuple[int, int, str]] = []
    line, counted_to = 1, 0
    for start, end in spans:
        collector.fixes[reason] += 1
        line += data.count(b"\n", counted_to, start)
        counted_to = start
        places.append((line, start, f"byte offset {start}: {data[start:end]!r}"))
    _record_per_line(
        collector,
        places,
        reason,
        "bytes",
        "invalid byte sequences",
        lambda start: data[max(0, start - 60) : start + 60],
        max_issue_rows,
    )
    return text


def _record_per_line(
    collector: Collector,
    places: list[tuple[int, int, str]],
    reason: str,
    field_name: str,
    plural: str,
    context: Callable[[int], Any],
    max_issue_rows: int,
    listed: int = 5,
) -> None:
    """One ``loaded_with_fix`` row per line for repairs at ``places`` ((line, offset, what),
    in order), as ``<schema>.load_rejects`` keeps one row per (record, reason)."""
    by_line: dict[int, list[tuple[int, str]]] = {}
    for line, offset, what in places:
        if line not in by_line and len(by_line) >= max_issue_rows:
            continue
        by_line.setdefault(line, []).append((offset, what))
    for line, found in by_line.items():
        if len(found) == 1:
            detail = found[0][1]
        else:
            shown = "; ".join(what for _, what in found[:listed])
            more = f"; and {len(found) - listed} more" if len(found) > listed else ""
            detail = f"{len(found)} {plural}: {shown}{more}"
        collector.issues.append(
            Issue(
                record=f"line {line}",
                outcome="loaded_with_fix",
                reason=reason,
                field=field_name,
                detail=detail,
                raw_excerpt=excerpt(context(found[0][0])),
            )
        )


# A JSON \u escape of a UTF-16 surrogate (D800-DFFF), with the backslashes before it: the escape
# is real when their number is odd.
_SURROGATE_ESCAPE = re.compile(r"(\\+)u[dD][89a-fA-F][0-9a-fA-F]{2}")


def repair_surrogates(text: str, collector: Collector, max_issue_rows: int = 1000) -> str:
    """JSON text with every lone UTF-16 surrogate escape (half of an emoji's pair, e.g. a string
    cut after ``\\ud83d``) replaced by ``\\ufffd``, so that the parsed strings can be written as
    UTF-8. Each line with one is recorded as ``loaded_with_fix`` (like invalid UTF-8) and every
    replacement counted. Pairs (a high surrogate escape right before a low one) are kept."""
    if "\\u" not in text:
        return text
    escapes = [m for m in _SURROGATE_ESCAPE.finditer(text) if len(m.group(1)) % 2 == 1]
    if not escapes:
        return text
    lone: list[tuple[int, int]] = []  # (start, end) of each lone escape
    i = 0
    while i < len(escapes):
        m = escapes[i]
        code = int(m.group(0)[-4:], 16)
        if code < 0xDC00 and i + 1 < len(escapes):
            n = escapes[i + 1]
            if n.start() == m.end() and len(n.group(1)) == 1 and int(n.group(0)[-4:], 16) >= 0xDC00:
                i += 2  # a pair: one character
                continue
        lone.append((m.end() - 6, m.end()))
        i += 1
    if not lone:
        return text
    reason = "lone UTF-16 surrogate replaced with U+FFFD"
    pieces: list[str] = []
    places: list[tuple[int, int, str]] = []
    previous = 0
    line, counted_to, line_start = 1, 0, 0
    for start, end in lone:
        collector.fixes[reason] += 1
        newlines = text.count("\n", counted_to, start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", counted_to, start) + 1
        counted_to = start
        places.append((line, start, f"{text[start:end]} at column {start - line_start + 1}"))
        pieces += [text[previous:start], "\\ufffd"]
        previous = end
    pieces.append(text[previous:])
    _record_per_line(
        collector,
        places,
        reason,
        "string",
        "lone surrogates",
        lambda start: text[max(0, start - 60) : start + 60],
        max_issue_rows,
    )
    return "".join(pieces)


def json_error_text(exc: json.JSONDecodeError, place: str | None = "line") -> str:
    """A JSON error as one sentence: ``Expecting value at line 3, column 5`` (place ``line``),
    ``... at column 5`` (``column``: JSON Lines, the line is said elsewhere), or the message
    alone (None). Messages that end with "at" (``Unterminated string starting at``) get the
    place there, not twice, and without a place end with "here"."""
    message = exc.msg.removesuffix(" at")
    if place is None:
        return f"{message} here" if exc.msg.endswith(" at") else message
    where = f"line {exc.lineno}, column {exc.colno}" if place == "line" else f"column {exc.colno}"
    return f"{message} at {where}"


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_loads(text: str) -> Any:
    """``json.loads``, where JSON nested too deep for Python's parser (a RecursionError with
    neither line nor column) is a ``JSONDecodeError`` at the deepest point, like any other JSON
    that cannot be read."""
    try:
        return json.loads(text)
    except RecursionError:
        depth, deepest, at = 0, 0, 0
        for token in _JSON_TOKEN.finditer(text):
            char = token.group()
            if char in "[{":
                depth += 1
                if depth > deepest:
                    deepest, at = depth, token.start()
            elif char in "]}":
                depth -= 1
        raise json.JSONDecodeError(
            f"nested too deep to read ({deepest} levels)", text, at
        ) from None


# The UTF-8 decoder calls this for each invalid span: it is noted (per thread) and replaced.
_RECORD_AND_REPLACE = "kura_record_and_replace"
_DECODE_SPANS = threading.local()


def _record_and_replace(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)  # registered for decoding only
    _DECODE_SPANS.spans.append((exc.start, exc.end))
    return "\ufffd", exc.end


codecs.register_error(_RECORD_AND_REPLACE, _record_and_replace)


def stable_id(*parts: Any) -> str:
    """A deterministic id for records that have none (the same content gives the same id)."""
    payload = json.dumps(parts, ensure_ascii=False, default=str, sort_keys=True)
    return "sha1:" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]


_EXPORT_NAMES = {"chatgpt": "ChatGPT", "claude": "Claude"}
_KIND = TypeVar("_KIND")
_KIND_WORDS: dict[type, str] = {dict: "an object", list: "a list"}


def required_field(
    value: Any,
    kind: type[_KIND],
    field: str,
    raw: Any,
    record: str,
    cid: str,
    collector: Collector,
    expected: str | None = None,
) -> TypeGuard[_KIND]:
    """Whether a conversation's ``field`` (its ``value``) is there and a ``kind`` (``dict`` or
    ``list``); the conversation is rejected with the reason when it is not: a missing field
    (the whole conversation ``raw`` as the excerpt) or a wrong type (the value as the excerpt,
    ``expected`` in words: "a list" by default)."""
    if value is None:
        collector.reject_conversation(
            record, "missing field", field=field, conversation_id=cid, raw_excerpt=raw
        )
        return False
    if not isinstance(value, kind):
        collector.reject_conversation(
            record,
            "wrong type",
            field=field,
            conversation_id=cid,
            raw_excerpt=value,
            detail=f"expected {expected or _KIND_WORDS[kind]}, found {type(value).__name__}",
        )
        return False
    return True


def export_conversations(
    data: Any,
    path_label: str,
    export_name: str,
    key: str,
    looks_like: Any,
    other_key: str,
    other_format: str,
) -> list[Any]:
    """The list of conversations of an export, or a LoadError that says what the file is
    instead. ``key`` is the field every conversation of this format has (``mapping`` for
    ChatGPT, ``chat_messages`` for Claude); ``other_key`` / ``other_format`` name the other
    format, for the hint when the file is that one."""
    if isinstance(data, dict) and key in data:
        data = [data]
    if not isinstance(data, list):
        raise LoadError(
            f"{path_label}: not a {export_name} export: expected a JSON list of "
            f"conversations, found a JSON {type(data).__name__}"
        )
    if data and not looks_like(data):
        hint = (
            f" (it looks like a {_EXPORT_NAMES.get(other_format, other_format)} export: "
            f"try --format {other_format})"
            if any(isinstance(c, dict) and other_key in c for c in data[:100])
            else ""
        )
        raise LoadError(
            f"{path_label}: not a {export_name} export: no conversation has the field '{key}'{hint}"
        )
    return data


def export_records(
    data: list[Any],
    collector: Collector,
    id_of: Callable[[dict[str, Any]], Any],
    id_field: str,
    count_messages: Callable[[dict[str, Any]], int],
) -> Iterator[tuple[dict[str, Any], str, str, int]]:
    """The conversations of an export (a list of objects) that are objects with an id, as
    ``(raw, conversation_id, record, raw_message_count)``; the others are rejected with the
    reason ("not an object", "missing conversation id" naming ``id_field``). Advances the
    collector's progress by one per conversation."""
    collector.start(len(data))
    for i, raw in enumerate(data):
        collector.advance()
        record = f"conversation #{i}"
        if not isinstance(raw, dict):
            collector.reject_conversation(record, "not an object", raw_excerpt=raw)
            continue
        n_raw = count_messages(raw)
        raw_cid = id_of(raw)
        if not isinstance(raw_cid, (str, int)) or raw_cid == "":
            collector.reject_conversation(
                record,
                "missing conversation id",
                field=id_field,
                n_messages=n_raw,
                raw_excerpt=raw,
            )
            continue
        yield raw, str(raw_cid), f"conversation {raw_cid}", n_raw
