"""The loaders on hostile input: an unclosed CSV quote, ids reused across files, JSON nested
deeper than Python's parser goes, NUL-only messages, and seeded fuzz tests for every format
(CSV, JSON Lines, Claude, ChatGPT, Parquet, Arrow, a data set folder) that check the
accounting: every record of the input is loaded or kept in the rejects with a reason, never
merged into another or lost."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from kura_dbt.loaders import LoadError, load_file, parse_file
from kura_dbt.loaders.message_rules import is_blank

# ---------------------------------------------------------------------------------------------
# 1. an unclosed CSV quote


def test_an_unclosed_csv_quote_rejects_its_line_and_keeps_the_rows_after_it(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text(
        "conversation_id,role,content\n"
        'm1,user,"this quote is never closed\n'
        "m2,user,hello\n"
        "m3,user,how are you\n"
        "m4,assistant,fine\n"
    )
    result = parse_file(path)
    c = result.collector
    assert str(c.message_counts) == "4 read = 3 loaded + 0 skipped + 1 rejected"
    loaded = {
        conv.conversation_id: [m.content for m in conv.messages] for conv in result.conversations
    }
    assert loaded == {"m2": ["hello"], "m3": ["how are you"], "m4": ["fine"]}
    [issue] = c.issues
    assert (issue.record, issue.outcome, issue.reason) == (
        "line 2",
        "rejected",
        "malformed CSV quoting",
    )
    assert "line 5" in issue.detail and issue.raw_excerpt.startswith('m1,user,"this quote')


def test_a_quoted_field_over_several_lines_is_still_one_field(tmp_path):
    path = tmp_path / "chats.csv"
    path.write_text('conversation_id,role,content\nm1,user,"two\nlines"\nm2,user,"a ""quote"""\n')
    result = parse_file(path)
    assert [m.content for _, m in result.messages] == ["two\nlines", 'a "quote"']
    assert result.issues == []


# ---------------------------------------------------------------------------------------------
# 2. a conversation id reused: one policy within a file and across files


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"conversation_id": cid, "role": "user", "content": text}) + "\n"
            for cid, text in rows
        )
    )
    return path


def _stored(db: Path) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        messages = con.execute(
            "select m.conversation_id, m.content, c.source from raw.messages m "
            "join raw.conversations c using (conversation_id) order by 1"
        ).fetchall()
        rejects = con.execute(
            "select source, record, outcome, reason, conversation_id, detail, raw_excerpt "
            "from raw.load_rejects order by 1, 2"
        ).fetchall()
    return messages, rejects


def test_ids_of_another_file_are_rejected_by_default_with_the_reason(tmp_path):
    db = tmp_path / "kura.duckdb"
    a = _jsonl(tmp_path / "a.jsonl", [("x", "old x"), ("y", "old y"), ("z", "z")])
    load_file(a, db, default_user_id="me")
    b = _jsonl(tmp_path / "b.jsonl", [("x", "new x"), ("y", "old y"), ("w", "w")])
    result = load_file(b, db, default_user_id="me")
    c = result.parsed.collector
    # x differs: rejected; y is the same text: unchanged; w is new
    assert str(c.conversation_counts) == "3 read = 2 loaded + 0 skipped + 1 rejected"
    assert (result.stored.new, result.stored.updated, result.stored.unchanged) == (1, 0, 1)
    messages, rejects = _stored(db)
    assert ("x", "old x", "a.jsonl") in messages and ("w", "w", "b.jsonl") in messages
    [reject] = rejects
    assert reject[:5] == (
        "b.jsonl",
        "conversation x",
        "rejected",
        "conversation_id of another source",
        "x",
    )
    assert "'a.jsonl'" in reject[5] and "--on-duplicate" in reject[5]


