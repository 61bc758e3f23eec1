"""`kura taxonomy export` writes no cluster the privacy thresholds hide (issue 22): a hidden
cluster's name, description and example texts stay out of the analyst's file, folded into one
"Other (n small clusters)" category per parent with their ids and counts only. The tables are
the ones `dbt build` writes (kura__cluster_hierarchy, kura__clusters, ...) in a DuckDB file."""

from __future__ import annotations

import duckdb
import pandas as pd
from typer.testing import CliRunner

from kura_dbt.cli import app
from kura_dbt.taxonomy.pinned import read_file

PRIVATE = "Juniper Okafor"  # only in the hidden clusters' names and their members' texts

# cluster_id, level, parent_id, name, description, size, distinct_users, meets the thresholds
CLUSTERS = [
    ("travel", 1, None, "Travel", "Trips and bookings", 14, 9, True),
    ("flights", 0, "travel", "Flight bookings", "Booking flights", 12, 8, True),
    ("visa", 0, "travel", f"Visa for {PRIVATE}", f"{PRIVATE}'s visa", 1, 1, False),
    ("lost", 0, "travel", "Lost luggage at gate 9", "One lost bag", 1, 1, False),
    ("secret", 1, None, f"{PRIVATE} topics", "A hidden parent", 2, 1, False),
    ("secret0", 0, "secret", f"{PRIVATE} again", "Its hidden child", 2, 1, False),
]


def _members() -> list[tuple[str, str, str]]:
    """(conversation, base cluster, summary): the hidden ones name the private person."""
    out = [(f"f{i}", "flights", f"Booking a flight to city {i}.") for i in range(12)]
    out += [("v1", "visa", f"A visa letter for {PRIVATE}.")]
    out += [("l1", "lost", "A bag lost at gate 9 by a passenger.")]
    out += [("s1", "secret0", f"{PRIVATE} asks again."), ("s2", "secret0", f"More of {PRIVATE}.")]
    return out


def _warehouse(path, marts: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema main_kura_private")
        con.execute(
            "create table main_kura_private.kura__cluster_hierarchy (cluster_id varchar, "
            "level bigint, parent_id varchar, name varchar, description varchar, size bigint, "
            "distinct_users bigint)"
        )
        con.executemany(
            "insert into main_kura_private.kura__cluster_hierarchy values (?, ?, ?, ?, ?, ?, ?)",
            [c[:7] for c in CLUSTERS],
        )
        if marts:
            con.execute(
                "create table main.kura__clusters as select * from (values "
                + ", ".join(f"('{c[0]}', {str(c[7]).lower()})" for c in CLUSTERS)
                + ") as t(cluster_id, meets_privacy_threshold)"
            )
        members = _members()
        con.execute(
            "create table main.kura__conversation_clusters (conversation_id varchar, "
            "cluster_id varchar, distance double)"
        )
        con.executemany(
            "insert into main.kura__conversation_clusters values (?, ?, ?)",
            [(c, k, 0.1) for c, k, _ in members],
        )
        con.execute(
            "create table main_kura_private.kura__summaries (conversation_id varchar, "
            "request varchar, summary varchar)"
        )
        con.executemany(
            "insert into main_kura_private.kura__summaries values (?, '', ?)",
            [(c, s) for c, _, s in members],
        )
        con.execute(
            "create table main_kura_private.kura__embeddings as select conversation_id, "
            "md5(summary) as text_hash from main_kura_private.kura__summaries"
        )


def _export(tmp_path, *extra: str) -> tuple[str, list[dict]]:
    out = tmp_path / "taxonomy.csv"
    args = ["taxonomy", "export", "--db", str(tmp_path / "kura.duckdb"), "--out", str(out)]
    done = CliRunner().invoke(app, [*args, *extra])
    assert done.exit_code == 0, done.output
    return out.read_text(), pd.read_csv(out, dtype=str, keep_default_na=False).to_dict("records")


def test_export_folds_the_clusters_below_the_thresholds(tmp_path):
    _warehouse(tmp_path / "kura.duckdb")
    text, rows = _export(tmp_path)
    assert PRIVATE not in text and "gate 9" not in text
    by_id = {r["category_id"]: r for r in rows}
    assert {"travel", "flights"} <= set(by_id)
    assert not {"visa", "lost", "secret", "secret0"} & set(by_id)
    fold = by_id["L0-other-travel"]
    assert fold["name"] == "Other (2 small clusters)" and fold["parent_id"] == "travel"
    assert fold["cluster_id"] == "lost visa" and not fold["example_1"]
    top = by_id["L1-other-top"]
    assert top["name"] == "Other (1 small cluster)" and top["cluster_id"] == "secret"
    # the visible parent's examples come from its visible children only
    assert by_id["travel"]["example_1"].startswith("Booking a flight")
    taxonomy = read_file(tmp_path / "taxonomy.csv")  # the file pins as it is
    parents = {c[0]: c[2] for c in CLUSTERS}
    labels = taxonomy.label_of_cluster(parents)
    assert labels["visa"] == labels["lost"] == "L0-other-travel"
    assert labels["secret0"] == "L1-other-top"  # under its hidden parent's fold


def test_export_holds_unlisted_clusters_to_the_default_thresholds(tmp_path):
    """No kura__clusters row for a discovered cluster (a pinned taxonomy's build): the
    package's defaults (5 users, 10 conversations) decide, or the options given."""
    _warehouse(tmp_path / "kura.duckdb", marts=False)
    text, rows = _export(tmp_path)
    assert PRIVATE not in text and {r["category_id"] for r in rows} >= {"travel", "flights"}
    text, rows = _export(tmp_path, "--min-cluster-conversations", "13")
    assert "Flight bookings" not in text and PRIVATE not in text
    assert {r["category_id"] for r in rows} == {"travel", "L0-other-travel", "L1-other-top"}
