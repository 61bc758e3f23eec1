"""The over-representation table of the cluster panel (issue 21): `kura report` shows the rows
of the mart kura__cluster_facets as they are (figures unchanged, top values by lift), only for
the cells the mart shows, of clusters the report shows, that also meet the report's own
thresholds; nothing of a hidden cluster reaches the page."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from kura_dbt.report import ReportOptions, load_report_data
from tests.browser.fakedb import make_kura_db

REPO = Path(__file__).resolve().parents[2]

SECRET_VALUE = "Klingon-SECRET"

# the fields these rows give, by name; the table is made with every column of the mart's
# contract (models/marts/_marts.yml), the others NULL
FIELDS = (
    "cluster_id facet facet_value conversations distinct_users share_in_cluster share_overall "
    "lift z_score p_value p_value_bonferroni meets_privacy_threshold"
).split()
ROWS = [
    ("L0-0000", "language", "English", 8, 4, 8 / 9, 30 / 35, 1.037, 0.6, 0.5, 1.0, True),
    ("L0-0000", "plan", "enterprise", 6, 3, 6 / 9, 9 / 35, 2.593, 3.1, 0.0008, 0.004, True),
    ("L0-0000", "feedback", "thumbs down", 5, 2, 5 / 9, 7 / 35, 2.778, 2.9, 0.002, 0.008, True),
    ("L0-0000", "week", "2026-08-03", 4, 1, 4 / 9, 8 / 35, 1.944, 1.7, 0.09, 1.0, True),
    ("L0-0000", "feedback", "none", 2, 2, 2 / 9, 20 / 35, 0.389, -2.4, 1.0, 1.0, True),
    ("L0-0000", "language", None, 1, 1, 1 / 9, None, None, None, None, None, False),
    # a hidden cluster: a loose (or older) mart that still shows a value must not leak it
    ("L0-0004", "language", SECRET_VALUE, 2, 1, 1.0, 2 / 35, 17.5, 5.0, 0.001, 0.002, True),
    ("L0-0004", "plan", None, 2, 1, 1.0, None, None, None, None, None, False),
]


def contract_columns() -> list[str]:
    marts = yaml.safe_load((REPO / "models" / "marts" / "_marts.yml").read_text(encoding="utf-8"))
    (model,) = [m for m in marts["models"] if m["name"] == "kura__cluster_facets"]
    return [c["name"] for c in model["columns"]]


def make_db(path: Path) -> Path:
    db = make_kura_db(path)
    with duckdb.connect(str(db)) as con:
        columns = contract_columns()
        assert set(FIELDS) <= set(columns)
        frame = pd.DataFrame(ROWS, columns=FIELDS).reindex(columns=columns)
        con.register("facets_frame", frame)
        con.execute("create table main.kura__cluster_facets as select * from facets_frame")
    return db


def test_the_panel_shows_the_marts_figures_by_lift(tmp_path):
    nodes = load_report_data(make_db(tmp_path / "k.duckdb")).payload["nodes"]
    rows = nodes["L0-0000"]["over_represented"]
    # lift above 1 only, largest first; the figures exactly the mart's
    assert [(r["facet"], r["value"]) for r in rows] == [
        ("feedback", "thumbs down"),
        ("plan", "enterprise"),
        ("week", "2026-08-03"),
        ("language", "English"),
    ]
    mart = {(r[1], r[2]): dict(zip(FIELDS, r, strict=True)) for r in ROWS if r[0] == "L0-0000"}
    for r in rows:
        m = mart[(r["facet"], r["value"])]
        assert (r["conversations"], r["share"], r["overall_share"], r["lift"]) == (
            m["conversations"],
            m["share_in_cluster"],
            m["share_overall"],
            m["lift"],
        )
        assert (r["z"], r["p"], r["p_bonferroni"]) == (
            m["z_score"],
            m["p_value"],
            m["p_value_bonferroni"],
        )
    # clusters without rows in the mart have no table
    assert "over_represented" not in nodes["L0-0001"]


def test_a_hidden_clusters_facets_are_not_in_the_report(tmp_path):
    data = load_report_data(make_db(tmp_path / "k.duckdb")).payload
    text = json.dumps(data, ensure_ascii=False)
    assert SECRET_VALUE not in text
    assert "L0-0004" not in data["nodes"]
    assert not any(
        n.get("over_represented") for n in data["nodes"].values() if n["kind"] == "other"
    )


def test_the_reports_own_thresholds_apply_to_each_cell(tmp_path):
    options = ReportOptions(min_cluster_users=3, min_cluster_conversations=5)
    rows = load_report_data(make_db(tmp_path / "k.duckdb"), options).payload["nodes"]["L0-0000"]
    # thumbs down (2 users) and the week (4 conversations, 1 user) are below the report's own
    assert [(r["facet"], r["value"]) for r in rows["over_represented"]] == [
        ("plan", "enterprise"),
        ("language", "English"),
    ]
