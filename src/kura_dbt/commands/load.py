"""`kura load FILE`: bring your own chats into DuckDB, ready for `dbt build`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kura_dbt.commands import DEFAULT_DB, db_option

console = Console()
err_console = Console(stderr=True)

# files at least this large get a progress bar
LARGE_FILE_BYTES = 5 * 1024 * 1024


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def load(
    file: Annotated[Path, typer.Argument(help="Export file (or data set folder) to load")],
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="auto | claude | chatgpt | jsonl | csv | parquet | arrow | hf"
        ),
    ] = "auto",
    db: Annotated[Path, db_option("DuckDB file to write")] = DEFAULT_DB,
    schema: Annotated[str, typer.Option(help="Schema of the tables written")] = "raw",
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of this source in the tables (default: the file name); give newer exports "
            "of the same account the same name"
        ),
    ] = None,
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user-id",
            help="User id for conversations the file gives none (default: the source name)",
        ),
    ] = None,
    conversation_id_column: Annotated[
        str | None, typer.Option(help="Generic formats: conversation id column")
    ] = None,
    role_column: Annotated[
        str | None,
        typer.Option(
            help="Generic formats: role column (or key inside each message of --messages-column)"
        ),
    ] = None,
    content_column: Annotated[
        str | None,
        typer.Option(help="Generic formats: content column (or key inside each message)"),
    ] = None,
    message_index_column: Annotated[
        str | None, typer.Option(help="Generic formats: message order column (default: file order)")
    ] = None,
    created_at_column: Annotated[
        str | None,
        typer.Option(help="Generic formats: timestamp column (or key inside each message)"),
    ] = None,
    user_id_column: Annotated[
        str | None, typer.Option(help="Generic formats: user id column")
    ] = None,
    messages_column: Annotated[
        str | None,
        typer.Option(
            help="Generic formats: one conversation per row, with its messages in this list column"
        ),
    ] = None,
    role_alias: Annotated[
        list[str] | None,
        typer.Option(
            "--role-alias",
            help="NAME=ROLE: a role name of your own mapped to user, assistant, system or tool "
            "(NAME= drops a built-in one), as the dbt var kura__role_aliases does; repeatable",
        ),
    ] = None,
    on_duplicate: Annotated[
        str,
        typer.Option(
            "--on-duplicate",
            help="A conversation id already taken (earlier in the file, or loaded from another "
            "source) with different content: reject it (kept in load_rejects), replace the "
            "first, or keep-both (it gets a new id)",
        ),
    ] = "reject",
) -> None:
    """Load a Claude or ChatGPT export, or a JSON Lines / CSV / Parquet / Arrow file, into DuckDB
    tables <schema>.conversations, <schema>.messages and <schema>.load_rejects.

    Loading the same file again changes nothing; a newer export adds and updates only what is new
    or changed. Every record read is loaded, skipped or rejected, and the reason for each skipped
    or rejected one is kept in <schema>.load_rejects.
    """
    from kura_dbt.loaders import FORMATS, ON_DUPLICATE, Collector, ColumnMap, LoadError, load_file

    _check_choices(format, on_duplicate, schema, FORMATS, ON_DUPLICATE)
    columns = ColumnMap(
        conversation_id=conversation_id_column,
        role=role_column,
        content=content_column,
        message_index=message_index_column,
        created_at=created_at_column,
        user_id=user_id_column,
        messages=messages_column,
    )
    collector = Collector(source or file.name, _role_aliases(role_alias or []), on_duplicate)
    progress = _progress(file, collector)
    try:
        result = load_file(
            file,
            db,
            schema=schema,
            fmt=format,
            columns=columns,
            source=source,
            default_user_id=user_id,
            collector=collector,
        )
    except LoadError as exc:
        _stop(progress)
        err_console.print(
            f"[bold red]kura load: cannot read[/] {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None
    except Exception as exc:  # duckdb errors (a locked or corrupt database file)
        _stop(progress)
        _exit_on_database_error(exc, db)
        raise
    _stop(progress)
    _report(result, db, schema)


def _check_choices(
    format: str,
    on_duplicate: str,
    schema: str,
    formats: tuple[str, ...],
    on_duplicates: tuple[str, ...],
) -> None:
    """--format and --on-duplicate among their choices, --schema a plain name."""
    if format not in formats:
        raise typer.BadParameter(
            f"{format!r} is not one of {', '.join(formats)}", param_hint="--format"
        )
    if on_duplicate not in on_duplicates:
        raise typer.BadParameter(
            f"{on_duplicate!r} is not one of {', '.join(on_duplicates)}",
            param_hint="--on-duplicate",
        )
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", schema):
        raise typer.BadParameter(
            f"{schema!r} is not a plain name (letters, digits, _)", param_hint="--schema"
        )


def _progress(file: Path, collector: Any) -> Progress | None:
    """A started progress bar fed by the collector, for a large file; None for a small one."""
    if _size(file) < LARGE_FILE_BYTES:
        return None
    progress = Progress(
        TextColumn(f"reading {file.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("records", total=None)
    collector.on_start = lambda total: progress.update(task, total=total)
    collector.on_advance = lambda n: progress.advance(task, n)
    progress.start()
    return progress


def _stop(progress: Progress | None) -> None:
    if progress is not None:
        progress.stop()


def _exit_on_database_error(exc: Exception, db: Path) -> None:
    """A DuckDB error (a locked or corrupt database file) as a message and exit code 2."""
    import duckdb

    if isinstance(exc, duckdb.Error):
        err_console.print(
            f"[bold red]kura load: cannot write[/] {escape(str(db))}: {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None


def _role_aliases(values: list[str]) -> dict[str, str | None]:
    """``--role-alias NAME=ROLE`` options as a map, checked like the dbt var's."""
    from kura_dbt.loaders.message_rules import role_aliases

    aliases: dict[str, str | None] = {}
    for value in values:
        name, sep, role = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(
                f"{value!r} is not NAME=ROLE (e.g. operator=assistant)", param_hint="--role-alias"
            )
        aliases[name.strip()] = role.strip() or None
    try:
        role_aliases(aliases)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role-alias") from None
    return aliases


