"""The cluster panel's over-representation table (kura__cluster_facets) in a real browser: the
mart's figures, significant rows marked, values shown as text."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kura_dbt.report import ReportOptions, build_report
from tests.python.test_report_cluster_facets import FIELDS, make_db

from .fakedb import SCRIPT


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("facets")
    db = make_db(work / "kura.duckdb")
    with duckdb.connect(str(db)) as con:  # a plan named with markup: text, never run
        con.execute(
            f"insert into main.kura__cluster_facets ({', '.join(FIELDS)}) values "
            "('L0-0000', 'plan', ?, 3, 3, 0.333, 0.2, 1.5, 1.0, 0.2, 0.6, true)",
            [f"pro {SCRIPT}"],
        )
    out = work / "kura_report.html"
    build_report(db, out, ReportOptions(title="Facets"))
    return out


def test_the_cluster_panel_shows_what_it_over_represents(watched, report):
    page = watched.page
    watched.open(report)
    page.click(".tree-name[data-id='L0-0000']")
    rows = page.locator("#detail-overrep tr")
    assert rows.count() == 6  # the header and five values with a lift above 1
    assert rows.nth(0).inner_text().split("\t") == [
        "Facet",
        "Value",
        "In cluster",
        "Overall",
        "Lift",
        "p (Bonferroni)",
    ]
    assert rows.nth(1).inner_text().split("\t") == [
        "feedback",
        "thumbs down",
        "56% (5)",
        "20%",
        "×2.78",
        "0.0080",
    ]
    # below 0.05 after Bonferroni: marked; the week (p 1.0) is not
    assert page.locator("#detail-overrep tr.significant").count() == 2
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any(f"pro {SCRIPT}" in t for t in texts)
    assert page.evaluate("window.__pwned") is None
    # a cluster without rows in the mart has no table
    page.click(".tree-name[data-id='L0-0001']")
    assert page.locator("#detail-overrep").count() == 0
    watched.assert_clean()
