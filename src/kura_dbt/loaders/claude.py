"""Claude.ai data exports (``conversations.json``): a list of conversations with ``uuid``, ``name``,
``created_at``, ``account.uuid`` and ``chat_messages``.

Messages come in two schemas, both understood:

* older: ``text`` and ``sender`` (``human`` / ``assistant``);
* newer: ``content``, a list of blocks, beside or instead of ``text``.

What becomes of each block (every kind is counted in the load report):

* ``text``: kept; when a message has no text block its ``text`` field is used;
* ``thinking``: dropped (the model's private reasoning is not part of what the user saw, and would
  dominate summaries of what the user asked for);
* ``tool_use``: kept as a marker ``[tool_use: <name>]``; ``tool_result``: ``[tool_result: <name>]``
  (the tool's output itself is dropped);
* any other block (``image``, ``document``, ...): a marker ``[<type>]``.

Attachments and files become ``[attachment: <file name>]`` / ``[file: <file name>]`` markers at the
end of the message (their extracted text is not loaded). When messages carry
``parent_message_uuid`` and the conversation branches (a retried or edited message), only the
branch that ends at ``current_leaf_message_uuid`` (else the latest leaf) is loaded; the other
messages are skipped with a reason.
"""

from __future__ import annotations

from typing import Any

from .core import (
    Collector,
    Conversation,
    Message,
    blank_detail,
    export_conversations,
    export_records,
    required_field,
    timestamp_or_fix,
)
from .message_rules import is_blank

ROOT_PARENT = "00000000-0000-4000-8000-000000000000"


def looks_like_claude(data: Any) -> bool:
    items = data if isinstance(data, list) else [data]
    return any(isinstance(c, dict) and "chat_messages" in c for c in items[:100])


def render_blocks(
    blocks: list[Any], collector: Collector, prefix: str = "claude"
) -> tuple[list[str], bool]:
    """Text pieces for a list of content blocks, and whether any text block had text."""
    pieces: list[str] = []
    had_text = False
    for block in blocks:
        if isinstance(block, str):
            if not is_blank(block):
                pieces.append(block)
                had_text = True
            continue
        if not isinstance(block, dict):
            collector.notes[f"{prefix}: unreadable content blocks dropped"] += 1
            continue
        kind = block.get("type")
        if kind in ("text", "input_text", "output_text"):
            text = block.get("text")
            if isinstance(text, str) and not is_blank(text):
                pieces.append(text)
                had_text = True
        elif kind in ("thinking", "redacted_thinking", "reasoning"):
            collector.notes[f"{prefix}: thinking blocks dropped"] += 1
        elif kind == "tool_use":
            pieces.append(f"[tool_use: {block.get('name') or 'unknown'}]")
            collector.notes[f"{prefix}: tool_use blocks kept as [tool_use: name]"] += 1
        elif kind == "tool_result":
            name = block.get("name") or block.get("tool_use_id") or "unknown"
            error = " (error)" if block.get("is_error") else ""
            pieces.append(f"[tool_result: {name}{error}]")
            collector.notes[f"{prefix}: tool_result blocks kept as [tool_result: name]"] += 1
        else:
            label = kind if isinstance(kind, str) and kind else "block"
            pieces.append(f"[{label}]")
            collector.notes[f"{prefix}: {label} blocks kept as [{label}]"] += 1
    return pieces, had_text


def _branch(messages: list[Any], conv: dict[str, Any]) -> tuple[list[int], set[int]]:
    """Indexes (into ``messages``) of the current branch in order, and of the messages off it."""
    ids = {
        m.get("uuid"): i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("uuid")
    }
    parents = {
        i: m.get("parent_message_uuid") for i, m in enumerate(messages) if isinstance(m, dict)
    }
    children: dict[Any, int] = {}
    for parent in parents.values():
        if parent is not None:
            children[parent] = children.get(parent, 0) + 1
    if not ids or max(children.values(), default=0) <= 1:
        return list(range(len(messages))), set()
    leaf = ids.get(conv.get("current_leaf_message_uuid"))
    if leaf is None:
        leaves = [
            i
            for i, m in enumerate(messages)
            if isinstance(m, dict) and m.get("uuid") not in children
        ]
        leaf = max(leaves, key=lambda i: (str(messages[i].get("created_at") or ""), i))
    path: list[int] = []
    seen: set[int] = set()
    node: int | None = leaf
    while node is not None and node not in seen:
        seen.add(node)
        path.append(node)
        parent = parents.get(node)
        node = ids.get(parent) if parent not in (None, ROOT_PARENT) else None
    path.reverse()
    off = {i for i in range(len(messages)) if i not in seen}
    return path, off


def _claude_id(raw: dict[str, Any]) -> Any:
    return raw.get("uuid") or raw.get("id")


def _claude_message_count(raw: dict[str, Any]) -> int:
    messages = raw.get("chat_messages")
    return len(messages) if isinstance(messages, list) else 0


