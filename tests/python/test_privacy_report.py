"""Privacy in `kura report`: clusters below the thresholds (the marts' flag, or the report's own
stricter --min-cluster-users / --min-cluster-conversations) fold into one "Other (n small
clusters)" node per parent and level, with counts only, and none of their text is written."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("plotly", reason="`kura report` needs the report extra (plotly)")

from kura_dbt.report import ReportOptions, build_report, load_report_data
from kura_dbt.report.mapdata import decode_points
from tests.browser.fakedb import HIDDEN_DESCRIPTION, HIDDEN_NAME, HIDDEN_SUMMARY, make_kura_db


def all_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("blank_hidden_text", [True, False])
def test_the_marts_flag_hides_a_cluster(tmp_path, blank_hidden_text):
    """As dbt writes it (hidden text NULL), and with the text still there: the flag alone hides
    it."""
    data = load_report_data(
        make_kura_db(tmp_path / "k.duckdb", blank_hidden_text=blank_hidden_text)
    ).payload
    coding = data["nodes"]["L1-0001"]
    assert coding["children"] == ["L0-0002", "L0-0003", "other:L1-0001:L0"]
    assert HIDDEN_SUMMARY not in all_text(data)
    assert HIDDEN_NAME not in all_text(data) and HIDDEN_DESCRIPTION not in all_text(data)
    # the hidden cluster's points stay on the map, without their summary
    hidden_points = [p for p in decode_points(data) if p[2] == "other:L1-0001:L0"]
    assert len(hidden_points) == 2 and all(p[3] is None for p in hidden_points)
    # the visible parent's facets count them (aggregates) but its samples never show them
    assert sum(v for _, v in coding["facets"]["turns"]) == 18
    assert not any("HIDDEN" in s for s in coding["samples"])


def test_the_report_can_be_stricter_than_the_marts(tmp_path):
    db = make_kura_db(tmp_path / "k.duckdb", hidden_in_marts=False)
    assert HIDDEN_NAME in all_text(load_report_data(db).payload)  # visible in the marts
    data = load_report_data(
        db, ReportOptions(min_cluster_users=2, min_cluster_conversations=7)
    ).payload
    text = all_text(data)
    assert HIDDEN_NAME not in text and HIDDEN_SUMMARY not in text
    # Shell questions (6 conversations) and the one-user cluster fold into one node under
    # Coding help
    other = data["nodes"]["other:L1-0001:L0"]
    assert (
        other["name"] == "Other (2 small clusters)"
        and other["clusters"] == 2
        and other["size"] == 8
    )
    assert "Bash one-liners" not in text and "shell questions number" not in text
    assert data["nodes"]["L1-0001"]["children"] == ["L0-0002", "other:L1-0001:L0"]
    search_bases = {base for _, base in data["search"]}
    assert search_bases == {"L0-0000", "L0-0001", "L0-0002"}


def test_a_hidden_top_level_cluster_takes_its_subtree_with_it(tmp_path):
    db = make_kura_db(tmp_path / "k.duckdb", hidden_in_marts=False)
    data = load_report_data(db, ReportOptions(min_cluster_conversations=18)).payload
    # Travel planning (17) is below; so are all its children: one top-level Other node
    assert data["roots"] == ["L1-0001", "other:top:L1"]
    other = data["nodes"]["other:top:L1"]
    assert other["size"] == 17 and other["clusters"] == 1 and other["children"] == []
    text = all_text(data)
    for secret in [
        "Travel planning",
        "Bus tickets",
        "Hotel bookings",
        "bus ticket",
        "hotel bookings number",
    ]:
        assert secret not in text, secret
    assert {p[2] for p in decode_points(data) if p[2].startswith("other:top")} == {"other:top:L1"}


def test_the_written_file_has_no_hidden_text(tmp_path):
    db = make_kura_db(tmp_path / "k.duckdb", hidden_in_marts=False)
    out = tmp_path / "r.html"
    build_report(db, out, ReportOptions(min_cluster_users=2))
    html = out.read_text(encoding="utf-8")
    assert (
        HIDDEN_NAME not in html
        and "HIDDEN-SECRET" not in html
        and "Other (1 small cluster)" in html
    )
