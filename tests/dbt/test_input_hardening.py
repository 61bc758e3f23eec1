"""Messy input in `dbt build`: message roles from one map shared with the Python library (with
site-specific aliases from a var), and content made only of invisible characters rejected like
empty content. Only the input models are built (no summaries, no embeddings)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from kura_dbt.loaders.message_rules import ROLE_ALIASES, role_aliases

from .conftest import run_dbt

INVISIBLE = "\u200b\u200c\u200d\ufeff"
SITE_ALIASES = "{Operator: assistant, bot: ~}"  # a site role, and a built-in alias taken away
VARS = (
    "{kura__conversations: raw.conversations, kura__messages: raw.messages, "
    f"kura__feedback: ~, kura__users: ~, kura__role_aliases: {SITE_ALIASES}}}"
)
SELECT = [
    "--select",
    "+kura__rejected_messages",
    "+int_kura__messages",
    "--indirect-selection",
    "cautious",
]


def _write_raw(db: Path, conversations: pd.DataFrame, messages: pd.DataFrame) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists raw")
        for name, frame in (("conversations", conversations), ("messages", messages)):
            con.register("frame", frame)
            con.execute(f"create or replace table raw.{name} as select * from frame")
            con.unregister("frame")


def _compiled_case(target: Path) -> dict[str, str]:
    sql = next(target.glob("compiled/kura/models/staging/stg_kura__messages.sql")).read_text()
    return dict(re.findall(r"when '((?:[^']|'')*)' then '(\w+)'", sql))


def test_roles_come_from_the_shared_map_and_invisible_content_is_rejected(tmp_path, query):
    db = tmp_path / "messy.duckdb"
    aliases = sorted(ROLE_ALIASES)
    rows = [("roles", i, f"  {alias.upper()} ", f"message {i}") for i, alias in enumerate(aliases)]
    rows += [
        ("support", 0, "customer", "My parcel is late."),
        ("support", 1, "agent", "Sorry about that, let me check."),
        ("support", 2, "operator", "Escalated to the depot."),  # a site alias (the var)
        ("blank", 0, "user", INVISIBLE),
        ("blank", 1, "assistant", f" {INVISIBLE}\u2060\n"),
        ("blank", 2, "user", "\t\n "),
        ("blank", 3, "user", f"{INVISIBLE}Where is the station?"),  # visible text: kept
        ("blank", 4, "user", "\x00\x00\x00"),  # only NUL bytes: no text either
    ]
    messages = pd.DataFrame(rows, columns=["conversation_id", "message_index", "role", "content"])
    conversations = pd.DataFrame({"conversation_id": ["roles", "support", "blank"]})
    _write_raw(db, conversations, messages)
    target = tmp_path / "target"
    run_dbt(["build", *SELECT, "--vars", VARS], db, target)

    expected = role_aliases({"Operator": "assistant", "bot": None})
    assert expected["operator"] == "assistant" and "bot" not in expected
    # the CASE dbt compiled is exactly the Python map with the site aliases merged over it
    assert _compiled_case(target) == expected
    staged = dict(
        query(db, "select role_raw, role from stg_kura__messages where conversation_id = 'roles'")
    )
    for alias in aliases:
        assert staged[f"  {alias.upper()} "] == expected.get(alias), alias
    support = query(
        db,
        "select role from int_kura__messages where conversation_id = 'support' "
        "order by message_order",
    )
    assert support == [("user",), ("assistant",), ("assistant",)]

    rejected = query(
        db,
        "select conversation_id, message_order, reject_reason "
        "from kura__rejected_messages order by 1, 2",
    )
    assert rejected == [
        ("blank", 0, "empty content (invisible characters only)"),
        ("blank", 1, "empty content (invisible characters only)"),
        ("blank", 2, "empty content"),
        ("blank", 4, "empty content (invisible characters only)"),
        ("roles", aliases.index("bot"), "unknown role:   BOT "),
    ]
    kept = query(db, "select content from int_kura__messages where conversation_id = 'blank'")
    assert kept == [(f"{INVISIBLE}Where is the station?",)]


def test_a_site_alias_to_an_unknown_role_fails_with_a_clear_message(tmp_path):
    db = tmp_path / "bad.duckdb"
    _write_raw(
        db,
        pd.DataFrame({"conversation_id": ["c"]}),
        pd.DataFrame(
            [("c", 0, "user", "hi")],
            columns=["conversation_id", "message_index", "role", "content"],
        ),
    )
    result = run_dbt(
        [
            "compile",
            "--select",
            "stg_kura__messages",
            "--vars",
            VARS.replace(SITE_ALIASES, "{operator: robot}"),
        ],
        db,
        tmp_path / "target",
        expect_success=False,
    )
    assert not result.success
    assert "kura__role_aliases" in result.output
    assert "'robot'" in result.output and "user, assistant, system, tool" in result.output
