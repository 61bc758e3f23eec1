"""ChatGPT data exports (``conversations.json``): a list of conversations, each a ``mapping`` of
nodes ``{id, message, parent, children}`` and a ``current_node``.

* **Branches.** Editing a message or regenerating an answer adds a sibling branch to the tree; the
  export keeps every branch. The loader walks from ``current_node`` up to the root, which is the
  conversation as the user last saw it, so no turn is loaded twice. Messages on other branches are
  skipped (reason ``not on the current branch``). Without a usable ``current_node`` the latest leaf
  is followed (recorded as a fix).
* **Roles.** ``system``, ``user``, ``assistant`` and ``tool`` are kept as they are.
* **Hidden and empty messages.** The empty or visually hidden system messages that start most
  conversations (and the hidden custom-instructions message) are skipped with a reason; so is any
  message marked hidden, and any message with no text.
* **Content types.** ``text`` parts are kept; in ``multimodal_text`` images, audio and other asset
  parts become ``[image]`` / ``[audio]`` / ``[<type>]`` markers; ``code`` (code the assistant sent
  to a tool) is kept as a fenced code block; ``execution_output`` (the tool's answer) is kept as
  ``[execution_output]`` followed by its text, with ``<<ImageDisplayed>>`` as ``[image]``;
  reasoning (``thoughts``, ``reasoning_recap``) is dropped like Claude's thinking blocks; any other
  type becomes ``[<content_type>]`` followed by the text it carries. Every kind is counted.
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


def looks_like_chatgpt(data: Any) -> bool:
    items = data if isinstance(data, list) else [data]
    return any(isinstance(c, dict) and "mapping" in c for c in items[:100])


def _branch(
    mapping: dict[str, Any], current: Any, collector: Collector, record: str, cid: str
) -> list[str]:
    """Node ids from the root to the current node."""
    if not isinstance(current, str) or current not in mapping:
        leaves = [k for k, n in mapping.items() if isinstance(n, dict) and not n.get("children")]
        if not leaves:
            leaves = list(mapping)

        def created(k: str) -> float:
            message = (mapping[k] or {}).get("message") or {}
            value = message.get("create_time") if isinstance(message, dict) else None
            return float(value) if isinstance(value, (int, float)) else float("-inf")

        current = max(leaves, key=lambda k: (created(k), k))
        collector.fix(
            record,
            "current_node missing; latest leaf followed",
            field="current_node",
            conversation_id=cid,
        )
    path: list[str] = []
    seen: set[str] = set()
    node: Any = current
    while isinstance(node, str) and node in mapping and node not in seen:
        seen.add(node)
        path.append(node)
        entry = mapping[node]
        node = entry.get("parent") if isinstance(entry, dict) else None
    path.reverse()
    return path


def render_content(content: Any, collector: Collector) -> str:
    if not isinstance(content, dict):
        return content if isinstance(content, str) else ""
    kind = content.get("content_type")
    notes = collector.notes
    if kind in ("text", "multimodal_text"):
        return _render_parts(content, collector, transcripts=kind == "multimodal_text")
    if kind == "code":
        return _render_code(content, collector)
    if kind == "execution_output":
        text = str(content.get("text") or "").replace("<<ImageDisplayed>>", "[image]").strip()
        notes["chatgpt: execution output kept as [execution_output] + text"] += 1
        return f"[execution_output]\n{text}" if text else "[execution_output]"
    if kind in ("thoughts", "reasoning_recap"):
        notes["chatgpt: reasoning (thoughts) dropped"] += 1
        return ""
    if kind == "user_editable_context":
        notes["chatgpt: custom instructions context dropped"] += 1
        return ""
    label = kind if isinstance(kind, str) and kind else "unknown"
    text = content.get("text") or content.get("result") or ""
    if not text and isinstance(content.get("parts"), list):
        text = "\n".join(p for p in content["parts"] if isinstance(p, str))
    notes[f"chatgpt: {label} kept as [{label}] + text"] += 1
    return f"[{label}]\n{text}".strip() if isinstance(text, str) else f"[{label}]"


def _render_parts(content: dict[str, Any], collector: Collector, transcripts: bool) -> str:
    """A text message's parts: strings as they are, other parts as markers; in a
    multimodal message, audio transcriptions as their text."""
    pieces = []
    for part in content.get("parts") or []:
        if isinstance(part, str):
            pieces.append(part)
        elif (
            transcripts
            and isinstance(part, dict)
            and part.get("content_type") == "audio_transcription"
        ):
            pieces.append(str(part.get("text") or ""))
            collector.notes["chatgpt: audio transcriptions kept as text"] += 1
        else:
            pieces.append(_part_marker(part, collector))
    return "\n".join(p for p in pieces if p)


def _render_code(content: dict[str, Any], collector: Collector) -> str:
    """Code as a fenced block in its language (none when unknown); blank code is dropped."""
    text = str(content.get("text") or "")
    if is_blank(text):
        return ""
    language = content.get("language")
    language = "" if language in (None, "unknown") else str(language)
    collector.notes["chatgpt: code kept as a fenced block"] += 1
    return f"```{language}\n{text}\n```"


def _skipped(
    role: str,
    hidden: bool,
    text: str,
    content: Any,
    record: str,
    where: dict[str, Any],
    collector: Collector,
) -> bool:
    """Whether a message is skipped (noted with its reason): a hidden or empty system message,
    a hidden message, a message with no text."""
    if role == "system" and (hidden or is_blank(text)):
        collector.message_skipped(
            record, "hidden or empty system message", field="content", raw_excerpt=content, **where
        )
        return True
    if hidden:
        collector.message_skipped(
            record, "hidden message", field="metadata", raw_excerpt=content, **where
        )
        return True
    if is_blank(text):
        collector.message_skipped(
            record,
            "no text",
            field="content",
            detail=blank_detail(text),
            raw_excerpt=content,
            **where,
        )
        return True
    return False


def _part_marker(part: Any, collector: Collector) -> str:
    kind = part.get("content_type") if isinstance(part, dict) else None
    if kind == "image_asset_pointer" or (isinstance(part, dict) and "image_url" in part):
        label = "image"
    elif isinstance(kind, str) and kind.startswith("audio"):
        label = "audio"
    elif isinstance(kind, str) and kind.startswith("video"):
        label = "video"
    elif isinstance(kind, str) and kind:
        label = kind
    else:
        label = "attachment"
    collector.notes[f"chatgpt: {label} parts kept as [{label}]"] += 1
    return f"[{label}]"


def _chatgpt_id(raw: dict[str, Any]) -> Any:
    return raw.get("conversation_id") or raw.get("id")


def _chatgpt_message_count(raw: dict[str, Any]) -> int:
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        return 0
    return sum(1 for n in mapping.values() if isinstance(n, dict) and n.get("message"))


def parse_chatgpt(
    data: Any, collector: Collector, path_label: str, default_user_id: str | None = None
) -> None:
    data = export_conversations(
        data, path_label, "ChatGPT", "mapping", looks_like_chatgpt, "chat_messages", "claude"
    )
    for raw, cid, record, n_raw in export_records(
        data, collector, _chatgpt_id, "conversation_id", _chatgpt_message_count
    ):
        mapping = raw.get("mapping")
        if not required_field(mapping, dict, "mapping", raw, record, cid, collector):
            continue
        title = raw.get("title")
        conv = Conversation(
            conversation_id=cid,
            user_id=default_user_id,
            created_at=timestamp_or_fix(
                raw.get("create_time"), collector, record, "create_time", conversation_id=cid
            ),
            updated_at=timestamp_or_fix(
                raw.get("update_time"), collector, record, "update_time", conversation_id=cid
            ),
            title=title if isinstance(title, str) and title else None,
            raw_message_count=n_raw,
        )
        collector.message_read(n_raw)
        path = _branch(mapping, raw.get("current_node"), collector, record, cid) if mapping else []
        _skip_off_branch(mapping, set(path), cid, collector)
        index = 0
        for node_id in path:
            node = mapping[node_id]
            message = node.get("message") if isinstance(node, dict) else None
            if not message:
                continue  # the placeholder root, not a message
            parsed = _message(message, index, node_id, cid, collector)
            index += 1
            if parsed is not None:
                conv.messages.append(parsed)
        collector.finish_conversation(conv, record)


def _skip_off_branch(
    mapping: dict[str, Any], on_path: set[str], cid: str, collector: Collector
) -> None:
    """The messages off the current branch (edited messages, regenerated answers), skipped."""
    for node_id, node in mapping.items():
        if node_id not in on_path and isinstance(node, dict) and node.get("message"):
            collector.message_skipped(
                f"conversation {cid} node {node_id}",
                "not on the current branch",
                conversation_id=cid,
                detail="an edited message or a regenerated answer; current_node's branch kept",
                raw_excerpt=(node["message"] or {}).get("content")
                if isinstance(node["message"], dict)
                else node["message"],
            )


def _message(m: Any, index: int, node_id: str, cid: str, collector: Collector) -> Message | None:
    record = f"conversation {cid} node {node_id}"
    where: dict[str, Any] = {"conversation_id": cid, "message_index": index}
    if not isinstance(m, dict):
        collector.message_rejected(record, "not an object", raw_excerpt=m, **where)
        return None
    author = m.get("author")
    raw_role = author.get("role") if isinstance(author, dict) else None
    if raw_role is None:
        collector.message_rejected(
            record, "missing field", field="author.role", raw_excerpt=m, **where
        )
        return None
    role = collector.role(raw_role)
    if role is None:
        collector.message_rejected(
            record,
            "unknown role",
            field="author.role",
            raw_excerpt=m,
            detail=f"role {raw_role!r}",
            **where,
        )
        return None
    metadata = m.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    hidden = bool(metadata.get("is_visually_hidden_from_conversation"))
    content = m.get("content")
    if content is not None and not isinstance(content, dict):
        collector.message_rejected(
            record,
            "wrong type",
            field="content",
            raw_excerpt=m,
            detail="content is not an object",
            **where,
        )
        return None
    text = render_content(content, collector)
    if _skipped(role, hidden, text, content, record, where, collector):
        return None
    return Message(
        message_index=index,
        role=role,
        content=text,
        created_at=timestamp_or_fix(
            m.get("create_time"), collector, record, "create_time", **where
        ),
        source_message_id=str(m.get("id") or node_id),
    )
