"""Write parsed conversations into DuckDB, idempotently.

Tables (created when missing) in the chosen schema:

* ``conversations``: key ``conversation_id``; ``content_hash`` is the hash of the conversation and
  its loaded messages;
* ``messages``: key ``(conversation_id, message_index)``;
* ``load_rejects``: key ``(source, record, reason)``: every skipped or rejected record and every
  fix, with the field, a detail and a raw excerpt.

A conversation whose hash is already stored is left alone (``unchanged``); a new one is inserted;
a changed one (a newer export where the conversation grew or was edited) is replaced together
with all its messages, so that no stale message survives. A conversation id already loaded from
ANOTHER source with different content follows the collector's duplicate policy (rejected by
default, with the reason in ``load_rejects``). Conversations missing from the file are
kept: an export is never assumed to be complete. Everything happens in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .core import Collector

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class StoreSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects_added: int = 0
    rejects_already_recorded: int = 0


def _schema_sql(schema: str) -> list[str]:
    return [
        f"create schema if not exists {schema}",
        f"""create table if not exists {schema}.conversations (
            conversation_id varchar primary key,
            user_id varchar,
            created_at timestamp,
            updated_at timestamp,
            title varchar,
            message_count integer,
            source varchar,
            source_format varchar,
            source_file varchar,
            content_hash varchar,
            loaded_at timestamp
        )""",
        f"""create table if not exists {schema}.messages (
            conversation_id varchar not null,
            message_index integer not null,
            role varchar not null,
            content varchar not null,
            created_at timestamp,
            source_message_id varchar,
            source varchar,
            primary key (conversation_id, message_index)
        )""",
        f"""create table if not exists {schema}.load_rejects (
            source varchar not null,
            source_file varchar,
            record varchar not null,
            outcome varchar not null,
            reason varchar not null,
            field varchar,
            detail varchar,
            conversation_id varchar,
            message_index integer,
            raw_excerpt varchar,
            first_seen_at timestamp,
            primary key (source, record, reason)
        )""",
    ]


def _stored(con: Any, schema: str, ids: list[str]) -> dict[str, tuple[str, str, str | None]]:
    """The stored (content_hash, source, text) of those of ``ids`` already in the table."""
    import pyarrow as pa

    if not ids:
        return {}
    con.register("_kura_load_ids", pa.table({"conversation_id": pa.array(ids, pa.string())}))
    rows = con.execute(
        f"""select c.conversation_id, c.content_hash, c.source,
                   (select string_agg(m.role || ': ' || m.content, ' | ' order by m.message_index)
                    from {schema}.messages m where m.conversation_id = c.conversation_id)
            from {schema}.conversations c join _kura_load_ids i using (conversation_id)"""
    ).fetchall()
    con.unregister("_kura_load_ids")
    return {cid: (digest, source, text) for cid, digest, source, text in rows}


def store(
    con: Any,
    collector: Collector,
    *,
    schema: str,
    source: str,
    source_format: str,
    source_file: str,
) -> StoreSummary:
    """Write the collector's new and changed conversations (replacing their stored messages)
    and its issues to `schema`, in one transaction."""
    if not _IDENT.match(schema):
        raise ValueError(f"schema must be a plain identifier, got {schema!r}")
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    summary = StoreSummary()
    for sql in _schema_sql(schema):
        con.execute(sql)

    con.execute("begin transaction")
    try:
        stored = _stored(con, schema, list(collector.conversations))
        collector.resolve_stored(stored, source)
        conversations = list(collector.conversations.values())
        hashes = {c.conversation_id: c.content_hash() for c in conversations}
        stored_hash = {cid: row[0] for cid, row in _stored(con, schema, list(hashes)).items()}
        changed = _changed(conversations, hashes, stored_hash, summary)
        if changed:
            origin = {"source": source, "source_format": source_format, "source_file": source_file}
            _replace_conversations(con, schema, changed, hashes, origin, now)
        if collector.issues:
            _add_rejects(con, schema, collector, source, source_file, now, summary)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return summary


def _changed(
    conversations: list[Any],
    hashes: dict[str, str],
    stored_hash: dict[str, Any],
    summary: StoreSummary,
) -> list[Any]:
    """The conversations new or changed since they were stored, counted in `summary`."""
    changed = []
    for c in conversations:
        previous = stored_hash.get(c.conversation_id)
        if previous is None:
            summary.new += 1
            changed.append(c)
        elif previous != hashes[c.conversation_id]:
            summary.updated += 1
            changed.append(c)
        else:
            summary.unchanged += 1
    return changed


def _replace_conversations(
    con: Any,
    schema: str,
    changed: list[Any],
    hashes: dict[str, str],
    origin: dict[str, str],
    now: datetime,
) -> None:
    """Delete the stored rows of `changed` conversations and insert them anew, with their
    messages."""
    import pyarrow as pa

    n = len(changed)
    conv_table = pa.table(
        {
            "conversation_id": pa.array([c.conversation_id for c in changed], pa.string()),
            "user_id": pa.array([c.user_id for c in changed], pa.string()),
            "created_at": pa.array([c.created_at for c in changed], pa.timestamp("us")),
            "updated_at": pa.array([c.updated_at for c in changed], pa.timestamp("us")),
            "title": pa.array([c.title for c in changed], pa.string()),
            "message_count": pa.array([len(c.messages) for c in changed], pa.int32()),
            "source": pa.array([origin["source"]] * n, pa.string()),
            "source_format": pa.array([origin["source_format"]] * n, pa.string()),
            "source_file": pa.array([origin["source_file"]] * n, pa.string()),
            "content_hash": pa.array([hashes[c.conversation_id] for c in changed], pa.string()),
            "loaded_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    rows = [(c.conversation_id, m) for c in changed for m in c.messages]
    msg_table = pa.table(
        {
            "conversation_id": pa.array([cid for cid, _ in rows], pa.string()),
            "message_index": pa.array([m.message_index for _, m in rows], pa.int32()),
            "role": pa.array([m.role for _, m in rows], pa.string()),
            "content": pa.array([m.content for _, m in rows], pa.large_string()),
            "created_at": pa.array([m.created_at for _, m in rows], pa.timestamp("us")),
            "source_message_id": pa.array([m.source_message_id for _, m in rows], pa.string()),
            "source": pa.array([origin["source"]] * len(rows), pa.string()),
        }
    )
    con.register("_kura_load_conversations", conv_table)
    con.register("_kura_load_messages", msg_table)
    con.execute(f"""delete from {schema}.messages where conversation_id in
                    (select conversation_id from _kura_load_conversations)""")
    con.execute(f"""delete from {schema}.conversations where conversation_id in
                    (select conversation_id from _kura_load_conversations)""")
    con.execute(
        f"insert into {schema}.conversations by name select * from _kura_load_conversations"
    )
    con.execute(f"insert into {schema}.messages by name select * from _kura_load_messages")
    con.unregister("_kura_load_conversations")
    con.unregister("_kura_load_messages")


def _add_rejects(
    con: Any,
    schema: str,
    collector: Collector,
    source: str,
    source_file: str,
    now: datetime,
    summary: StoreSummary,
) -> None:
    """Record the collector's issues (one per record and reason) in load_rejects; those
    already recorded are kept as they are, and both counts go into `summary`."""
    import pyarrow as pa

    unique: dict[tuple[str, str], Any] = {}
    for issue in collector.issues:
        unique.setdefault((issue.record, issue.reason), issue)
    issues = list(unique.values())
    rejects = pa.table(
        {
            "source": pa.array([source] * len(issues), pa.string()),
            "source_file": pa.array([source_file] * len(issues), pa.string()),
            "record": pa.array([i.record for i in issues], pa.string()),
            "outcome": pa.array([i.outcome for i in issues], pa.string()),
            "reason": pa.array([i.reason for i in issues], pa.string()),
            "field": pa.array([i.field for i in issues], pa.string()),
            "detail": pa.array([i.detail for i in issues], pa.string()),
            "conversation_id": pa.array([i.conversation_id for i in issues], pa.string()),
            "message_index": pa.array([i.message_index for i in issues], pa.int32()),
            "raw_excerpt": pa.array([i.raw_excerpt for i in issues], pa.string()),
            "first_seen_at": pa.array([now] * len(issues), pa.timestamp("us")),
        }
    )
    con.register("_kura_load_rejects", rejects)
    before = con.execute(f"select count(*) from {schema}.load_rejects").fetchall()[0][0]
    con.execute(f"""insert into {schema}.load_rejects by name
                    select * from _kura_load_rejects on conflict do nothing""")
    after = con.execute(f"select count(*) from {schema}.load_rejects").fetchall()[0][0]
    con.unregister("_kura_load_rejects")
    summary.rejects_added = after - before
    summary.rejects_already_recorded = len(issues) - summary.rejects_added
