"""The map's payload in `kura report` (kura_dbt.report.mapdata): points in compact binary that
decode to the marts' coordinates, one label per visible cluster, and per-point facet values
that respect the privacy thresholds."""

from __future__ import annotations

import json

import duckdb
import pytest

pytest.importorskip("plotly", reason="`kura report` needs the report extra (plotly)")

from kura_dbt.report import ReportOptions, load_report_data
from kura_dbt.report.mapdata import NOT_SHOWN, RARE, decode_facet, decode_points
from tests.browser.fakedb import HIDDEN_NAME, make_kura_db


def test_points_are_compact_and_decode_to_the_marts_coordinates(tmp_path):
    db = make_kura_db(tmp_path / "k.duckdb")
    data = load_report_data(db).payload
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select x, y from main.kura__conversations order by conversation_id"
        ).fetchall()
    points = decode_points(data)
    span = max(r[0] for r in rows) - min(r[0] for r in rows)
    assert len(points) == len(rows) == 36
    for (x, y), p in zip(sorted(rows), sorted(points), strict=True):
        assert abs(x - p[0]) <= span / 65535 and abs(y - p[1]) <= span / 65535
    # 4 bytes of coordinates and 2 of node per point (base64: 4 characters per 3 bytes)
    assert len(data["map"]["xy"]) == 4 * ((36 * 4 + 2) // 3)
    assert "points" not in data  # no per-point JSON lists any more


def test_labels_are_for_visible_clusters_only(tmp_path):
    data = load_report_data(make_kura_db(tmp_path / "k.duckdb", blank_hidden_text=False)).payload
    labels = data["map"]["labels"]
    visible = {k for k, n in data["nodes"].items() if n["kind"] == "cluster"}
    assert (
        {lab[0] for lab in labels}
        == visible
        == {
            "L1-0000",
            "L1-0001",
            "L0-0000",
            "L0-0001",
            "L0-0002",
            "L0-0003",
        }
    )
    # top level first, then by size; the anchor is inside its cluster's points
    assert [lab[0] for lab in labels[:2]] == ["L1-0001", "L1-0000"]
    python = next(lab for lab in labels if lab[0] == "L0-0002")
    assert 10 <= python[1] <= 10.4 and 8 <= python[2] <= 8.3 and python[5] == 10
    assert HIDDEN_NAME not in json.dumps(data)


def test_facets_of_hidden_points_are_not_shown(tmp_path):
    data = load_report_data(make_kura_db(tmp_path / "k.duckdb", blank_hidden_text=False)).payload
    points = decode_points(data)
    facets = {f["key"]: decode_facet(data, f["key"]) for f in data["map"]["facets"]}
    assert list(facets) == [
        "language",
        "frustration",
        "concerning",
        "feedback",
        "revenue",
        "week",
        "status",
    ]
    for i, p in enumerate(points):
        if p[2].startswith("other:"):  # a cluster below the thresholds: nothing at all
            assert {values[i] for values in facets.values()} == {NOT_SHOWN}
        elif p[2] == "__unclustered__":  # in no cluster: week and status, nothing of content
            assert facets["language"][i] == NOT_SHOWN and facets["status"][i] == "noise"
            assert facets["week"][i] == "2026-08-03"
        else:
            assert facets["language"][i] == "English" and facets["week"][i] != NOT_SHOWN
    # the latest week stands out ("new this week")
    week = next(f for f in data["map"]["facets"] if f["key"] == "week")
    assert [week["values"][i] for i in week["emphasis"]] == ["2026-08-17"]


def test_rare_facet_values_fold_under_the_report_thresholds(tmp_path):
    db = make_kura_db(tmp_path / "k.duckdb")
    with duckdb.connect(str(db)) as con:  # one conversation of one user in Icelandic
        con.execute(
            "update main.kura__conversations set languages = '[\"Icelandic\"]' "
            "where conversation_id = 'c001'"
        )
    open_report = load_report_data(db).payload
    assert "Icelandic" in decode_facet(open_report, "language")
    strict = load_report_data(db, ReportOptions(min_cluster_users=2)).payload
    language = decode_facet(strict, "language")
    assert "Icelandic" not in language and "Icelandic" not in json.dumps(strict["map"])
    assert language.count(RARE) == 1
