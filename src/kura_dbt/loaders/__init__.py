"""Bring your own chats: read Claude.ai and ChatGPT exports, generic JSON Lines / CSV files and data
sets saved in the Hugging Face formats (Parquet, Arrow, JSON Lines) into the tables the `kura` dbt
package reads: ``<schema>.conversations``, ``<schema>.messages`` and ``<schema>.load_rejects``.

``parse_file`` turns a file into conversations and an account of every record; ``load_file``
also writes them into a DuckDB file (idempotently). The `kura load` command wraps both.
Everything is local: nothing is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chatgpt import looks_like_chatgpt, parse_chatgpt
from .claude import looks_like_claude, parse_claude
from .core import (
    ON_DUPLICATE,
    Collector,
    Conversation,
    Counts,
    Issue,
    LoadError,
    Message,
    decode_bytes,
    json_error_text,
    json_loads,
    parse_timestamp,
    repair_surrogates,
)
from .generic import (
    ColumnMap,
    hf_files,
    parse_rows,
    read_csv_rows,
    read_json_rows,
    read_table_rows,
)
from .store import StoreSummary, store

__all__ = [
    "FORMATS",
    "Collector",
    "ColumnMap",
    "Conversation",
    "Counts",
    "Issue",
    "LoadError",
    "LoadResult",
    "ON_DUPLICATE",
    "Message",
    "ParseResult",
    "StoreSummary",
    "detect_format",
    "load_file",
    "parse_file",
    "parse_timestamp",
]

FORMATS = ("auto", "claude", "chatgpt", "jsonl", "csv", "parquet", "arrow", "hf")

_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".arrows": "arrow",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class ParseResult:
    path: Path
    format: str
    source: str
    collector: Collector

    @property
    def conversations(self) -> list[Conversation]:
        return list(self.collector.conversations.values())

    @property
    def messages(self) -> list[tuple[str, Message]]:
        return [(c.conversation_id, m) for c in self.conversations for m in c.messages]

    @property
    def issues(self) -> list[Issue]:
        return self.collector.issues


@dataclass
class LoadResult:
    parsed: ParseResult
    stored: StoreSummary = field(default_factory=StoreSummary)


def _json_error(path: Path, exc: json.JSONDecodeError) -> LoadError:
    return LoadError(
        f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
        f"{json_error_text(exc, None)}"
    )


def detect_format(path: Path, head: bytes = b"") -> str | None:
    """The format from magic bytes and the file name; None for JSON that needs a look inside."""
    if path.is_dir():
        return "hf"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"\xff\xff\xff\xff")):
        return "arrow"
    return _SUFFIXES.get(path.suffix.lower())


def parse_file(
    path: str | Path,
    fmt: str = "auto",
    columns: ColumnMap | None = None,
    source: str | None = None,
    default_user_id: str | None = None,
    collector: Collector | None = None,
    role_aliases: Mapping[str, str | None] | None = None,
    on_duplicate: str = "reject",
) -> ParseResult:
    """Read one export file (or a data set folder) into conversations, accounting for every record.

    ``default_user_id`` is the user of conversations whose source names none (ChatGPT exports
    carry no account id); it defaults to the source name: one export, one user.
    ``role_aliases`` (``{name: role}``, None to drop a built-in name) are merged over the role
    map shared with the dbt package, as its var ``kura__role_aliases`` is; they are ignored
    when a ``collector`` is given (pass them to the Collector instead), and so is
    ``on_duplicate``: what a record whose conversation id is taken, with different content, does
    (``reject`` it, ``replace`` the first, ``keep-both`` under a new id; :data:`ON_DUPLICATE`).
    Raises LoadError when the file cannot be read at all (ValueError for a bad role alias)."""
    path = Path(path)
    columns = columns or ColumnMap()
    if fmt not in FORMATS:
        raise LoadError(f"{path}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if not path.exists():
        raise LoadError(f"{path}: no such file or folder")
    source = source or path.name
    default_user_id = default_user_id or source
    collector = collector or Collector(source, role_aliases, on_duplicate)

    if path.is_dir():
        if fmt not in ("auto", "hf"):
            raise LoadError(f"{path}: is a folder; only --format hf (or auto) reads folders")
        kind, files = hf_files(path)
        rows: list[tuple[str, Any]] = []
        for file in files:
            label = file.relative_to(path).as_posix()
            rows += [(f"{label} {record}", row) for record, row in _rows(file, kind, collector)]
        parse_rows(rows, collector, columns, str(path), default_user_id)
        collector.check()
        return ParseResult(path, "hf", source, collector)

    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise LoadError(f"{path}: the file is empty")
    if head.startswith(b"PK\x03\x04") and fmt in ("auto", "claude", "chatgpt"):
        return _parse_zip(path, fmt, columns, source, default_user_id, collector)
    detected = detect_format(path, head)
    if fmt == "hf":
        fmt = detected if detected in ("parquet", "arrow", "jsonl", "csv") else "jsonl"
        used = "hf"
    else:
        used = None
    if fmt in ("parquet", "arrow", "csv", "jsonl"):
        rows = _rows(path, fmt, collector)
        parse_rows(rows, collector, columns, str(path), default_user_id)
        collector.check()
        return ParseResult(path, used or fmt, source, collector)
    if fmt == "auto" and detected is not None:
        return parse_file(path, detected, columns, source, default_user_id, collector)

    return _parse_json(path, path.read_bytes(), fmt, columns, source, default_user_id, collector)


def _parse_zip(
    path: Path,
    fmt: str,
    columns: ColumnMap,
    source: str,
    default_user_id: str | None,
    collector: Collector,
) -> ParseResult:
    """The zip file Claude.ai and ChatGPT send: its conversations.json is the export."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
            if not names:
                raise LoadError(
                    f"{path}: a zip file without conversations.json; unzip it and "
                    f"pass the file to load"
                )
            data = archive.read(min(names, key=len))
    except zipfile.BadZipFile as exc:
        raise LoadError(f"{path}: not a readable zip file: {exc}") from exc
    return _parse_json(path, data, fmt, columns, source, default_user_id, collector)


