"""The conversations the benchmarks build on, read from the offline data sets in
../shared/data (``--data-dir``), and the writer of a user's raw tables. One home for what the
benchmark scripts share: it imports no benchmark script."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

Turns = list[tuple[str, str]]  # a conversation: (role, content) per message, in order


def banking77(data_dir: Path) -> tuple[list[Turns], list[str]]:
    conversations, labels = [], []
    with open(data_dir / "banking77" / "all.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["split"] == "test":
                conversations.append([("user", row["text"])])
                labels.append(row["label"])
    return conversations, labels


def sgd_dialogues(data_dir: Path) -> list[tuple[Turns, dict]]:
    """SGD dev's dialogues in file order: each one's turns and its whole record."""
    dialogues = []
    with open(data_dir / "sgd" / "dev.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            turns = [
                ("user" if t["speaker"] == "USER" else "assistant", t["text"]) for t in row["turns"]
            ]
            dialogues.append((turns, row))
    return dialogues


def sgd(data_dir: Path) -> tuple[list[Turns], list[str]]:
    dialogues = sgd_dialogues(data_dir)
    return [turns for turns, _ in dialogues], [row["label_domain"] for _, row in dialogues]


def oasst_threads(data_dir: Path) -> list[Turns]:
    """The 100 OpenAssistant threads (best-ranked path of each tree), as turns."""
    conversations: list[Turns] = []
    with open(data_dir / "oasst" / "en_100_threads.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            turns = row.get("messages") or row.get("thread") or []
            conversations.append(
                [
                    (
                        "user" if m.get("role") in ("user", "prompter") else "assistant",
                        m.get("text") or m.get("content") or "",
                    )
                    for m in turns
                ]
            )
    return conversations


def oasst(data_dir: Path) -> tuple[list[Turns], list[str] | None]:
    conversations = oasst_threads(data_dir)
    with open(data_dir / "oasst" / "prompt_lottery_en_250_text.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row if isinstance(row, str) else row.get("text") or row.get("prompt") or ""
            if text.strip():
                conversations.append([("user", text)])
    return conversations, None


def mixed(data_dir: Path, n_banking: int = 500, n_sgd: int = 1150) -> tuple[list[Turns], list[str]]:
    """A diverse set with known activities, 2,000 conversations in a fixed shuffle: every
    OpenAssistant conversation (label ``open chat``), ``n_sgd`` Schema-Guided Dialogue dialogues
    (label: their domain) and ``n_banking`` banking77 test queries (label ``banking``): what an
    assistant serving several kinds of users sees, where a top level should show the kinds."""
    rng = random.Random(0)
    open_chat = oasst(data_dir)[0]
    dialogues, domains = sgd(data_dir)
    queries = banking77(data_dir)[0]
    picked_sgd = sorted(rng.sample(range(len(dialogues)), n_sgd))
    picked_banking = sorted(rng.sample(range(len(queries)), n_banking))
    rows = [(c, "open chat") for c in open_chat]
    rows += [(dialogues[i], domains[i]) for i in picked_sgd]
    rows += [(queries[i], "banking") for i in picked_banking]
    rng.shuffle(rows)
    return [c for c, _ in rows], [label for _, label in rows]


def build_vectors(
    name: str, conversations: list[Turns], cache: Path, model: Path | None = None
) -> np.ndarray:
    """The vectors a build clusters (``kura__embedding_text: auto``: the local summariser's
    request, else its summary, embedded with the local model), cached as ``cache/name.npy``.
    ``model``: a sentence-transformers model folder to embed with instead of the shipped one
    (cached as ``cache/name-<folder name>.npy``)."""
    path = cache / (f"{name}.npy" if model is None else f"{name}-{model.name}.npy")
    if path.exists():
        return np.load(path)
    from kura_dbt.embeddings.local import LocalEmbedder
    from kura_dbt.summaries.local import LocalSummariser

    summariser = LocalSummariser()
    records = [
        summariser.summarise([{"role": r, "content": t} for r, t in turns])
        for turns in conversations
    ]
    texts = [r.request or r.summary or " " for r in records]
    if model is None:
        X = LocalEmbedder().embed(texts)
    else:
        from sentence_transformers import SentenceTransformer

        encoder = SentenceTransformer(str(model), device="cpu")
        X = encoder.encode(texts, batch_size=64, normalize_embeddings=True).astype(np.float32)
    np.save(path, X)
    return X


def corpus(data_dir: Path) -> list[Turns]:
    """Every conversation available offline, in a fixed order: list of (role, content) turns."""
    conversations = sgd(data_dir)[0] + oasst_threads(data_dir)
    with open(data_dir / "banking77" / "all.jsonl", encoding="utf-8") as f:
        for line in f:
            conversations.append([("user", json.loads(line)["text"])])
    conversations = [c for c in conversations if c and any(text.strip() for _, text in c)]
    random.Random(0).shuffle(conversations)  # a fixed mix of the three sources at every size
    return conversations


def write_raw(
    db: Path,
    conversations: list[Turns],
    users: list[str | None] | None = None,
    created_at: list[pd.Timestamp] | None = None,
) -> int:
    """The conversations as a user's raw tables raw.conversations and raw.messages (what
    the benchmarks' builds read); the number of messages. Without ``users`` and
    ``created_at``, user ``u<i mod 997>`` and one conversation every 13 minutes."""
    convs, msgs = [], []
    start = pd.Timestamp("2026-08-03")
    for i, turns in enumerate(conversations):
        cid = f"c{i:06d}"
        convs.append(
            {
                "conversation_id": cid,
                "user_id": f"u{i % 997:04d}" if users is None else users[i],
                "created_at": start + pd.Timedelta(minutes=13 * i)
                if created_at is None
                else created_at[i],
            }
        )
        for j, (role, text) in enumerate(turns):
            msgs.append({"conversation_id": cid, "message_index": j, "role": role, "content": text})
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists raw")
        for name, rows in (("conversations", convs), ("messages", msgs)):
            frame = pd.DataFrame(rows)
            con.register("frame", frame)
            con.execute(f"create or replace table raw.{name} as select * from frame")
            con.unregister("frame")
    return len(msgs)
