"""A pinned category nobody's conversation is in yet shows by name with 0, and so does `other`
when nothing falls outside the categories: a category with no member reveals nothing about
anyone, so the privacy rule does not fold it into "Other (n small clusters)"."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from kura_dbt.cli import app

from .conftest import run_dbt
from .test_build import RAW_VARS, SEEDS, _load_raw
from .test_pinned import _pin


def test_a_new_pinned_category_with_no_member_shows_by_name_with_zero(tmp_path, query):
    db = tmp_path / "empty_category.duckdb"
    ids = pd.read_csv(SEEDS / "kura_sample_conversations.csv")["conversation_id"].tolist()[:60]
    _load_raw(db, ids)
    run_dbt(["build", "--vars", RAW_VARS], db, tmp_path / "t1")
    exported = tmp_path / "export.csv"
    result = CliRunner().invoke(
        app, ["taxonomy", "export", "--db", str(db), "--out", str(exported)]
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(exported, dtype=str, keep_default_na=False).to_dict("records")
    # every discovered cluster kept as it is (so every conversation is labelled), plus one new
    # category that nothing has been classified into yet
    rows.append(
        {
            "category_id": "train_tickets",
            "name": "Train tickets",
            "description": "The user wants to find or book a train journey.",
            "parent_id": "",
            "cluster_id": "",
            "example_1": "I need a train ticket to Boston.",
        }
    )
    _pin(db, rows, tmp_path / "my_taxonomy.csv")
    pinned = RAW_VARS[:-1] + ", kura__pinned_taxonomy: raw.my_taxonomy, kura__classifier: local}"
    run_dbt(["build", "--vars", pinned], db, tmp_path / "t2")

    shown = query(
        db,
        "select cluster_id, size, distinct_users, meets_privacy_threshold, name, display_name "
        "from kura__clusters where cluster_id in ('train_tickets', 'other') order by 1",
    )
    assert shown == [
        ("other", 0, 0, True, "Other", "Other"),
        ("train_tickets", 0, 0, True, "Train tickets", "Train tickets"),
    ]
    result = CliRunner().invoke(app, ["tree", "--db", str(db)])
    tree = result.output
    assert result.exit_code == 0 and "train_tickets" in tree, (result.exception, tree)
    line = next(x for x in tree.splitlines() if "train_tickets" in x)
    assert "Train tickets train_tickets  0 conv · 0 users · 0%" in line
    assert "small cluster" not in tree