def _parse_json(
    path: Path,
    data: bytes,
    fmt: str,
    columns: ColumnMap,
    source: str,
    default_user_id: str | None,
    collector: Collector,
) -> ParseResult:
    """claude, chatgpt, or auto on a .json (or unknown) file: look inside."""
    text = repair_surrogates(decode_bytes(data, collector), collector)
    if fmt == "auto" and text.lstrip()[:1] not in ("[", "{"):
        raise LoadError(
            f"{path}: cannot tell the format (not JSON, and the name does not say); "
            f"pass --format ({', '.join(FORMATS[1:])})"
        )
    try:
        document = json_loads(text)
    except json.JSONDecodeError as exc:
        if fmt == "auto" and exc.msg == "Extra data":  # several JSON values: JSON Lines
            rows = read_json_rows(text, str(path))
            parse_rows(rows, collector, columns, str(path), default_user_id)
            collector.check()
            return ParseResult(path, "jsonl", source, collector)
        raise _json_error(path, exc) from exc
    if fmt == "auto":
        if looks_like_chatgpt(document):
            fmt = "chatgpt"
        elif looks_like_claude(document):
            fmt = "claude"
        elif isinstance(document, list) and document:
            rows = read_json_rows(text, str(path))
            parse_rows(rows, collector, columns, str(path), default_user_id)
            collector.check()
            return ParseResult(path, "jsonl", source, collector)
        else:
            raise LoadError(
                f"{path}: cannot tell the format: JSON, but neither a Claude or ChatGPT "
                f"export nor a list of records; pass --format"
            )
    if fmt == "claude":
        parse_claude(document, collector, str(path), default_user_id)
    else:
        parse_chatgpt(document, collector, str(path), default_user_id)
    collector.check()
    return ParseResult(path, fmt, source, collector)


def _rows(path: Path, fmt: str, collector: Collector) -> list[tuple[str, Any]]:
    if fmt in ("parquet", "arrow"):
        return read_table_rows(path, fmt, str(path))
    text = decode_bytes(path.read_bytes(), collector)
    if not text.strip():
        raise LoadError(f"{path}: the file is empty")
    if fmt == "csv":
        return read_csv_rows(text, str(path), "\t" if path.suffix.lower() == ".tsv" else None)
    return read_json_rows(repair_surrogates(text, collector), str(path))


def load_file(
    path: str | Path,
    db: str | Path | Any,
    *,
    schema: str = "raw",
    fmt: str = "auto",
    columns: ColumnMap | None = None,
    source: str | None = None,
    default_user_id: str | None = None,
    collector: Collector | None = None,
    role_aliases: Mapping[str, str | None] | None = None,
    on_duplicate: str = "reject",
) -> LoadResult:
    """parse_file, then write into the DuckDB file ``db`` (or an open DuckDB connection). The
    duplicate policy applies across sources too: a conversation id already loaded from another
    source with different content is rejected, replaces it or is kept under a new id."""
    parsed = parse_file(
        path, fmt, columns, source, default_user_id, collector, role_aliases, on_duplicate
    )
    if isinstance(db, (str, Path)):
        import duckdb

        con = duckdb.connect(str(db))
        close = True
    else:
        con, close = db, False
    try:
        stored = store(
            con,
            parsed.collector,
            schema=schema,
            source=parsed.source,
            source_format=parsed.format,
            source_file=str(Path(path).resolve()),
        )
    finally:
        if close:
            con.close()
    return LoadResult(parsed, stored)
