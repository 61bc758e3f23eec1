"""Generic files: JSON Lines (or a JSON list of objects), CSV / TSV, and data sets saved to disk in
the Hugging Face ``datasets`` formats (Parquet, Arrow IPC stream or file / Feather, JSON Lines,
including a ``save_to_disk`` folder of ``*.arrow`` files). Read with pyarrow; the ``datasets``
package is not needed.

Two shapes, chosen per file:

* **one row per message**: a conversation id, a role and a content column (plus, optionally, a
  message index, a created-at and a user id column). Without an index column messages are numbered
  in file order within each conversation.
* **one row per conversation** with a list of messages (``--messages-column``, or a list column
  named ``messages``, ``conversations``, ``conversation``, ``turns``, ``dialogue`` or ``chat``).
  Each message is an object; ``--role-column`` / ``--content-column`` / ``--created-at-column`` then
  name its keys (defaults: role/from/speaker/sender/author and content/text/value/message). A
  row without a conversation id column gets a stable id derived from its messages, so loading it
  again gives the same id.

Content may be a string or a list of content blocks (``{"type": "text", "text": ...}``), rendered
as for Claude exports.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from .claude import render_blocks
from .core import (
    Collector,
    Conversation,
    LoadError,
    Message,
    blank_detail,
    json_error_text,
    json_loads,
    required_field,
    stable_id,
    timestamp_or_fix,
)
from .message_rules import is_blank

CANDIDATES = {
    "conversation_id": (
        "conversation_id",
        "conversation",
        "conversation_uuid",
        "chat_id",
        "thread_id",
        "session_id",
        "dialogue_id",
        "dialog_id",
        "message_tree_id",
    ),
    "role": ("role", "sender", "speaker", "author", "from"),
    "content": ("content", "text", "message", "body", "value"),
    "message_index": (
        "message_index",
        "index",
        "turn",
        "turn_index",
        "position",
        "seq",
        "sequence",
        "message_order",
    ),
    "created_at": ("created_at", "timestamp", "create_time", "created", "time", "date"),
    "user_id": ("user_id", "user", "account_id", "customer_id"),
    "messages": ("messages", "conversations", "conversation", "turns", "dialogue", "chat"),
}
# one conversation per row: ids are also looked for under these names, and then in any column
# named *_id whose value is present and different in every row (MT-bench's question_id)
ROW_ID_CANDIDATES = CANDIDATES["conversation_id"] + ("id", "uuid", "conversation_hash")

OPTION = {
    "conversation_id": "--conversation-id-column",
    "role": "--role-column",
    "content": "--content-column",
    "message_index": "--message-index-column",
    "created_at": "--created-at-column",
    "user_id": "--user-id-column",
    "messages": "--messages-column",
}


@dataclass
class ColumnMap:
    """Column names given on the command line (None: found from the usual names)."""

    conversation_id: str | None = None
    role: str | None = None
    content: str | None = None
    message_index: str | None = None
    created_at: str | None = None
    user_id: str | None = None
    messages: str | None = None


@dataclass
class Bad:
    """A record that could not be parsed into an object."""

    reason: str
    detail: str | None
    raw: Any


# --------------------------------------------------------------------------------------------
# reading rows


def read_json_rows(text: str, path_label: str) -> list[tuple[str, Any]]:
    """JSON Lines, or one JSON list of objects."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json_loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, list):
            return [
                (
                    f"record #{i}",
                    row
                    if isinstance(row, dict)
                    else Bad("not an object", f"a JSON {type(row).__name__}", row),
                )
                for i, row in enumerate(whole)
            ]
    rows: list[tuple[str, Any]] = []
    good = 0
    first_error: str | None = None
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json_loads(line)
        except json.JSONDecodeError as exc:
            detail = json_error_text(exc, "column")
            first_error = first_error or f"line {lineno}: {detail}"
            rows.append((f"line {lineno}", Bad("malformed JSON", detail, line)))
            continue
        if isinstance(value, dict):
            good += 1
            rows.append((f"line {lineno}", value))
        else:
            rows.append(
                (f"line {lineno}", Bad("not an object", f"a JSON {type(value).__name__}", line))
            )
    if rows and good == 0:
        raise LoadError(
            f"{path_label}: not JSON Lines: no line holds a JSON object "
            f"({first_error or 'lines are JSON but not objects'})"
        )
    return rows