_COLUMN_LABELS = {
    "conversation_id": "conversation id",
    "messages": "messages",
    "role": "role",
    "content": "content",
    "message_index": "message index",
    "created_at": "created at",
    "user_id": "user id",
}


def _report(result, db_path: Path, schema: str) -> None:
    parsed, stored = result.parsed, result.stored
    c = parsed.collector
    console.print(
        f"[bold]{escape(str(parsed.path))}[/] ([cyan]{parsed.format}[/], source "
        f"[cyan]{escape(parsed.source)}[/]) → {escape(str(db_path))} schema "
        f"[cyan]{schema}[/]",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title=None, show_edge=True)
    for name in ("records", "read", "loaded", "skipped", "rejected"):
        table.add_column(name, justify="left" if name == "records" else "right")
    for name, counts in (("conversations", c.conversation_counts), ("messages", c.message_counts)):
        table.add_row(
            name, str(counts.read), str(counts.loaded), str(counts.skipped), str(counts.rejected)
        )
    console.print(table)
    if c.columns:
        used = "; ".join(
            f"{label}: {c.columns[name]}"
            for name, label in _COLUMN_LABELS.items()
            if name in c.columns
        )
        console.print(f"columns: {escape(used)}", highlight=False, soft_wrap=True)
    for note in c.column_notes:
        console.print(f"[yellow]{escape(note)}[/]", highlight=False, soft_wrap=True)
    console.print(f"conversations: {c.conversation_counts}", highlight=False)
    console.print(f"messages: {c.message_counts}", highlight=False)
    console.print(
        f"written: {stored.new} new, {stored.updated} updated, {stored.unchanged} "
        f"unchanged conversations; {stored.rejects_added} new rows in "
        f"{schema}.load_rejects ({stored.rejects_already_recorded} already there)",
        highlight=False,
        soft_wrap=True,
    )
    if c.issues:
        console.print(_reasons_table(c.issues, schema))
    if c.notes:
        console.print(_notes_table(c.notes))
    if stored.new or stored.updated:
        console.print(
            f"next: KURA_DUCKDB_PATH={escape(str(db_path.resolve()))} dbt build --vars "
            f"'{{kura__conversations: {schema}.conversations, kura__messages: {schema}.messages, "
            f"kura__feedback: ~, kura__users: ~}}' (README: Bring your own chats)",
            highlight=False,
            soft_wrap=True,
        )


def _reasons_table(issues: list[Any], schema: str) -> Table:
    """Rows skipped, rejected and fixed per outcome and reason, counted as in
    <schema>.load_rejects: one per (record, reason)."""
    reasons = Table(
        title=f"skipped, rejected and fixed (details in {schema}.load_rejects)", show_edge=True
    )
    reasons.add_column("outcome")
    reasons.add_column("reason")
    reasons.add_column("rows", justify="right")
    grouped: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    for issue in issues:
        if (issue.record, issue.reason) in seen:
            continue
        seen.add((issue.record, issue.reason))
        grouped[(issue.outcome, issue.reason)] = grouped.get((issue.outcome, issue.reason), 0) + 1
    for (outcome, reason), n in sorted(grouped.items()):
        reasons.add_row(escape(outcome), escape(reason), str(n))
    return reasons


def _notes_table(notes: Mapping[str, int]) -> Table:
    """How often each kind of content was transformed."""
    table = Table(title="content transformed", show_edge=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, n in sorted(notes.items()):
        table.add_row(escape(what), str(n))
    return table


def register(app: typer.Typer) -> None:
    app.command(name="load")(load)
