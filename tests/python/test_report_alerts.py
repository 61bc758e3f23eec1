"""`kura report` shows kura__alerts: the current alerts at the top, each cluster's in its
details, and none that names a cluster the report hides."""

from __future__ import annotations

import json
import re
from datetime import date

import duckdb
import pytest

pytest.importorskip("plotly", reason="`kura report` needs the report extra (plotly)")

from kura_dbt.report import ReportOptions, build_report, load_report_data
from tests.browser.fakedb import HIDDEN_NAME, make_kura_db

ALERTS = [
    # id, type, severity, week, current, cluster, facet, direction, observed, expected, z, p, text
    (
        "cluster_surge:L0-0000:-:2026-08-10",
        "cluster_surge",
        "critical",
        date(2026, 8, 10),
        True,
        "L0-0000",
        None,
        "up",
        30.0,
        5.0,
        8.2,
        1e-16,
        'Surge in base cluster "Bus tickets" (L0-0000): 30 of 60 clustered conversations',
    ),
    (
        "unassigned_share_rising:all:-:2026-08-10",
        "unassigned_share_rising",
        "warning",
        date(2026, 8, 10),
        True,
        None,
        None,
        "up",
        12.0,
        3.0,
        4.1,
        2e-5,
        "Unassigned share rising: 12 of the 60 conversations fit no cluster",
    ),
    (
        "facet_shift:L0-0002:user_frustration:2026-08-03",
        "facet_shift",
        "warning",
        date(2026, 8, 3),
        False,
        "L0-0002",
        "user_frustration",
        "up",
        3.9,
        2.1,
        4.4,
        5e-6,
        'Facet shift in base cluster "Python scripts" (L0-0002): frustration rose',
    ),
    (
        "cluster_collapse:L0-0004:-:2026-08-10",
        "cluster_collapse",
        "warning",
        date(2026, 8, 10),
        True,
        "L0-0004",
        None,
        "down",
        0.0,
        11.0,
        -3.9,
        5e-5,
        f'Collapse of base cluster "{HIDDEN_NAME}" (L0-0004): 0 of 60',
    ),
]


def _with_alerts(path):
    # the hidden cluster keeps its name in the marts here: only the report can hide it
    db = make_kura_db(path, blank_hidden_text=False)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create table main.kura__alerts (alert_id varchar, alert_type varchar, "
            "severity varchar, week_start date, is_current boolean, cluster_id varchar, "
            "facet varchar, direction varchar, observed double, expected double, "
            "statistic double, p_value double, message varchar)"
        )
        con.executemany(
            "insert into main.kura__alerts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ALERTS
        )
    return db


def test_alerts_are_in_the_payload_and_hidden_clusters_are_not_named(tmp_path):
    data = load_report_data(_with_alerts(tmp_path / "kura.duckdb"))
    alerts = {a["id"]: a for a in data.payload["alerts"]}
    assert data.current_alerts == 3
    assert [a["current"] for a in data.payload["alerts"]] == [True, True, True, False]
    surge = alerts["cluster_surge:L0-0000:-:2026-08-10"]
    assert surge["node"] == "L0-0000" and surge["severity"] == "critical"
    assert surge["message"].startswith('Surge in base cluster "Bus tickets"')
    assert alerts["unassigned_share_rising:all:-:2026-08-10"]["node"] is None
    assert alerts["facet_shift:L0-0002:user_frustration:2026-08-03"]["week"] == "2026-08-03"
    hidden = alerts["cluster_collapse:L0-0004:-:2026-08-10"]
    assert HIDDEN_NAME not in json.dumps(data.payload["alerts"])
    assert (
        hidden["node"].startswith("other:") and "below the privacy thresholds" in hidden["message"]
    )
    assert "expected 11.0" in hidden["message"] and "z = -3.9" in hidden["message"]


def test_the_page_carries_the_alerts(tmp_path):
    db = _with_alerts(tmp_path / "kura.duckdb")
    out = tmp_path / "report.html"
    build_report(db, out, ReportOptions())
    html = out.read_text(encoding="utf-8")
    assert 'id="alerts-panel"' in html and HIDDEN_NAME not in html
    block = re.search(r'<script type="application/json" id="kura-data">(.*?)</script>', html, re.S)
    payload = json.loads(block.group(1))
    assert len(payload["alerts"]) == 4


def test_a_build_without_alerts_has_none(tmp_path):
    data = load_report_data(make_kura_db(tmp_path / "kura.duckdb"))
    assert data.payload["alerts"] == [] and data.current_alerts == 0