def read_csv_rows(
    text: str, path_label: str, delimiter: str | None = None
) -> list[tuple[str, Any]]:
    """The rows of a CSV file with a header, by line. Quoting is read strictly: a record whose
    quotes are malformed (a quote never closed swallows every line after it) is a ``Bad`` record
    at its first line, and reading goes on from the line after it, so no row is lost in it."""
    csv.field_size_limit(sys.maxsize)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
    lines = io.StringIO(text, newline="").readlines()
    try:
        header = next(csv.reader(lines[:1], delimiter=delimiter, strict=True), None)
    except csv.Error as exc:
        raise LoadError(f"{path_label}: not readable as CSV at line 1: {exc}") from exc
    if not header or not any(h.strip() for h in header):
        raise LoadError(f"{path_label}: not a CSV file with a header row (line 1 is empty)")
    header = [h.strip() for h in header]
    rows: list[tuple[str, Any]] = []
    position = 1  # index in ``lines`` of the next record's first line
    while position < len(lines):
        reader = csv.reader(islice(lines, position, None), delimiter=delimiter, strict=True)
        start = 0
        try:
            for values in reader:
                rows += _csv_row(header, values, f"line {position + start + 1}", delimiter)
                start = reader.line_num
            break
        except csv.Error as exc:
            bad = position + start  # the record's first line
            spans = reader.line_num - start
            detail = f"{exc}" + (
                f" (the record runs over {spans} lines to line {bad + spans}; only line "
                f"{bad + 1} is rejected and reading goes on after it)"
                if spans > 1
                else ""
            )
            rows.append((f"line {bad + 1}", Bad("malformed CSV quoting", detail, lines[bad])))
            position = bad + 1
    return rows


def _csv_row(
    header: list[str], values: list[str], label: str, delimiter: str
) -> list[tuple[str, Any]]:
    if not values or all(not v.strip() for v in values):
        return []
    if len(values) != len(header):
        detail = f"{len(values)} fields, the header has {len(header)}"
        return [(label, Bad("wrong number of fields", detail, delimiter.join(values)))]
    return [(label, dict(zip(header, values, strict=True)))]


def _arrow_table(path: Path, path_label: str):
    import pyarrow as pa
    from pyarrow import ipc

    errors = []
    for opener in (ipc.open_file, ipc.open_stream):
        try:
            with pa.memory_map(str(path), "r") as source:
                return opener(source).read_all()
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            errors.append(str(exc))
    raise LoadError(f"{path_label}: not an Arrow IPC (file or stream) file: {errors[-1]}")


