"""From discovery to monitoring, end to end: discover on the sample data, `kura taxonomy
export`, edit the file as an analyst would (rename one category, merge two, drop one, add
one), pin it (var kura__pinned_taxonomy) and build with the LLM classifier against the local
OpenAI-compatible server, so that every classification call is counted."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
from typer.testing import CliRunner

from .conftest import run_dbt
from .test_build import RAW_VARS, _load_raw


def _pin(db: Path, rows: list[dict], path: Path) -> None:
    """The edited file, loaded the way a dbt seed is (types inferred from the CSV)."""
    pd.DataFrame(rows).to_csv(path, index=False)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create or replace table raw.my_taxonomy as "
            f"select * from read_csv_auto('{path}', header = true)"
        )


def _export(db: Path, tmp_path: Path, query) -> list[dict]:
    """`kura taxonomy export` of the discovered taxonomy: one row per current cluster, each with
    an example."""
    from kura_dbt.cli import app

    exported = tmp_path / "kura_taxonomy.csv"
    result = CliRunner().invoke(
        app, ["taxonomy", "export", "--db", str(db), "--out", str(exported)]
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(exported, dtype=str, keep_default_na=False).to_dict("records")
    current = query(db, "select cluster_id from kura__cluster_hierarchy")
    assert {r["category_id"] for r in rows} == {c for (c,) in current}
    assert all(r["example_1"] for r in rows)
    # no count that goes stale once the file is pinned (issue 24, item 8)
    assert not [r["description"] for r in rows if re.match(r"\d", r["description"])]
    return rows


def _edit(rows: list[dict]) -> tuple[dict, dict, str, dict, dict]:
    """The analyst's edits: rename, merge two siblings, drop one, add one. Returns the kept
    row, the merged row and the category_id it had, the renamed row and the dropped one."""
    base = [r for r in rows if r["cluster_id"].startswith("L0-")]
    by_parent: dict[str, list[dict]] = {}
    for r in base:
        by_parent.setdefault(r["parent_id"], []).append(r)
    keep, merged = next(group for group in by_parent.values() if len(group) >= 3)[:2]
    renamed = next(r for r in base if r not in (keep, merged))
    dropped = next(r for r in base if r not in (keep, merged, renamed))
    renamed["name"] = "Renamed by the analyst"
    keep["name"] = "Merged category"
    merged_id = merged["category_id"]
    merged.update(category_id=keep["category_id"], name="", description="", parent_id="")
    rows.remove(dropped)
    rows.append(
        {
            "category_id": "train_tickets",
            "name": "Train tickets",
            "description": "The user wants to find or book a train journey.",
            "parent_id": keep["parent_id"],
            "cluster_id": "",
            "example_1": "I need a train ticket to Boston.",
            "example_2": "Find me a train to Seattle on Friday.",
        }
    )
    return keep, merged, merged_id, renamed, dropped


def _assert_pinned_categories(
    db: Path, query, keep: dict, merged: dict, merged_id: str, renamed: dict, dropped: dict
) -> None:
    """The marts show the pinned categories; the merged one holds the members of both
    discovered clusters; every conversation is in exactly one category or `other`."""
    names = dict(query(db, "select cluster_id, name from kura__clusters"))
    assert names[renamed["category_id"]] == "Renamed by the analyst"
    assert names[keep["category_id"]] == "Merged category"
    assert dropped["category_id"] not in names and merged_id not in names
    assert "train_tickets" in names and names["other"] == "Other"
    # the merged category holds the members of both discovered clusters
    members = query(
        db,
        "select cluster_id, count(*) from kura__conversation_clusters "
        f"where status = 'discovered' and cluster_id in ('{keep['cluster_id']}', "
        f"'{merged['cluster_id']}') group by 1",
    )
    assert len(members) == 2
    held = query(
        db,
        "select discovered_cluster_id, count(*) from kura__conversation_categories "
        f"where category_id = '{keep['category_id']}' and status = 'labelled' group by 1",
    )
    assert sorted(held) == sorted(members)
    # nothing is lost: every conversation in exactly one category or `other`
    assert query(
        db,
        "select count(*), count(base_cluster_id), count(distinct conversation_id) "
        "from kura__conversations",
    )[0] == (500, 500, 500)
    in_categories = query(
        db,
        "select count(*) from kura__conversations as c inner join kura__categories as k "
        "on c.base_cluster_id = k.category_id and k.is_leaf",
    )[0][0]
    assert in_categories == 500
    tops = query(db, "select sum(size) from kura__clusters where parent_id is null")[0][0]
    assert tops == 500


def test_export_edit_pin_classify(tmp_path, query, monkeypatch):
    from tests.python.fake_openai import FakeOpenAI

    db = tmp_path / "pinned.duckdb"
    _load_raw(db)
    run_dbt(["build", "--vars", RAW_VARS], db, tmp_path / "t1")  # discovery, local backends

    rows = _export(db, tmp_path, query)
    keep, merged, merged_id, renamed, dropped = _edit(rows)
    _pin(db, rows, tmp_path / "my_taxonomy.csv")

    monkeypatch.setenv("KURA_TEST_KEY", "sk-pinned-test")
    with FakeOpenAI() as server:
        pinned = (
            RAW_VARS[:-1] + ", kura__pinned_taxonomy: raw.my_taxonomy, kura__classifier: openai, "
            f"kura__llm_model: test-model, kura__llm_base_url: '{server.base_url}', "
            "kura__llm_api_key_env: KURA_TEST_KEY}"
        )
        run_dbt(["build", "--vars", pinned], db, tmp_path / "t2")
        first_calls = len(server.requests)

        _assert_pinned_categories(db, query, keep, merged, merged_id, renamed, dropped)
        # the dropped cluster's conversations were classified by the LLM, into a category or other
        classified = query(
            db,
            "select count(*) from kura__conversation_categories where status != 'labelled'",
        )[0][0]
        assert classified >= 1
        weekly = query(
            db,
            "select count(distinct cluster_id) from kura__cluster_weekly "
            f"where cluster_id in ('{renamed['category_id']}', 'train_tickets', 'other')",
        )[0][0]
        assert weekly == 3
        # every call is counted in kura__llm_usage (classification and its evaluation)
        usage = dict(
            query(
                db,
                "select stage, sum(llm_calls) from kura__llm_usage "
                "where stage in ('classification', 'classifier_eval') group by 1",
            )
        )
        assert usage["classification"] >= 1 and usage["classifier_eval"] >= 1
        assert sum(usage.values()) == first_calls
        batches = -(-classified // 10)
        assert usage["classification"] == batches  # one call per 10 conversations
        assert query(db, "select count(*) from kura__classifier_eval where support > 0")[0][0] > 5

        # a rebuild makes zero classification calls
        run_dbt(["build", "--vars", pinned], db, tmp_path / "t3")
        assert len(server.requests) == first_calls
        assert query(
            db,
            "select pending, reason from int_kura__classification_state "
            "where record_type = 'run' order by run_number desc limit 1",
        ) == [(0, "nothing to classify")]

        # a changed file is a new taxonomy version: everything is classified again
        renamed["name"] = "Renamed twice"
        _pin(db, rows, tmp_path / "my_taxonomy.csv")
        run_dbt(["build", "--vars", pinned], db, tmp_path / "t4")
        assert len(server.requests) > first_calls
        assert query(
            db, f"select name from kura__clusters where cluster_id = '{renamed['category_id']}'"
        ) == [("Renamed twice",)]
        assert query(
            db, "select count(distinct taxonomy_version) from kura__conversation_categories"
        ) == [(1,)]

    # a broken file fails the build with the row and the field
    rows[0]["parent_id"] = "no-such-category"
    _pin(db, rows, tmp_path / "my_taxonomy.csv")
    failed = run_dbt(["build", "--vars", pinned], db, tmp_path / "t5", expect_success=False)
    assert not failed.success
    assert (
        f"row 1 (category_id '{rows[0]['category_id']}'), field parent_id: unknown parent "
        "'no-such-category'" in failed.output
    )
