"""`kura load` and the loaders: real and constructed exports, generic files, bad input, idempotence.

Every test checks the rows that come out, and every parse checks that the counts add up."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from kura_dbt.loaders import ColumnMap, LoadError, load_file, parse_file, parse_timestamp

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "exports"
SHARED = REPO.parent / "shared" / "data" / "export_fixtures"

duckdb = pytest.importorskip("duckdb")

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason=f"the real export fixtures are not on this machine (expected in {SHARED})",
)


def parsed(path, **kwargs):
    result = parse_file(path, **kwargs)
    c = result.collector
    for counts in (c.conversation_counts, c.message_counts):
        assert counts.read == counts.loaded + counts.skipped + counts.rejected
    assert c.message_counts.loaded == len(result.messages)
    return result


def counts(result):
    c = result.collector
    cc, mc = c.conversation_counts, c.message_counts
    return (
        (cc.read, cc.loaded, cc.skipped, cc.rejected),
        (mc.read, mc.loaded, mc.skipped, mc.rejected),
    )


def reasons(result):
    return Counter((i.outcome, i.reason) for i in result.issues)


def by_id(result):
    return {c.conversation_id: c for c in result.conversations}


# ---------------------------------------------------------------------------------------------
# real exports (read-only, outside the repository)


@needs_shared
def test_real_claude_exports():
    example = parsed(SHARED / "claude" / "claude_to_sqlite_example.json")
    assert example.format == "claude"
    assert counts(example) == ((1, 1, 0, 0), (2, 2, 0, 0))
    conv = example.conversations[0]
    assert conv.conversation_id == "1db4c66e-b369-4e3a-96a9-6c16f8301ee8"
    assert conv.user_id == "2a0434bc-651f-407a-bc74-bdc295dc009b"
    assert conv.title == "Bash Command for OpenAI API"
    assert conv.created_at == datetime(2024, 10, 18, 5, 30, 10, 325754)
    first, second = conv.messages
    assert (first.message_index, first.role) == (0, "user")  # sender human
    assert first.content == (
        "Turn this into a bash command\n\n[file: CleanShot 20241017 at 22.29.542x.png]"
    )
    assert (second.message_index, second.role) == (1, "assistant")
    assert second.content.startswith(" To turn this into a bash command")

    artifacts = parsed(SHARED / "claude" / "claude_to_sqlite_artifacts.json")
    assert counts(artifacts) == ((1, 1, 0, 0), (20, 20, 0, 0))
    messages = artifacts.conversations[0].messages
    assert [m.message_index for m in messages] == list(range(20))
    assert Counter(m.role for m in messages) == {"user": 10, "assistant": 10}
    assert artifacts.collector.notes["claude: files kept as [file: file name]"] == 5
    assert not artifacts.issues


@needs_shared
def test_real_chatgpt_export():
    result = parsed(SHARED / "chatgpt" / "chatgpt2graph_conversations.json")
    assert result.format == "chatgpt"
    # 44 messages on the tree (one branch): the 2 empty hidden system messages are skipped
    assert counts(result) == ((1, 1, 0, 0), (44, 42, 2, 0))
    assert reasons(result) == {("skipped", "hidden or empty system message"): 2}
    conv = result.conversations[0]
    assert conv.conversation_id == "966da5c4-5bb7-4e4d-ab6d-a7316b96266e"
    assert conv.title == "Average Distance in U(0,1)"
    assert conv.user_id == "chatgpt2graph_conversations.json"  # no account id: one export, one user
    roles = Counter(m.role for m in conv.messages)
    assert roles == {"user": 8, "assistant": 23, "tool": 11}
    first = conv.messages[0]
    assert (first.message_index, first.role) == (2, "user")
    assert first.content.startswith("given two random independent variables x,y in U(0,1)")
    assert first.created_at == datetime(2023, 9, 21, 19, 57, 53, 969279)
    code = conv.messages[2]
    assert code.role == "assistant" and code.content.startswith("```\nfrom sympy import")
    assert conv.messages[3].role == "tool" and conv.messages[3].content == "[execution_output]\n0"
    assert "[execution_output]\n[image]" in [m.content for m in conv.messages]
    assert result.collector.notes["chatgpt: code kept as a fenced block"] == 11
    assert conv.messages[-1].source_message_id == "875ad56f-8b75-4e69-9fdc-f96acf212f9c"


# ---------------------------------------------------------------------------------------------
# constructed exports


def test_chatgpt_branches_follow_current_node():
    result = parsed(FIXTURES / "chatgpt_branched.json")
    assert counts(result) == ((2, 2, 0, 0), (12, 6, 6, 0))
    conv = by_id(result)["cgpt-branched-1"]
    assert [(m.message_index, m.role, m.content) for m in conv.messages] == [
        (1, "user", "How do I reverse a list in Python without copying it?"),
        (2, "assistant", "Call my_list.reverse(): it reverses the list in place."),
        (3, "user", "[image]\nHere is my traceback, what went wrong?"),
        (5, "assistant", "reverse() returns None, so assigning its result gives you None."),
    ]
    texts = " ".join(m.content for m in conv.messages)
    assert "reversed(my_list)" not in texts and "use a loop" not in texts  # other branches
    assert conv.created_at == datetime(2024, 6, 1, 10, 0, 0, 500000)
    off = sorted(
        i.record.rsplit(" ", 1)[1] for i in result.issues if i.reason == "not on the current branch"
    )
    assert off == ["a1", "a2", "b1x", "u1"]
    assert reasons(result) == {
        ("skipped", "not on the current branch"): 4,
        ("skipped", "hidden or empty system message"): 1,
        ("skipped", "no text"): 1,  # the reasoning node
        ("loaded_with_fix", "current_node missing; latest leaf followed"): 1,
    }
    assert result.collector.notes["chatgpt: image parts kept as [image]"] == 1
    assert result.collector.notes["chatgpt: reasoning (thoughts) dropped"] == 1
    haiku = by_id(result)["cgpt-no-current-node"]
    assert [m.content for m in haiku.messages] == [
        "Write a haiku about rain.",
        "Soft rain on cedar / the gutters hum",
    ]
    assert haiku.created_at == datetime(2024, 6, 2, 9, 0)


def test_claude_content_blocks():
    result = parsed(FIXTURES / "claude_content_blocks.json")
    assert counts(result) == ((2, 2, 0, 0), (8, 6, 2, 0))
    conv = by_id(result)["claude-new-1"]
    assert conv.user_id == "acct-7"
    assert [(m.message_index, m.role, m.content) for m in conv.messages] == [
        (
            0,
            "user",
            (
                "What's the weather in Lisbon this weekend? I attached my itinerary."
                "\n\n[attachment: itinerary.txt]"
            ),
        ),
        (
            1,
            "assistant",
            (
                "[tool_use: web_search]\n\n[tool_result: web_search]\n\nExpect sun on "
                "Saturday (around 19°C) and showers on Sunday, so pack a light jacket "
                "for Sintra."
            ),
        ),
        (2, "user", "Thanks! Can you make that a packing list?"),  # content only, no text
        (
            3,
            "assistant",
            ("Packing list: light jacket, umbrella, sunglasses, walking shoes.\n\n[image]"),
        ),  # text field kept, blocks without text
    ]
    assert "user wants a forecast" not in " ".join(m.content for m in conv.messages)
    notes = result.collector.notes
    assert notes["claude: thinking blocks dropped"] == 3
    assert notes["claude: tool_use blocks kept as [tool_use: name]"] == 1
    assert notes["claude: tool_result blocks kept as [tool_result: name]"] == 1
    assert notes["claude: image blocks kept as [image]"] == 1
    retry = by_id(result)["claude-new-2"]
    assert [m.source_message_id for m in retry.messages] == ["m-b1", "m-b2r"]
    assert reasons(result) == {
        ("skipped", "no text"): 1,
        ("skipped", "not on the current branch"): 1,
    }
    skipped = next(i for i in result.issues if i.reason == "no text")
    assert (skipped.conversation_id, skipped.message_index) == ("claude-new-1", 4)


def test_the_zip_file_as_downloaded(tmp_path):
    import zipfile

    archive = tmp_path / "data-2025-03-01.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("users.json", "[]")
        z.write(FIXTURES / "claude_content_blocks.json", "conversations.json")
    result = parsed(archive)
    assert (result.format, result.source) == ("claude", "data-2025-03-01.zip")
    assert sorted(by_id(result)) == ["claude-new-1", "claude-new-2"]
    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(LoadError, match="without conversations.json"):
        parse_file(empty)


# ---------------------------------------------------------------------------------------------
# generic formats


def test_csv_one_row_per_message_with_column_options():
    columns = ColumnMap(
        conversation_id="chat",
        role="who",
        content="body",
        message_index="turn",
        created_at="sent",
        user_id="account",
    )
    result = parsed(FIXTURES / "messages.csv", columns=columns)
    assert result.format == "csv"
    assert counts(result) == ((3, 2, 0, 1), (11, 7, 2, 2))
    c1, c2 = by_id(result)["c1"], by_id(result)["c2"]
    assert c1.user_id == "u-1"
    assert [m.created_at for m in c1.messages] == [
        datetime(2024, 5, 1, 9, 0),
        datetime(2024, 5, 1, 9, 0, 5),
        datetime(2024, 5, 1, 9, 1),
        datetime(2024, 5, 1, 9, 1, 5),
    ]  # ISO Z, ISO, epoch s, epoch ms
    assert (
        c1.messages[2].content
        == "Order 1234, and please hurry.\nIt's the second time this happens."
    )
    assert [(m.message_index, m.role, m.content) for m in c2.messages] == [
        (0, "user", "How do I change my PIN?"),
        (1, "assistant", "Open the app, go to Card, then Change PIN."),
        (4, "user", "Thanks!"),
    ]
    assert c2.messages[0].created_at == datetime(2024, 5, 2, 10, 30)  # YYYY/MM/DD HH:MM
    assert c2.messages[1].created_at is None
    issues = {(i.record, i.reason): i for i in result.issues}
    # records are named by the line they start on (line 1 is the header; line 4 spans two lines)
    assert issues[("line 8", "unparseable timestamp stored as NULL")].field == "sent"
    assert issues[("line 9", "unknown role")].field == "who"
    assert issues[("line 10", "no text")].outcome == "skipped"
    assert (
        issues[("line 12", "duplicate message index")].detail
        == "line 11 has this index and is kept"
    )
    assert issues[("line 13", "no text")].conversation_id == "c3"
    assert issues[("conversation c3", "no usable messages")].outcome == "rejected"


def test_csv_missing_column_is_an_error_naming_the_option():
    with pytest.raises(
        LoadError, match=r"messages\.csv: no conversation_id column .*--conversation-id-column"
    ):
        parse_file(FIXTURES / "messages.csv")
    with pytest.raises(LoadError, match=r"no column 'speaker' \(--role-column\)"):
        parse_file(
            FIXTURES / "messages.csv", columns=ColumnMap(conversation_id="chat", role="speaker")
        )


def test_jsonl_one_conversation_per_line():
    result = parsed(FIXTURES / "conversations.jsonl")
    assert counts(result) == ((5, 3, 0, 2), (7, 5, 0, 2))
    j1, j2, j5 = (by_id(result)[k] for k in ("j1", "j2", "j5"))
    assert [(m.role, m.content) for m in j1.messages] == [
        ("user", "Translate 'good morning' into Portuguese."),
        ("assistant", "Bom dia."),
    ]
    assert (j1.user_id, j1.created_at) == ("u-9", datetime(2024, 7, 1, 12, 0))
    assert j2.created_at == datetime(2024, 7, 1, 12, 0)  # earliest message, epoch seconds
    assert [(m.message_index, m.content) for m in j5.messages] == [(2, "Is this kept?")]
    found = reasons(result)
    assert found[("rejected", "malformed JSON")] == 1
    assert found[("rejected", "empty conversation")] == 1
    assert found[("rejected", "missing field")] == 1
    assert found[("rejected", "wrong type")] == 1
    malformed = next(i for i in result.issues if i.reason == "malformed JSON")
    assert malformed.record == "line 3" and "column" in malformed.detail


def test_parquet_arrow_and_hf_folder(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from pyarrow import feather

    # one row per message, odd column names mapped by options
    per_message = pa.table(
        {
            "thread": ["t1", "t1", "t2", "t2"],
            "speaker": ["user", "assistant", "user", "assistant"],
            "utterance": ["Book a table for two", "Done, 7pm.", "Cancel my order", "Cancelled."],
            "ts": pa.array([1_700_000_000_000, 1_700_000_005_000, 1_700_000_100_000, None]),
        }
    )
    pq.write_table(per_message, tmp_path / "train.parquet")
    columns = ColumnMap(
        conversation_id="thread", role="speaker", content="utterance", created_at="ts"
    )
    result = parsed(tmp_path / "train.parquet", columns=columns)
    assert result.format == "parquet"
    assert counts(result) == ((2, 2, 0, 0), (4, 4, 0, 0))
    assert [m.content for m in by_id(result)["t2"].messages] == ["Cancel my order", "Cancelled."]
    assert by_id(result)["t1"].created_at == datetime(2023, 11, 14, 22, 13, 20)

    # one conversation per row with a list of messages (the usual chat data set shape)
    per_conversation = pa.table(
        {
            "id": ["a", "b"],
            "messages": [
                [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                [{"role": "user", "content": "bye"}],
            ],
        }
    )
    feather.write_feather(per_conversation, tmp_path / "chats.feather")
    result = parsed(tmp_path / "chats.feather")
    assert result.format == "arrow"
    assert counts(result) == ((2, 2, 0, 0), (3, 3, 0, 0))
    assert [m.content for m in by_id(result)["a"].messages] == ["hi", "hello"]

    # a save_to_disk folder: Arrow IPC *stream* files plus the metadata files, no ids
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "dataset_info.json").write_text("{}")
    (folder / "state.json").write_text("{}")
    no_ids = per_conversation.drop_columns(["id"])
    with (
        pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, no_ids.schema) as writer,
    ):
        writer.write_table(no_ids)
    first = parsed(folder)
    again = parsed(folder)
    assert first.format == "hf"
    assert counts(first) == ((2, 2, 0, 0), (3, 3, 0, 0))
    ids = [c.conversation_id for c in first.conversations]
    assert all(i.startswith("sha1:") for i in ids)
    assert ids == [c.conversation_id for c in again.conversations]  # stable without ids


def test_json_lines_in_a_json_file_and_a_json_list(tmp_path):
    rows = [
        {"conversation_id": "x", "role": "user", "text": "first"},
        {"conversation_id": "x", "role": "assistant", "text": "second"},
    ]
    lines = tmp_path / "data.json"  # what datasets' to_json writes: JSON Lines named .json
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(rows))
    for path in (lines, listed):
        result = parsed(path)
        assert result.format == "jsonl"
        assert [(m.message_index, m.content) for m in result.conversations[0].messages] == [
            (0, "first"),
            (1, "second"),
        ]


# ---------------------------------------------------------------------------------------------
# bad input


def _claude(conversations):
    return json.dumps(conversations)


def _claude_conv(uuid, *texts, sender="human"):
    return {
        "uuid": uuid,
        "name": uuid,
        "created_at": "2024-01-01T00:00:00Z",
        "account": {"uuid": "acct"},
        "chat_messages": [
            {
                "uuid": f"{uuid}-{i}",
                "sender": sender if i % 2 == 0 else "assistant",
                "text": t,
                "created_at": "2024-01-01T00:00:01Z",
            }
            for i, t in enumerate(texts)
        ],
    }


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text('[\n  {"uuid": "a", "chat_messages": [\n    {"text": "hi",}\n  ]}\n]\n')
    with pytest.raises(LoadError) as info:
        parse_file(path, fmt="claude")
    assert str(path) in str(info.value)
    assert re.search(r"invalid JSON at line 3, column \d+", str(info.value))


@pytest.mark.parametrize(
    "content, fmt, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "auto", "cannot tell the format"),
        (b"", "auto", "the file is empty"),
        (b'[{"title": "x", "mapping": {}}]', "claude", "not a Claude export.*try --format chatgpt"),
        (
            b'[{"uuid": "x", "chat_messages": []}]',
            "chatgpt",
            "not a ChatGPT export.*try --format claude",
        ),
        (b'{"a": 1}', "auto", "cannot tell the format"),
        (b"just some words\nand more words\n", "jsonl", "not JSON Lines"),
        (b"not a parquet file", "parquet", "not a Parquet file"),
    ],
)
def test_wrong_format_files_are_errors(tmp_path, content, fmt, message):
    path = tmp_path / "export.bin"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message):
        parse_file(path, fmt=fmt)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        parse_file(tmp_path / "nope.json")


def test_missing_fields_empty_conversations_and_no_text(tmp_path):
    data = [
        _claude_conv("ok", "hello", "hi there"),
        {"name": "no id", "chat_messages": [{"sender": "human", "text": "lost?"}]},
        {"uuid": "no-messages-field", "name": "x"},
        {"uuid": "not-a-list", "chat_messages": "oops"},
        {"uuid": "empty", "chat_messages": []},
        {"uuid": "blank", "chat_messages": [{"sender": "human", "text": "   "}]},
        {
            "uuid": "bad-msgs",
            "chat_messages": [
                {"text": "no sender"},
                {"sender": "robot", "text": "who am I"},
                "a string",
                {"sender": "human", "text": "kept", "created_at": "2024/02/03 04:05"},
            ],
        },
        "not an object",
    ]
    path = tmp_path / "claude.json"
    path.write_text(_claude(data))
    result = parsed(path)
    assert counts(result) == ((8, 2, 0, 6), (8, 3, 1, 4))
    assert sorted(by_id(result)) == ["bad-msgs", "ok"]
    kept = by_id(result)["bad-msgs"].messages
    assert [(m.message_index, m.content, m.created_at) for m in kept] == [
        (3, "kept", datetime(2024, 2, 3, 4, 5))
    ]
    issues = {(i.record, i.reason): i for i in result.issues}
    assert issues[("conversation #1", "missing conversation id")].field == "uuid"
    assert (
        "its 1 messages are rejected"
        in issues[("conversation #1", "missing conversation id")].detail
    )
    assert issues[("conversation no-messages-field", "missing field")].field == "chat_messages"
    assert issues[("conversation not-a-list", "wrong type")].field == "chat_messages"
    assert ("conversation empty", "empty conversation") in issues
    assert ("conversation blank", "no usable messages") in issues
    assert issues[("conversation bad-msgs message #0", "missing field")].field == "sender"
    assert issues[("conversation bad-msgs message #1", "unknown role")].detail == "sender 'robot'"
    assert ("conversation bad-msgs message #2", "not an object") in issues
    assert ("conversation #7", "not an object") in issues


def test_duplicate_conversation_ids(tmp_path):
    path = tmp_path / "claude.json"
    path.write_text(
        _claude(
            [
                _claude_conv("a", "one", "two"),
                _claude_conv("a", "one", "two"),
                _claude_conv("a", "one", "changed"),
                _claude_conv("b", "x"),
            ]
        )
    )
    result = parsed(path)
    assert counts(result) == ((4, 2, 1, 1), (7, 3, 2, 2))
    assert [m.content for m in by_id(result)["a"].messages] == ["one", "two"]  # the first is kept
    assert reasons(result) == {
        ("skipped", "exact duplicate conversation"): 1,
        ("rejected", "duplicate conversation_id"): 1,
    }


def test_invalid_utf8_is_replaced_and_recorded(tmp_path):
    path = tmp_path / "chats.jsonl"
    good = json.dumps({"conversation_id": "u", "role": "user", "content": "caf"}).encode()
    bad = good.replace(b"caf", b"caf\xe9 cr\xff\xfeme")
    path.write_bytes(good + b"\n" + bad + b"\n")
    result = parsed(path)
    assert counts(result) == ((1, 1, 0, 0), (2, 2, 0, 0))
    assert result.conversations[0].messages[1].content == "caf\ufffd cr\ufffd\ufffdme"
    fixes = [i for i in result.issues if i.outcome == "loaded_with_fix"]
    # one row per line, as <schema>.load_rejects keeps them; every replacement is counted
    assert [(i.record, i.reason) for i in fixes] == [
        ("line 2", "invalid UTF-8 replaced with U+FFFD")
    ]
    assert fixes[0].detail.startswith("3 invalid byte sequences: byte offset 115: b'\\xe9'; ")
    assert result.collector.fixes["invalid UTF-8 replaced with U+FFFD"] == 3


def test_invalid_bytes_are_located_by_line_and_capped_but_all_counted():
    from kura_dbt.loaders.core import Collector, decode_bytes

    lines = [b"ok", b"bad \xe9", b"ok", b"ok", b"bad \xff here", b"ok", b"bad \xfe"]
    collector = Collector("test")
    text = decode_bytes(b"\n".join(lines), collector, max_issue_rows=2)
    assert text.splitlines()[1] == "bad \ufffd" and text.count("\ufffd") == 3
    assert [i.record for i in collector.issues] == ["line 2", "line 5"]  # two rows at most
    assert collector.fixes["invalid UTF-8 replaced with U+FFFD"] == 3  # every one counted


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-05-01T09:00:00Z", datetime(2024, 5, 1, 9, 0)),
        ("2024-05-01T09:00:00.123456Z", datetime(2024, 5, 1, 9, 0, 0, 123456)),
        ("2024-05-01T11:00:00+02:00", datetime(2024, 5, 1, 9, 0)),
        ("2024-05-01T09:00:00", datetime(2024, 5, 1, 9, 0)),
        ("2024-05-01 09:00", datetime(2024, 5, 1, 9, 0)),
        ("2024/05/01 09:00", datetime(2024, 5, 1, 9, 0)),
        ("2024/05/01 09:00:30", datetime(2024, 5, 1, 9, 0, 30)),
        (1714554000, datetime(2024, 5, 1, 9, 0)),
        (1714554000.5, datetime(2024, 5, 1, 9, 0, 0, 500000)),
        ("1714554000", datetime(2024, 5, 1, 9, 0)),
        (1714554000000, datetime(2024, 5, 1, 9, 0)),
        ("1714554000000", datetime(2024, 5, 1, 9, 0)),
        (1714554000000000, datetime(2024, 5, 1, 9, 0)),
        ("Wed, 01 May 2024 09:00:00 GMT", datetime(2024, 5, 1, 9, 0)),
        ("2024-05-01 09:00:00 UTC", datetime(2024, 5, 1, 9, 0)),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_in_odd_formats(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-45", True, {"a": 1}, float("nan")])
def test_unreadable_timestamps_raise(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_a_message_of_several_megabytes_is_kept_whole(tmp_path):
    big = "All work and no play makes Jack a dull boy. " * 100_000  # 4.4 MB
    path = tmp_path / "claude.json"
    path.write_text(_claude([_claude_conv("big", "summarise this", big)]))
    result = parsed(path)
    assert counts(result) == ((1, 1, 0, 0), (2, 2, 0, 0))
    assert result.conversations[0].messages[1].content == big
    db = tmp_path / "big.duckdb"
    load_file(path, db)
    con = duckdb.connect(str(db))
    assert con.execute(
        "select length(content) from raw.messages where message_index = 1"
    ).fetchall() == [(len(big),)]
    con.close()


# ---------------------------------------------------------------------------------------------
# DuckDB: idempotent loads, newer exports


def _tables(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            con.execute(
                "select conversation_id, user_id, created_at, title, message_count, "
                "content_hash, loaded_at from raw.conversations order by 1"
            ).fetchall(),
            con.execute(
                "select conversation_id, message_index, role, content, created_at "
                "from raw.messages order by 1, 2"
            ).fetchall(),
            con.execute(
                "select source, record, outcome, reason, field from raw.load_rejects "
                "order by 1, 2, 4"
            ).fetchall(),
        )
    finally:
        con.close()


def test_loading_twice_changes_nothing_and_a_newer_export_updates_only_changes(tmp_path):
    db = tmp_path / "kura.duckdb"
    first = [
        _claude_conv("a", "one", "two", "three"),
        _claude_conv("b", "x", "y"),
        {"uuid": "bad", "chat_messages": []},
    ]
    path = tmp_path / "conversations.json"
    path.write_text(_claude(first))
    done = load_file(path, db, source="my-claude")
    assert (done.stored.new, done.stored.updated, done.stored.unchanged) == (2, 0, 0)
    before = _tables(db)
    assert len(before[0]) == 2 and len(before[1]) == 5
    assert before[2] == [
        ("my-claude", "conversation bad", "rejected", "empty conversation", "messages")
    ]

    again = load_file(path, db, source="my-claude")
    assert (again.stored.new, again.stored.updated, again.stored.unchanged) == (0, 0, 2)
    assert (again.stored.rejects_added, again.stored.rejects_already_recorded) == (0, 1)
    assert _tables(db) == before  # same rows, same loaded_at

    # a newer export: "a" was edited down to two turns, "b" unchanged, "c" new, "bad" still bad
    newer = tmp_path / "conversations-2.json"
    newer.write_text(
        _claude(
            [
                _claude_conv("a", "one", "TWO"),
                _claude_conv("b", "x", "y"),
                _claude_conv("c", "new"),
                {"uuid": "bad", "chat_messages": []},
            ]
        )
    )
    update = load_file(newer, db, source="my-claude")
    assert (update.stored.new, update.stored.updated, update.stored.unchanged) == (1, 1, 1)
    conversations, messages, rejects = _tables(db)
    assert [(r[0], r[4]) for r in conversations] == [("a", 2), ("b", 2), ("c", 1)]
    assert [(m[0], m[1], m[3]) for m in messages] == [
        ("a", 0, "one"),
        ("a", 1, "TWO"),
        ("b", 0, "x"),
        ("b", 1, "y"),
        ("c", 0, "new"),
    ]
    assert conversations[1] == before[0][1]  # b untouched
    assert len(rejects) == 1


# ---------------------------------------------------------------------------------------------
# the command


def test_kura_load_command_twice(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    db = tmp_path / "chats.duckdb"
    runner = CliRunner()
    fixture = str(FIXTURES / "chatgpt_branched.json")
    first = runner.invoke(app, ["load", fixture, "--db", str(db)])
    assert first.exit_code == 0, first.output
    out = " ".join(first.output.split())
    assert "conversations: 2 read = 2 loaded + 0 skipped + 0 rejected" in out
    assert "messages: 12 read = 6 loaded + 6 skipped + 0 rejected" in out
    assert "2 new, 0 updated, 0 unchanged" in out
    assert "not on the current branch" in out
    tables = _tables(db)
    assert [(r[0], r[4]) for r in tables[0]] == [
        ("cgpt-branched-1", 4),
        ("cgpt-no-current-node", 2),
    ]
    assert len(tables[1]) == 6 and len(tables[2]) == 7

    second = runner.invoke(app, ["load", fixture, "--db", str(db), "--format", "chatgpt"])
    assert second.exit_code == 0, second.output
    out = " ".join(second.output.split())
    assert "messages: 12 read = 6 loaded + 6 skipped + 0 rejected" in out
    assert "0 new, 0 updated, 2 unchanged" in out
    assert "0 new rows in raw.load_rejects (7 already there)" in out
    assert _tables(db) == tables


def test_kura_load_command_fails_on_unreadable_file(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    bad = tmp_path / "conversations.json"
    bad.write_text('[{"uuid": "a", "chat_messages": [}]')
    result = CliRunner().invoke(app, ["load", str(bad), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "cannot read" in out and "conversations.json" in out
    assert "invalid JSON at line 1, column 34" in out
    assert not (tmp_path / "x.duckdb").exists()

    good = tmp_path / "good.jsonl"
    good.write_text('{"conversation_id": "a", "role": "user", "content": "hi"}\n')
    result = CliRunner().invoke(
        app, ["load", str(good), "--format", "word", "--db", str(tmp_path / "y.duckdb")]
    )
    assert result.exit_code == 2  # a usage error, before anything is read
    assert "'word' is not one of" in " ".join(result.output.split())
    assert not (tmp_path / "y.duckdb").exists()


# ---------------------------------------------------------------------------------------------
# hardening: roles, lone surrogates, invisible content, messages (issue "Hardening")

INVISIBLE = "\u200b\u200c\u200d\ufeff"


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_one_role_map_for_the_loaders_the_summariser_and_dbt():
    """The loaders, the summariser's Message and the dbt staging model use one map: the JSON
    object in macros/input/message_rules.sql (the staging model's CASE is generated from it)."""
    from kura_dbt.loaders import core
    from kura_dbt.loaders.message_rules import MACRO_FILE, ROLE_ALIASES, ROLES
    from kura_dbt.summaries.schema import Message

    macro = (REPO / "macros/input/message_rules.sql").read_text()
    block = re.search(r"set role_aliases = (\{.*?\})\s*-?%\}", macro, re.S)
    assert json.loads(block.group(1)) == ROLE_ALIASES
    assert MACRO_FILE.resolve() == (REPO / "macros/input/message_rules.sql").resolve()
    assert core.ROLE_ALIASES is ROLE_ALIASES
    assert set(ROLE_ALIASES.values()) == set(ROLES)
    # the roles the three maps used to disagree on
    for alias, role in {
        "customer": "user",
        "agent": "assistant",
        "chatbot": "assistant",
        "tool_result": "tool",
        "client": "user",
        "observation": "tool",
    }.items():
        assert ROLE_ALIASES[alias] == role
    for alias, role in ROLE_ALIASES.items():
        assert core.normalise_role(f" {alias.upper()}\t") == role
        assert Message(role=alias, content="x").role == role
    assert Message(role="narrator", content="x").role == "narrator"  # flagged unknown_role


def test_customer_and_agent_roles_load_and_site_aliases_extend_the_map(tmp_path):
    path = _jsonl(
        tmp_path / "support.jsonl",
        [
            {"conversation_id": "s1", "role": "customer", "content": "My parcel is late."},
            {"conversation_id": "s1", "role": "agent", "content": "Sorry, let me check."},
            {"conversation_id": "s1", "role": "operator", "content": "Escalated."},
        ],
    )
    result = parsed(path)
    assert [m.role for m in result.conversations[0].messages] == ["user", "assistant"]
    assert reasons(result) == {("rejected", "unknown role"): 1}
    site = parsed(path, role_aliases={"Operator": "assistant", "agent": None})
    assert [(m.message_index, m.role) for m in site.conversations[0].messages] == [
        (0, "user"),
        (2, "assistant"),
    ]
    assert reasons(site) == {("rejected", "unknown role"): 1}  # agent is no longer a role
    with pytest.raises(ValueError, match="'robot'.*one of user, assistant, system, tool"):
        parse_file(path, role_aliases={"operator": "robot"})


def test_kura_load_role_alias_option(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    path = _jsonl(
        tmp_path / "support.jsonl",
        [
            {"conversation_id": "s1", "role": "customer", "content": "Hello, my order?"},
            {"conversation_id": "s1", "role": "operator", "content": "On its way."},
        ],
    )
    db = str(tmp_path / "x.duckdb")
    result = CliRunner().invoke(
        app, ["load", str(path), "--db", db, "--role-alias", "operator=assistant"]
    )
    assert result.exit_code == 0, result.output
    assert "messages: 2 read = 2 loaded + 0 skipped + 0 rejected" in " ".join(result.output.split())
    bad = CliRunner().invoke(app, ["load", str(path), "--db", db, "--role-alias", "operator"])
    assert bad.exit_code == 2 and "NAME=ROLE" in " ".join(bad.output.split())


def test_a_lone_utf16_surrogate_is_replaced_and_recorded_with_its_line(tmp_path):
    """JSON may escape half of a surrogate pair (an emoji cut in half); Python decodes it to a
    lone surrogate that no UTF-8 writer accepts. It is repaired like invalid UTF-8."""
    path = tmp_path / "chats.jsonl"
    path.write_text(
        '{"conversation_id": "a", "role": "user", "content": "fine \\ud83d\\ude00"}\n'
        '{"conversation_id": "a", "role": "assistant", "content": "emoji cut in half \\ud83d"}\n'
        '{"conversation_id": "a", "role": "user", "content": "\\udc00 and \\\\ud83d \\ud83d!"}\n'
    )
    result = parsed(path)
    assert counts(result) == ((1, 1, 0, 0), (3, 3, 0, 0))
    assert [m.content for m in result.conversations[0].messages] == [
        "fine \U0001f600",
        "emoji cut in half \ufffd",
        "\ufffd and \\ud83d \ufffd!",  # an escaped backslash is not an escape
    ]
    fixes = [i for i in result.issues if i.outcome == "loaded_with_fix"]
    reason = "lone UTF-16 surrogate replaced with U+FFFD"
    assert [(i.record, i.reason) for i in fixes] == [("line 2", reason), ("line 3", reason)]
    assert "\\ud83d" in fixes[0].detail and "2 lone surrogates" in fixes[1].detail
    assert result.collector.fixes[reason] == 3
    db = tmp_path / "chats.duckdb"
    loaded = load_file(path, db)
    assert loaded.stored.new == 1 and loaded.stored.rejects_added == 2
    assert _tables(db)[1][1][3] == "emoji cut in half \ufffd"


def test_a_lone_surrogate_in_a_claude_export_does_not_stop_the_load(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    path = tmp_path / "conversations.json"
    path.write_text(_claude([_claude_conv("a", "hi \ud83d", "hello"), _claude_conv("b", "ok")]))
    assert "\\ud83d" in path.read_text()
    result = parsed(path)
    assert counts(result) == ((2, 2, 0, 0), (3, 3, 0, 0))
    assert by_id(result)["a"].messages[0].content == "hi \ufffd"
    db = tmp_path / "x.duckdb"
    out = CliRunner().invoke(app, ["load", str(path), "--db", str(db)])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "lone UTF-16 surrogate replaced with U+FFFD" in text
    assert _tables(db)[2] == [
        (
            "conversations.json",
            "line 1",
            "loaded_with_fix",
            "lone UTF-16 surrogate replaced with U+FFFD",
            "string",
        )
    ]


def test_invisible_content_is_no_text(tmp_path):
    """Zero-width characters, joiners and a BOM are not content: skipped like empty messages."""
    path = _jsonl(
        tmp_path / "chats.jsonl",
        [
            {"conversation_id": "a", "role": "user", "content": "Plan a trip to Porto."},
            {"conversation_id": "a", "role": "assistant", "content": INVISIBLE},
            {"conversation_id": "b", "role": "user", "content": f" {INVISIBLE}\u2060\u00ad\n"},
            {"conversation_id": "c", "role": "user", "content": f"{INVISIBLE}ok"},
        ],
    )
    result = parsed(path)
    assert counts(result) == ((3, 2, 0, 1), (4, 2, 2, 0))
    assert reasons(result) == {("skipped", "no text"): 2, ("rejected", "no usable messages"): 1}
    skipped = [i for i in result.issues if i.outcome == "skipped"]
    assert all("invisible" in i.detail for i in skipped)
    assert [m.content for m in by_id(result)["c"].messages] == [f"{INVISIBLE}ok"]

    claude = tmp_path / "conversations.json"
    claude.write_text(_claude([_claude_conv("x", "Hi there", INVISIBLE)]))
    assert counts(parsed(claude)) == ((1, 1, 0, 0), (2, 1, 1, 0))
    sharegpt = _jsonl(
        tmp_path / "sharegpt.jsonl",
        [{"id": "y", "conversations": [{"from": "human", "value": "\ufeff\u200b"}]}],
    )
    assert counts(parsed(sharegpt)) == ((1, 0, 0, 1), (1, 0, 1, 0))


def test_invisible_chatgpt_message_is_no_text(tmp_path):
    def node(nid, parent, role, text, children):
        return {
            "id": nid,
            "parent": parent,
            "children": children,
            "message": {
                "id": nid,
                "author": {"role": role},
                "create_time": 1700000000,
                "content": {"content_type": "text", "parts": [text]},
            },
        }

    export = [
        {
            "id": "g",
            "title": "t",
            "create_time": 1700000000,
            "current_node": "n2",
            "mapping": {
                "n1": node("n1", None, "user", "Tell me a joke.", ["n2"]),
                "n2": node("n2", "n1", "assistant", INVISIBLE, []),
            },
        }
    ]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(export))
    result = parsed(path)
    assert counts(result) == ((1, 1, 0, 0), (2, 1, 1, 0))
    assert reasons(result) == {("skipped", "no text"): 1}


def test_json_errors_are_whole_sentences(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text(
        '{"conversation_id": "a", "role": "user", "content": "ok"}\n'
        '{"conversation_id": "a", "role": "user", "content": "cut off\n'
    )
    result = parsed(path)
    bad = next(i for i in result.issues if i.reason == "malformed JSON")
    assert bad.detail == "Unterminated string starting at column 53"
    whole = tmp_path / "conversations.json"
    whole.write_text('[{"uuid": "a", "chat_messages": [{"text": "no end}]}]')
    with pytest.raises(LoadError) as info:
        parse_file(whole, fmt="claude")
    message = str(info.value)
    assert " at at " not in message and not message.endswith(" at")
    assert message.endswith("invalid JSON at line 1, column 43: Unterminated string starting here")


def test_invalid_utf8_rows_in_the_printout_are_the_rows_in_load_rejects(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    path = tmp_path / "chats.jsonl"
    good = json.dumps({"conversation_id": "u", "role": "user", "content": "caf"}).encode()
    path.write_bytes(good + b"\n" + good.replace(b"caf", b"caf\xe9 cr\xff\xfeme") + b"\n")
    db = tmp_path / "x.duckdb"
    out = CliRunner().invoke(app, ["load", str(path), "--db", str(db)])
    assert out.exit_code == 0, out.output
    rows = re.search(r"invalid UTF-8 replaced with U\+FFFD\s*│\s*(\d+)", out.output)
    stored = _tables(db)[2]
    assert [r[1:4] for r in stored] == [
        ("line 2", "loaded_with_fix", "invalid UTF-8 replaced with U+FFFD")
    ]
    assert int(rows.group(1)) == len(stored) == 1
    assert "1 new rows in raw.load_rejects" in " ".join(out.output.split())


def test_mt_bench_question_id_is_the_conversation_id_and_the_id_column_is_printed(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    fixture = FIXTURES / "mt_bench_style.jsonl"
    result = parsed(fixture)
    assert sorted(by_id(result)) == ["81", "82"]
    assert result.collector.columns["conversation_id"] == "question_id"
    db = tmp_path / "x.duckdb"
    out = CliRunner().invoke(app, ["load", str(fixture), "--db", str(db)])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "conversation id: question_id" in text and "--conversation-id-column" in text

    # question_id repeated (several answers per question): not an id; the generated ids say so
    repeated = _jsonl(
        tmp_path / "judgments.jsonl",
        [
            {
                "question_id": 81,
                "model": m,
                "messages": [
                    {"role": "user", "content": "Write a haiku."},
                    {"role": "assistant", "content": f"A haiku by {m}."},
                ],
            }
            for m in ("a", "b")
        ],
    )
    generated = parsed(repeated)
    assert all(cid.startswith("sha1:") for cid in by_id(generated))
    out = CliRunner().invoke(app, ["load", str(repeated), "--db", str(db)])
    text = " ".join(out.output.split())
    assert "conversation id: generated" in text and "--conversation-id-column" in text
    chosen = parsed(repeated, columns=ColumnMap(conversation_id="model"))
    assert sorted(by_id(chosen)) == ["a", "b"]


def test_the_readme_documents_the_role_map():
    from kura_dbt.loaders.message_rules import ROLE_ALIASES

    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| `(user|assistant|system|tool)` \| (.*) \|$", readme, re.M)
    documented = {role: role for role, _ in rows}
    for role, names in rows:
        documented.update({name.strip("` "): role for name in names.split(",")})
    assert documented == ROLE_ALIASES