def test_replace_keeps_the_old_text_in_the_rejects_and_keep_both_renames(tmp_path):
    db = tmp_path / "kura.duckdb"
    load_file(_jsonl(tmp_path / "a.jsonl", [("x", "old x"), ("y", "old y")]), db)
    load_file(_jsonl(tmp_path / "b.jsonl", [("x", "new x")]), db, on_duplicate="replace")
    keep = load_file(_jsonl(tmp_path / "c.jsonl", [("y", "new y")]), db, on_duplicate="keep-both")
    assert (keep.stored.new, keep.stored.updated) == (1, 0)
    messages, rejects = _stored(db)
    assert messages == [
        ("x", "new x", "b.jsonl"),
        ("y", "old y", "a.jsonl"),
        ("y@c.jsonl", "new y", "c.jsonl"),
    ]
    replaced = next(r for r in rejects if r[0] == "b.jsonl")
    assert replaced[3] == "replaced a conversation of another source"
    assert "old x" in replaced[6]  # the text that was replaced is kept
    # the same file again changes nothing: the renamed id is stable
    again = load_file(tmp_path / "c.jsonl", db, on_duplicate="keep-both")
    assert (again.stored.new, again.stored.updated, again.stored.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(
    ("policy", "kept", "counts"),
    [
        ("reject", {"a": "first"}, "2 read = 1 loaded + 0 skipped + 1 rejected"),
        ("replace", {"a": "second"}, "2 read = 1 loaded + 1 skipped + 0 rejected"),
        (
            "keep-both",
            {"a": "first", "a#2": "second"},
            "2 read = 2 loaded + 0 skipped + 0 rejected",
        ),
    ],
)
def test_the_same_policy_within_one_file(tmp_path, policy, kept, counts):
    path = tmp_path / "conversations.json"
    conv = {"chat_messages": [{"sender": "human", "text": "first"}], "uuid": "a"}
    second = {"chat_messages": [{"sender": "human", "text": "second"}], "uuid": "a"}
    path.write_text(json.dumps([conv, second]))
    result = parse_file(path, on_duplicate=policy)
    c = result.collector
    assert str(c.conversation_counts) == counts
    assert {x.conversation_id: x.messages[0].content for x in result.conversations} == kept
    assert all(i.conversation_id == "a" and i.reason for i in c.issues) and c.issues


def test_kura_load_on_duplicate_option(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    db = tmp_path / "k.duckdb"
    runner = CliRunner()
    a = _jsonl(tmp_path / "a.jsonl", [("x", "one")])
    b = _jsonl(tmp_path / "b.jsonl", [("x", "two")])
    assert runner.invoke(app, ["load", str(a), "--db", str(db)]).exit_code == 0
    out = " ".join(runner.invoke(app, ["load", str(b), "--db", str(db)]).output.split())
    assert "0 new, 0 updated" in out and "conversation_id of another source" in out
    bad = runner.invoke(app, ["load", str(b), "--db", str(db), "--on-duplicate", "merge"])
    assert bad.exit_code == 2 and "'merge' is not one of" in " ".join(bad.output.split())
    ok = runner.invoke(app, ["load", str(b), "--db", str(db), "--on-duplicate", "replace"])
    assert "0 new, 1 updated" in " ".join(ok.output.split())


# ---------------------------------------------------------------------------------------------
# 4. JSON nested deeper than the parser goes


def test_json_nested_10000_deep_is_one_rejected_line(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    path = tmp_path / "chats.jsonl"
    path.write_text(
        '{"conversation_id": "a", "role": "user", "content": "hi"}\n'
        f'{{"conversation_id": "b", "role": "user", "content": {deep}}}\n'
    )
    result = parse_file(path)
    [issue] = result.issues
    assert (issue.record, issue.reason) == ("line 2", "malformed JSON")
    assert issue.detail.startswith("nested too deep to read (10001 levels) at column")
    assert [c.conversation_id for c in result.conversations] == ["a"]


def test_a_claude_export_nested_10000_deep_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    deep = "[" * 10_000 + "]" * 10_000
    path = tmp_path / "conversations.json"
    path.write_text(
        '[{"uuid": "a",\n "chat_messages": [{"sender": "human", "text": "hi", '
        f'"content": {deep}}}]}}]'
    )
    with pytest.raises(
        LoadError, match=r"conversations.json: invalid JSON at line 2, column \d+: "
    ):
        parse_file(path)
    result = CliRunner().invoke(app, ["load", str(path), "--db", str(tmp_path / "k.duckdb")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "nested too deep to read (10004 levels)" in " ".join(result.output.split())


# ---------------------------------------------------------------------------------------------
# 5. NUL bytes only


def test_a_message_of_only_nul_bytes_is_empty(tmp_path):
    assert is_blank("\x00\x00\x00") and not is_blank("\x00a")
    path = _jsonl(tmp_path / "chats.jsonl", [("a", "\x00\x00\x00"), ("a", "real text")])
    result = parse_file(path)
    assert [m.content for _, m in result.messages] == ["real text"]
    [issue] = result.issues
    assert issue.outcome == "skipped" and "NUL" in issue.detail


# ---------------------------------------------------------------------------------------------
# fuzz: every record of the input is loaded or rejected with a reason, never merged or lost

N_ROWS = 12
ROUNDS = 40


def _token(i: int) -> str:
    return f"tok{i:03d}|"


def _mutate(data: bytes, rng: random.Random, quote: bytes = b'"') -> bytes:
    """One random damage: truncation, a stray quote, random bytes (newlines and quotes left
    alone, so that line structure only changes through the first two) or deep nesting."""
    kind = rng.choice(["truncate", "quote", "bytes", "nest"])
    at = rng.randrange(1, len(data))
    if kind == "truncate":
        return data[:at]
    if kind == "quote":  # often where a field starts, where it opens a quoted field
        starts = [j + 1 for j, b in enumerate(data[:-1]) if b in b",\n"]
        at = rng.choice(starts) if rng.random() < 0.6 else at
        return data[:at] + quote + data[at:]
    if kind == "nest":
        depth = rng.choice([50, 900, 5000])
        return data[:at] + b"[" * depth + b"]" * depth + data[at:]
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        j = rng.randrange(len(out))
        if out[j] not in b'\n\r"':
            out[j] = rng.choice([b for b in range(256) if b not in b'\n\r"'])
    return bytes(out)


def _check_accounting(path: Path, data: bytes, labels: dict[str, set[str]]) -> None:
    """``labels``: token -> the names its record may have (its line, or its conversation). Each
    token still in the input is in exactly one loaded message (alone), or its record has an
    issue row (or the row quotes it)."""
    try:
        result = parse_file(path)
    except LoadError as exc:
        assert str(path) in str(exc)  # the whole file refused, with its name
        return
    c = result.collector
    assert c.conversation_counts.adds_up() and c.message_counts.adds_up()
    text = data.decode("utf-8", errors="replace") if data else None
    with_issue = {i.record for i in c.issues}
    excerpts = " ".join(str(i.raw_excerpt) for i in c.issues)
    ids_with_issue = {i.conversation_id for i in c.issues}
    for token, records in labels.items():
        if text is not None and token not in text:
            continue
        holders = [m for _, m in result.messages if token in m.content]
        if holders:
            assert len(holders) == 1 and holders[0].content.count("tok") == 1, holders
            continue
        cid = f"c{token[3:6]}"
        assert records & with_issue or token in excerpts or cid in ids_with_issue, (
            token,
            c.issues,
        )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_fuzz_generic_rows(tmp_path, fmt):
    rng = random.Random(24)
    if fmt == "csv":
        lines = ["conversation_id,role,content"] + [
            f'c{i:03d},user,"{_token(i)} some text, with a comma"'
            if i % 3 == 0
            else f"c{i:03d},user,{_token(i)} plain text"
            for i in range(N_ROWS)
        ]
        first = 2
    else:
        lines = [
            json.dumps(
                {"conversation_id": f"c{i:03d}", "role": "user", "content": f"{_token(i)} text"}
            )
            for i in range(N_ROWS)
        ]
        first = 1
    data = ("\n".join(lines) + "\n").encode()
    labels = {_token(i): {f"line {first + i}"} for i in range(N_ROWS)}
    for _ in range(ROUNDS):
        mutated = _mutate(data, rng)
        path = tmp_path / f"chats.{fmt}"
        path.write_bytes(mutated)
        _check_accounting(path, mutated, labels)


def _export(fmt: str) -> tuple[str, dict[str, set[str]]]:
    """A Claude or ChatGPT export of N_ROWS one-message conversations, one per line."""
    rows = []
    for i in range(N_ROWS):
        if fmt == "claude":
            conv = {"uuid": f"c{i:03d}", "chat_messages": [{"sender": "human", "text": _token(i)}]}
        else:
            node = {
                "id": "n",
                "message": {
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": [_token(i)]},
                },
            }
            conv = {"id": f"c{i:03d}", "current_node": "n", "mapping": {"n": node}}
        rows.append(json.dumps(conv))
    labels = {_token(i): {f"conversation #{i}", f"conversation c{i:03d}"} for i in range(N_ROWS)}
    return "[\n" + ",\n".join(rows) + "\n]\n", labels


@pytest.mark.parametrize("fmt", ["claude", "chatgpt"])
def test_fuzz_exports(tmp_path, fmt):
    rng = random.Random(24)
    text, labels = _export(fmt)
    data = text.encode()
    for _ in range(ROUNDS):
        mutated = _mutate(data, rng)
        path = tmp_path / "conversations.json"
        path.write_bytes(mutated)
        try:
            result = parse_file(path, fmt=fmt)
        except LoadError as exc:
            assert str(path) in str(exc)
            continue
        c = result.collector
        # every conversation object of the (still readable) document is read and accounted for
        document = json.loads(mutated.decode("utf-8", errors="replace"))
        assert c.conversation_counts.read == len(document)
        _check_accounting(path, mutated, labels)


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_fuzz_tables(tmp_path, fmt):
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    rng = random.Random(24)
    for round_ in range(ROUNDS // 4):
        contents = []
        for i in range(N_ROWS):
            choice = rng.choice(["text", "none", "blank", "blocks", "nested"])
            contents.append(
                {
                    "text": f"{_token(i)} text",
                    "none": None,
                    "blank": "\x00 \u200b",
                    "blocks": json.dumps([{"type": "text", "text": _token(i)}]),
                    "nested": "[" * 2000 + "]" * 2000,
                }[choice]
            )
        table = pa.table(
            {
                "conversation_id": [
                    f"c{i:03d}" if rng.random() > 0.1 else None for i in range(N_ROWS)
                ],
                "role": [rng.choice(["user", "assistant", "robot", None]) for _ in range(N_ROWS)],
                "content": contents,
            }
        )
        path = tmp_path / f"chats.{fmt}"
        (pq.write_table if fmt == "parquet" else feather.write_feather)(table, path)
        if round_ % 2:
            data = path.read_bytes()
            path.write_bytes(data[: rng.randrange(8, len(data))])
        try:
            result = parse_file(path)
        except LoadError as exc:
            assert str(path) in str(exc)
            continue
        assert result.collector.message_counts.read == N_ROWS
        present = [i for i, text in enumerate(contents) if text and _token(i) in text]
        _check_accounting(path, b"", {_token(i): {f"row {i}"} for i in present})


def test_fuzz_hf_folder_of_conversation_rows(tmp_path):
    """A data set folder (--format hf, as `to_json` shards it): rows of one conversation each,
    its messages nested in a list; one shard damaged at random each round."""
    rng = random.Random(24)
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "dataset_info.json").write_text("{}")
    shards: dict[str, list[str]] = {"part-0.jsonl": [], "part-1.jsonl": []}
    labels: dict[str, set[str]] = {}
    for i in range(N_ROWS):
        name = f"part-{i % 2}.jsonl"
        messages = [
            {"role": "user", "content": f"{_token(i)} a question"},
            {"role": "assistant", "content": "an answer"},
        ]
        shards[name].append(json.dumps({"conversation_id": f"c{i:03d}", "messages": messages}))
        line = len(shards[name])
        labels[_token(i)] = {f"{name} line {line}", f"{name} line {line} (conversation c{i:03d})"}
    clean = {name: ("\n".join(rows) + "\n").encode() for name, rows in shards.items()}
    for _ in range(ROUNDS):
        damaged = rng.choice(sorted(clean))
        for name, data in clean.items():
            (folder / name).write_bytes(_mutate(data, rng) if name == damaged else data)
        everything = b"".join((folder / name).read_bytes() for name in sorted(clean))
        _check_accounting(folder, everything, labels)


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_fuzz_table_files_with_random_bytes(tmp_path, fmt):
    """Random bytes inside a Parquet or Arrow file (not only a cut): the file is refused with
    its name, or every row it yields is loaded or rejected with a reason."""
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    rng = random.Random(24)
    table = pa.table(
        {
            "conversation_id": [f"c{i:03d}" for i in range(N_ROWS)],
            "role": ["user"] * N_ROWS,
            "content": [f"{_token(i)} text" for i in range(N_ROWS)],
        }
    )
    path = tmp_path / f"chats.{fmt}"
    (pq.write_table if fmt == "parquet" else feather.write_feather)(table, path)
    clean = path.read_bytes()
    for _ in range(ROUNDS):
        data = bytearray(clean)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            result = parse_file(path)
        except LoadError as exc:
            assert str(path) in str(exc)
            continue
        c = result.collector
        assert c.conversation_counts.adds_up() and c.message_counts.adds_up()
        assert c.message_counts.read == N_ROWS  # the file's rows, damaged or not
        loaded = " ".join(m.content for _, m in result.messages)
        with_issue = {i.record.split(" (")[0] for i in c.issues}
        for i in range(N_ROWS):  # each row is loaded once, or has its reason
            assert loaded.count(_token(i)) == 1 or f"row {i}" in with_issue, (i, c.issues)