def parse_claude(
    data: Any, collector: Collector, path_label: str, default_user_id: str | None = None
) -> None:
    data = export_conversations(
        data, path_label, "Claude", "chat_messages", looks_like_claude, "mapping", "chatgpt"
    )
    for raw, cid, record, n_raw in export_records(
        data, collector, _claude_id, "uuid", _claude_message_count
    ):
        messages = raw.get("chat_messages")
        if not required_field(messages, list, "chat_messages", raw, record, cid, collector):
            continue
        account = raw.get("account")
        user_id = account.get("uuid") if isinstance(account, dict) else None
        name = raw.get("name")
        conv = Conversation(
            conversation_id=cid,
            user_id=str(user_id) if user_id else default_user_id,
            created_at=timestamp_or_fix(
                raw.get("created_at"), collector, record, "created_at", conversation_id=cid
            ),
            updated_at=timestamp_or_fix(
                raw.get("updated_at"), collector, record, "updated_at", conversation_id=cid
            ),
            title=name if isinstance(name, str) and name else None,
            raw_message_count=n_raw,
        )
        collector.message_read(n_raw)
        order, off_branch = _branch(messages, raw)
        _skip_off_branch(messages, off_branch, cid, collector)
        for index, j in enumerate(order):
            message = _message(messages[j], index, j, cid, collector)
            if message is not None:
                conv.messages.append(message)
        collector.finish_conversation(conv, record)


def _skip_off_branch(
    messages: list[Any], off_branch: set[int], cid: str, collector: Collector
) -> None:
    """The messages off the branch the user kept (retried or edited ones), skipped."""
    for j in sorted(off_branch):
        m = messages[j]
        collector.message_skipped(
            f"conversation {cid} message {m.get('uuid') or '#' + str(j)}",
            "not on the current branch",
            conversation_id=cid,
            detail="a retried or edited message; the branch the user kept is loaded",
            raw_excerpt=m.get("text") if isinstance(m, dict) else m,
        )


def _raw_text(text: Any, blocks: Any) -> str:
    """The text a message carries (its text field and text blocks), to say why it has none."""
    parts = [text]
    if isinstance(blocks, list):
        parts += [b.get("text") if isinstance(b, dict) else b for b in blocks]
    return "".join(p for p in parts if isinstance(p, str))


def _pieces(text: Any, blocks: Any, collector: Collector) -> list[str] | None:
    """A message's text: its content blocks (with its text field first when no block has
    text), else its text field; None when neither has the right type."""
    if isinstance(blocks, list) and blocks:
        pieces, had_text = render_blocks(blocks, collector)
        if not had_text and isinstance(text, str) and not is_blank(text):
            pieces.insert(0, text)
        return pieces
    if isinstance(text, str):
        return [text]
    if text is not None or blocks is not None:
        return None
    return []


def _attached(m: dict[str, Any], collector: Collector) -> list[str]:
    """Markers for a message's attachments and files (a file also attached is named once)."""
    attached: list[str] = []
    for key, label in (("attachments", "attachment"), ("files", "file")):
        for item in m.get(key) or []:
            name = item.get("file_name") if isinstance(item, dict) else None
            name = name or "unnamed"
            if label == "file" and f"[attachment: {name}]" in attached:
                continue
            attached.append(f"[{label}: {name}]")
            collector.notes[f"claude: {key} kept as [{label}: file name]"] += 1
    return attached


def _message(m: Any, index: int, position: int, cid: str, collector: Collector) -> Message | None:
    mid = m.get("uuid") if isinstance(m, dict) else None
    record = f"conversation {cid} message {mid or '#' + str(position)}"
    where = {"conversation_id": cid, "message_index": index}
    if not isinstance(m, dict):
        collector.message_rejected(record, "not an object", raw_excerpt=m, **where)
        return None
    sender = m.get("sender", m.get("role"))
    role = collector.role(sender)
    if sender is None:
        collector.message_rejected(record, "missing field", field="sender", raw_excerpt=m, **where)
        return None
    if role is None:
        collector.message_rejected(
            record,
            "unknown role",
            field="sender",
            raw_excerpt=m,
            detail=f"sender {sender!r}",
            **where,
        )
        return None
    text = m.get("text")
    blocks = m.get("content")
    pieces = _pieces(text, blocks, collector)
    if pieces is None:
        collector.message_rejected(
            record,
            "wrong type",
            field="text",
            raw_excerpt=m,
            detail="text is not a string and content is not a list",
            **where,
        )
        return None
    attached = _attached(m, collector)
    content = "\n\n".join(p.strip("\n") for p in pieces if not is_blank(p))
    if is_blank(content):
        if attached:
            content = "\n".join(attached)
        else:
            collector.message_skipped(
                record,
                "no text",
                field="text",
                detail=blank_detail(_raw_text(text, blocks)),
                raw_excerpt=m,
                **where,
            )
            return None
    elif attached:
        content = content + "\n\n" + "\n".join(attached)
    return Message(
        message_index=index,
        role=role,
        content=content,
        created_at=timestamp_or_fix(m.get("created_at"), collector, record, "created_at", **where),
        source_message_id=str(mid) if mid else None,
    )