def _parquet_table(path: Path, path_label: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise LoadError(f"{path_label}: not a Parquet file: {exc}") from exc


def read_table_rows(path: Path, fmt: str, path_label: str) -> list[tuple[str, Any]]:
    """The rows of a Parquet or Arrow file; when the file is damaged (offsets out of bounds,
    text that is not UTF-8, which Arrow does not check on reading) row by row, each damaged
    row a :class:`Bad` record kept in the rejects with the reason."""
    table = _parquet_table(path, path_label) if fmt == "parquet" else _arrow_table(path, path_label)
    if _valid(table) is None:
        return [(f"row {i}", row) for i, row in enumerate(table.to_pylist())]
    rows: list[tuple[str, Any]] = []
    for i in range(table.num_rows):
        row = table.slice(i, 1)
        problem = _valid(row)
        if problem is None:
            rows.append((f"row {i}", row.to_pylist()[0]))
        else:
            rows.append((f"row {i}", Bad("damaged row", problem, None)))
    return rows


def _valid(table: Any) -> str | None:
    """None when every value of ``table`` is well formed, else what is wrong."""
    import pyarrow as pa

    try:
        table.validate(full=True)
    except (pa.ArrowException, ValueError) as exc:
        return f"the file's data is not valid: {exc}"
    return None


def hf_files(folder: Path) -> tuple[str, list[Path]]:
    """The data files of a data set saved with ``save_to_disk``, ``to_parquet`` or ``to_json``."""
    for fmt, patterns in (
        ("arrow", ("*.arrow",)),
        ("parquet", ("*.parquet",)),
        ("jsonl", ("*.jsonl", "*.ndjson")),
    ):
        files = sorted(
            p
            for pattern in patterns
            for p in folder.rglob(pattern)
            if not p.name.startswith("cache-")
        )
        if files:
            return fmt, files
    json_files = sorted(
        p
        for p in folder.rglob("*.json")
        if p.name not in ("dataset_info.json", "state.json", "dataset_dict.json")
    )
    if json_files:
        return "jsonl", json_files
    raise LoadError(f"{folder}: no data set files (*.arrow, *.parquet, *.jsonl) in this folder")


# --------------------------------------------------------------------------------------------
# rows to conversations


def _keys(rows: list[tuple[str, Any]], limit: int = 2000) -> list[str]:
    keys: dict[str, None] = {}
    for _, row in rows[:limit]:
        if isinstance(row, dict):
            for k in row:
                keys.setdefault(k, None)
    return list(keys)


def _resolve(
    name: str,
    given: str | None,
    keys: list[str],
    path_label: str,
    required: bool,
    candidates: tuple[str, ...] | None = None,
) -> str | None:
    if given is not None:
        if given not in keys:
            raise LoadError(
                f"{path_label}: no column {given!r} ({OPTION[name]}); "
                f"its columns are {', '.join(map(repr, keys)) or 'none'}"
            )
        return given
    lowered = {k.lower(): k for k in keys}
    for candidate in candidates or CANDIDATES[name]:
        if candidate in lowered:
            return lowered[candidate]
    if required:
        raise LoadError(
            f"{path_label}: no {name} column (looked for "
            f"{', '.join(candidates or CANDIDATES[name])}); pass {OPTION[name]}; "
            f"its columns are {', '.join(map(repr, keys)) or 'none'}"
        )
    return None


def _required(name: str, given: str | None, keys: list[str], path_label: str) -> str:
    """The column for `name`; LoadError when the file has none."""
    column = _resolve(name, given, keys, path_label, True)
    assert column is not None  # _resolve raises for a required column it does not find
    return column


def _as_list(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json_loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _messages_column(
    rows: list[tuple[str, Any]], given: str | None, keys: list[str], path_label: str
) -> str | None:
    if given is not None:
        return _resolve("messages", given, keys, path_label, required=True)
    lowered = {k.lower(): k for k in keys}
    for candidate in CANDIDATES["messages"]:
        key = lowered.get(candidate)
        if key is None:
            continue
        for _, row in rows[:200]:
            if isinstance(row, dict) and isinstance(_as_list(row.get(key)), list):
                return key
    return None


def _text(value: Any, collector: Collector) -> str | None:
    """Message text from a string, a list of content blocks or an object with text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    value = _as_list(value)
    if isinstance(value, list):
        pieces, _ = render_blocks(value, collector, prefix="content blocks")
        return "\n\n".join(p for p in pieces if not is_blank(p))
    if isinstance(value, dict):
        text = value.get("text") or value.get("content")
        return text if isinstance(text, str) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _index(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def _str_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def parse_rows(
    rows: list[tuple[str, Any]],
    collector: Collector,
    columns: ColumnMap,
    path_label: str,
    default_user_id: str | None = None,
) -> None:
    keys = _keys(rows)
    messages_key = _messages_column(rows, columns.messages, keys, path_label)
    collector.start(len(rows))
    if messages_key is not None:
        _conversation_per_row(
            rows, collector, columns, keys, messages_key, path_label, default_user_id
        )
    else:
        _message_per_row(rows, collector, columns, keys, path_label, default_user_id)


@dataclass(frozen=True)
class _RowColumns:
    """The columns of a message-per-row file, as resolved against its keys."""

    conversation_id: str
    role: str
    content: str
    message_index: str | None
    created_at: str | None
    user_id: str | None


def _message_per_row(
    rows,
    collector: Collector,
    columns: ColumnMap,
    keys: list[str],
    path_label: str,
    default_user_id: str | None,
) -> None:
    cols = _RowColumns(
        conversation_id=_required("conversation_id", columns.conversation_id, keys, path_label),
        role=_required("role", columns.role, keys, path_label),
        content=_required("content", columns.content, keys, path_label),
        message_index=_resolve("message_index", columns.message_index, keys, path_label, False),
        created_at=_resolve("created_at", columns.created_at, keys, path_label, False),
        user_id=_resolve("user_id", columns.user_id, keys, path_label, False),
    )
    _note_columns(
        collector,
        conversation_id=cols.conversation_id,
        role=cols.role,
        content=cols.content,
        message_index=cols.message_index or "(file order)",
        created_at=cols.created_at,
        user_id=cols.user_id,
    )
    drafts: dict[str, Conversation] = {}
    kept: dict[tuple[str, int], tuple[Message, str]] = {}
    appearance: dict[str, int] = {}
    for label, row in rows:
        collector.advance()
        collector.message_read()
        if isinstance(row, Bad):
            collector.message_rejected(label, row.reason, detail=row.detail, raw_excerpt=row.raw)
            continue
        cid = _str_or_none(row.get(cols.conversation_id))
        if cid is None:
            collector.message_rejected(
                label, "missing conversation id", field=cols.conversation_id, raw_excerpt=row
            )
            continue
        position = appearance.get(cid, 0)
        appearance[cid] = position + 1
        conv = drafts.get(cid)
        if conv is None:
            conv = drafts[cid] = Conversation(conversation_id=cid)
        conv.raw_message_count += 1
        message = _row_message(row, label, cid, position, cols, collector)
        if message is None or not _keep_once(kept, cid, message, label, row, cols, collector):
            continue
        conv.messages.append(message)
        if cols.user_id and conv.user_id is None:
            conv.user_id = _str_or_none(row.get(cols.user_id))
    for cid, conv in drafts.items():
        conv.messages.sort(key=lambda m: m.message_index)
        conv.user_id = conv.user_id or default_user_id
        stamps = [m.created_at for m in conv.messages if m.created_at is not None]
        conv.created_at = min(stamps) if stamps else None
        collector.finish_conversation(conv, f"conversation {cid}")


def _row_message(
    row: dict[str, Any],
    label: str,
    cid: str,
    position: int,
    cols: _RowColumns,
    collector: Collector,
) -> Message | None:
    """The message of one row (its index, or its place in the conversation's rows when the
    file has no index column); None, with the row rejected or skipped, when it has none."""
    where: dict[str, Any] = {"conversation_id": cid}
    if cols.message_index is not None:
        index = _index(row.get(cols.message_index))
        if index is None:
            raw_index = row.get(cols.message_index)
            reason = "missing field" if raw_index in (None, "") else "invalid message index"
            collector.message_rejected(
                label, reason, field=cols.message_index, raw_excerpt=row, **where
            )
            return None
    else:
        index = position
    where["message_index"] = index
    raw_role = row.get(cols.role)
    role = collector.role(raw_role)
    if role is None:
        reason = "missing field" if raw_role in (None, "") else "unknown role"
        collector.message_rejected(
            label,
            reason,
            field=cols.role,
            raw_excerpt=row,
            detail=None if raw_role in (None, "") else f"role {raw_role!r}",
            **where,
        )
        return None
    text = _text(row.get(cols.content), collector)
    if text is None:
        reason = "missing field" if row.get(cols.content) is None else "wrong type"
        collector.message_rejected(label, reason, field=cols.content, raw_excerpt=row, **where)
        return None
    if is_blank(text):
        collector.message_skipped(
            label,
            "no text",
            field=cols.content,
            detail=blank_detail(text),
            raw_excerpt=row,
            **where,
        )
        return None
    created = (
        timestamp_or_fix(row.get(cols.created_at), collector, label, cols.created_at, **where)
        if cols.created_at
        else None
    )
    return Message(index, role, text, created, None)


def _keep_once(
    kept: dict[tuple[str, int], tuple[Message, str]],
    cid: str,
    message: Message,
    label: str,
    row: dict[str, Any],
    cols: _RowColumns,
    collector: Collector,
) -> bool:
    """Whether the message is the first with its index in its conversation; a later one is
    skipped when it repeats the first exactly and rejected when it differs."""
    index = message.message_index
    previous = kept.get((cid, index))
    if previous is None:
        kept[(cid, index)] = (message, label)
        return True
    where: dict[str, Any] = {"conversation_id": cid, "message_index": index}
    first, first_label = previous
    same = (first.role, first.content, first.created_at) == (
        message.role,
        message.content,
        message.created_at,
    )
    if same:
        collector.message_skipped(
            label,
            "exact duplicate message",
            field=cols.message_index,
            detail=f"same as {first_label}",
            **where,
        )
    else:
        collector.message_rejected(
            label,
            "duplicate message index",
            field=cols.message_index,
            detail=f"{first_label} has this index and is kept",
            raw_excerpt=row,
            **where,
        )
    return False


def _conversation_per_row(
    rows,
    collector: Collector,
    columns: ColumnMap,
    keys: list[str],
    messages_key: str,
    path_label: str,
    default_user_id: str | None,
) -> None:
    cid_col = _resolve(
        "conversation_id", columns.conversation_id, keys, path_label, False, ROW_ID_CANDIDATES
    )
    created_col = _resolve("created_at", None, keys, path_label, False)
    user_col = _resolve("user_id", columns.user_id, keys, path_label, False)
    if cid_col is None:
        cid_col = _guess_id_column(rows, keys, {messages_key, user_col}, collector)
    first = _first_message(rows, messages_key)
    _note_columns(
        collector,
        conversation_id=cid_col or "generated",
        messages=messages_key,
        role=columns.role or _pick(first, None, "role")[0],
        content=columns.content or _pick(first, None, "content")[0],
        created_at=created_col,
        user_id=user_col,
    )
    for label, row in rows:
        collector.advance()
        if isinstance(row, Bad):
            collector.reject_conversation(label, row.reason, detail=row.detail, raw_excerpt=row.raw)
            continue
        messages = _as_list(row.get(messages_key))
        n_raw = len(messages) if isinstance(messages, list) else 0
        cid = _row_id(row, label, cid_col, messages, n_raw, collector)
        if cid is None:
            continue
        record = f"{label} (conversation {cid})"
        if not required_field(
            messages, list, messages_key, row, record, cid, collector, "a list of messages"
        ):
            continue
        conv = Conversation(conversation_id=cid, raw_message_count=n_raw)
        if user_col:
            conv.user_id = _str_or_none(row.get(user_col))
        conv.user_id = conv.user_id or default_user_id
        if created_col:
            conv.created_at = timestamp_or_fix(
                row.get(created_col), collector, record, created_col, conversation_id=cid
            )
        collector.message_read(n_raw)
        for index, item in enumerate(messages):
            message = _inner_message(item, index, record, cid, columns, collector)
            if message is not None:
                conv.messages.append(message)
        if conv.created_at is None:
            stamps = [m.created_at for m in conv.messages if m.created_at is not None]
            conv.created_at = min(stamps) if stamps else None
        collector.finish_conversation(conv, record)


def _guess_id_column(
    rows: list[tuple[str, Any]], keys: list[str], exclude: set[str | None], collector: Collector
) -> str | None:
    """With no usual id column: a *_id column with a different value in every row, or None
    (ids generated from the messages); either way a column note says which."""
    cid_col = _distinct_id_column(rows, keys, exclude=exclude)
    if cid_col is not None:
        collector.column_notes.append(
            f"conversation ids are the column {cid_col!r}: no usual id column, and it is "
            f"named *_id with a different value in every row; choose another with "
            f"{OPTION['conversation_id']}"
        )
    else:
        collector.column_notes.append(
            f"conversation ids are generated from each row's messages (sha1:...): no id "
            f"column (looked for {', '.join(ROW_ID_CANDIDATES)}, and for a *_id column with "
            f"a different value in every row); name one with {OPTION['conversation_id']}"
        )
    return cid_col


def _row_id(
    row: dict[str, Any],
    label: str,
    cid_col: str | None,
    messages: Any,
    n_raw: int,
    collector: Collector,
) -> str | None:
    """The row's conversation id (generated from its messages when the file has no id
    column); None, with the row rejected, when its id is missing."""
    if cid_col is None:
        return stable_id(messages)
    cid = _str_or_none(row.get(cid_col))
    if cid is None:
        collector.reject_conversation(
            label, "missing conversation id", field=cid_col, n_messages=n_raw, raw_excerpt=row
        )
    return cid


def _note_columns(collector: Collector, **used: str | None) -> None:
    """Record which column (or key inside each message) was used for what."""
    collector.columns.update({name: column for name, column in used.items() if column})


def _distinct_id_column(
    rows: list[tuple[str, Any]], keys: list[str], exclude: set[str | None]
) -> str | None:
    """The first column named ``*_id`` (not a user id) whose value is a present scalar, different
    in every row: the row's id under another name (MT-bench's ``question_id``). A column whose
    values repeat (several answers to one question) is not an id."""
    user_names = set(CANDIDATES["user_id"])
    for key in keys:
        if key in exclude or key.lower() in user_names or not key.lower().endswith("_id"):
            continue
        seen: set[str] = set()
        for _, row in rows:
            if not isinstance(row, dict):
                continue
            value = row.get(key)
            scalar = isinstance(value, (str, int, float)) and not isinstance(value, bool)
            value = _str_or_none(value) if scalar else None
            if value is None or value in seen:
                break
            seen.add(value)
        else:
            if seen:
                return key
    return None


def _first_message(rows: list[tuple[str, Any]], messages_key: str) -> dict[str, Any]:
    """The first message object in the messages column (for the keys it uses), or {}."""
    for _, row in rows[:200]:
        messages = _as_list(row.get(messages_key)) if isinstance(row, dict) else None
        if isinstance(messages, list):
            for item in messages:
                if isinstance(item, dict):
                    return item
    return {}


def _pick(item: dict[str, Any], given: str | None, name: str) -> tuple[str | None, Any]:
    if given is not None:
        return given, item.get(given)
    lowered = {k.lower(): k for k in item}
    for candidate in CANDIDATES[name]:
        if candidate in lowered:
            return lowered[candidate], item[lowered[candidate]]
    return None, None


def _inner_message(
    item: Any, index: int, record: str, cid: str, columns: ColumnMap, collector: Collector
) -> Message | None:
    label = f"{record} message {index}"
    where = {"conversation_id": cid, "message_index": index}
    if not isinstance(item, dict):
        collector.message_rejected(label, "not an object", raw_excerpt=item, **where)
        return None
    role_key, raw_role = _pick(item, columns.role, "role")
    role = collector.role(raw_role)
    if role is None:
        reason = "missing field" if raw_role in (None, "") else "unknown role"
        collector.message_rejected(
            label, reason, field=role_key or columns.role or "role", raw_excerpt=item, **where
        )
        return None
    content_key, raw_content = _pick(item, columns.content, "content")
    text = _text(raw_content, collector)
    if text is None:
        reason = "missing field" if raw_content is None else "wrong type"
        collector.message_rejected(
            label,
            reason,
            field=content_key or columns.content or "content",
            raw_excerpt=item,
            **where,
        )
        return None
    if is_blank(text):
        collector.message_skipped(
            label,
            "no text",
            field=content_key,
            detail=blank_detail(text),
            raw_excerpt=item,
            **where,
        )
        return None
    created_key, raw_created = _pick(item, columns.created_at, "created_at")
    created = (
        timestamp_or_fix(raw_created, collector, label, created_key, **where)
        if created_key
        else None
    )
    mid = item.get("id") or item.get("uuid")
    return Message(index, role, text, created, str(mid) if mid is not None else None)
