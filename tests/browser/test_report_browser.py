"""`kura report` in a real browser: it renders offline, it can be explored, and conversation
text with HTML or script in it is shown as text and never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from kura_dbt.report import ReportOptions, build_report

from .fakedb import HIDDEN_NAME, HIDDEN_SUMMARY, IMG, QUOTES, SCRIPT, make_kura_db
from .mapping import click_point, hover_point, point_indices

BIDI_CONTROLS_JS = "/[\\u202a-\\u202e\\u2066-\\u2069]/"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("report")
    db = make_kura_db(work / "kura.duckdb", blank_hidden_text=False)  # hidden by the flag alone
    out = work / "kura_report.html"
    build_report(db, out, ReportOptions(title="Browser test report"))
    return out


def test_map_and_tree_render_offline(watched, report):
    page = watched.page
    watched.open(report)
    assert page.title() == "Browser test report"
    # the map: every conversation drawn, a legend of the top-level clusters
    assert page.evaluate("kuraReport.map.count") == 36
    legend = page.locator("#map-legend").text_content()
    assert "Travel planning" in legend and "Coding help" in legend
    # the tree: both top-level clusters with their counts, children inside, hidden folded
    tree = page.locator("#tree")
    text = tree.inner_text()
    for name in [
        "Travel planning",
        "Coding help",
        "Bus tickets",
        "Hotel bookings",
        "Python scripts",
    ]:
        assert name in text
    assert "Other (1 small cluster)" in text
    assert HIDDEN_NAME not in page.content()
    assert "17 conv" in tree.locator("details[data-id='L1-0000'] > summary").inner_text()
    # collapsible: closing a top-level cluster hides its children
    page.click("details[data-id='L1-0000'] > summary .tree-count")
    assert not page.locator(".tree-name[data-id='L0-0001']").is_visible()
    page.click("details[data-id='L1-0000'] > summary .tree-count")
    assert page.locator(".tree-name[data-id='L0-0001']").is_visible()
    watched.assert_clean()


def test_clicking_a_cluster_shows_its_details(watched, report):
    page = watched.page
    watched.open(report)
    page.click(".tree-name[data-id='L0-0002']")
    assert page.locator("#detail-name").inner_text() == "Python scripts"
    assert "Writing and fixing Python scripts" in page.locator("#detail-description").inner_text()
    stats = page.locator("#detail-stats").inner_text()
    assert (
        "Conversations" in stats
        and "10" in stats
        and "Revenue" in stats
        and "Thumbs-up rate" in stats
    )
    for chart in ["#chart-weekly", "#chart-languages", "#chart-turns", "#chart-flags"]:
        page.wait_for_selector(f"{chart} .main-svg")
    assert "python" in page.locator("#chart-languages").text_content()
    samples = page.locator("#detail-samples li")
    assert samples.count() == 8
    assert "python scripts number 0" in samples.first.inner_text()
    # a parent lists its children; clicking one opens it
    page.click(".tree-name[data-id='L1-0001']")
    assert page.locator("#detail-name").inner_text() == "Coding help"
    page.click("#detail .children .link[data-id='L0-0003']")
    assert page.locator("#detail-name").inner_text() == "Shell questions"
    # clicking a point on the map opens the cluster it belongs to
    click_point(page, point_indices(page, "L0-0001")[0])
    assert page.locator("#detail-name").inner_text() == "Hotel bookings"
    watched.assert_clean()


def test_clusters_below_the_thresholds_show_counts_only(watched, report):
    page = watched.page
    watched.open(report)
    page.click(".tree-name[data-id='other:L1-0001:L0']")
    assert page.locator("#detail-name").inner_text() == "Other (1 small cluster)"
    stats = page.locator("#detail-stats").inner_text()
    assert "Clusters" in stats and "Conversations" in stats
    assert page.locator("#detail-samples").count() == 0
    assert page.locator("#detail .chart").count() == 0
    body = page.locator("body").inner_text()
    assert HIDDEN_SUMMARY not in body and HIDDEN_NAME not in body
    # nor in what the map shows on hover
    hover = _hover_all(page, "other:L1-0001:L0")
    assert "below the privacy thresholds" in hover and HIDDEN_SUMMARY not in hover
    watched.assert_clean()


def test_search_finds_clusters_and_summaries(watched, report):
    page = watched.page
    watched.open(report)
    _search(page, "hotel")
    clusters = page.locator("#search-clusters li")
    assert clusters.count() == 2  # "Hotel bookings" by name, "Travel planning" by description
    assert "Hotel bookings" in clusters.first.inner_text()
    assert page.locator("#search-summaries li").count() == 8
    clusters.first.click()
    assert page.locator("#search-results").is_hidden()
    assert page.locator("#detail-name").inner_text() == "Hotel bookings"
    # summaries of hidden clusters are not searchable
    _search(page, "HIDDEN-SECRET")
    assert "Summaries (0)" in page.locator("#search-results").text_content()
    assert page.locator("#search-results li").count() == 0
    watched.assert_clean()


def _search(page, text: str) -> None:
    page.fill("#search", text)
    page.wait_for_selector(f"#search-results[data-query='{text.lower()}']:not([hidden])")


def _hover_all(page, node_id: str) -> str:
    """Hover every map point of one node with the mouse and return the tooltips' text."""
    return "\n".join(hover_point(page, i) for i in point_indices(page, node_id))


def test_hostile_text_is_shown_literally_and_never_runs(watched, report):
    page = watched.page
    watched.open(report)

    def pwned() -> str:
        return page.evaluate("typeof window.__pwned")

    assert pwned() == "undefined"
    # the cluster whose description and summaries carry the payloads
    page.click(".tree-name[data-id='L0-0000']")
    assert SCRIPT in page.locator("#detail-description").inner_text()
    samples = page.locator("#detail-samples").inner_text()
    for payload in [SCRIPT, IMG, QUOTES]:
        assert payload in samples, payload
    # the map's hover labels show the text too
    hover = _hover_all(page, "L0-0000")
    for payload in ["window.__pwned=1", 'onerror="window.__pwned=2"', QUOTES]:
        assert payload in hover, (payload, hover)
    # and the search results
    _search(page, "pwned")
    results = page.locator("#search-results").inner_text()
    assert SCRIPT in results and IMG in results
    _search(page, "onmouseover")
    page.hover("#search-summaries li")
    assert QUOTES in page.locator("#search-results").inner_text()
    # nothing ran, nothing was injected as markup
    page.wait_for_timeout(200)
    assert pwned() == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('[onerror], [onmouseover]').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 3
    watched.assert_clean()


@pytest.fixture(scope="module")
def bidi_report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("bidi")
    db = make_kura_db(work / "kura.duckdb", bidi=True, revenue_known=False)
    out = work / "kura_report.html"
    build_report(db, out, ReportOptions(title="Bidi report"))
    return out


def _x_of(page, selector: str, needle: str) -> list[float]:
    """Left edge on screen of each character of `needle` inside the element's text."""
    return page.evaluate(
        """([selector, needle]) => {
            const node = document.querySelector(selector).firstChild;
            const at = node.textContent.indexOf(needle);
            if (at < 0) { return null; }
            const out = [];
            for (let i = at; i < at + needle.length; i++) {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                out.push(range.getBoundingClientRect().left);
            }
            return out;
        }""",
        [selector, needle],
    )


def test_bidi_controls_are_shown_not_obeyed(watched, bidi_report):
    """U+202E in a name or summary would make `gnp.exe` read `exe.png`: the page shows the
    control as [U+202E] and the text in the order it was written."""
    page = watched.page
    watched.open(bidi_report)
    name = "Attachments [U+202E]gnp.exe [bold]not markup[/bold]"
    assert name in page.locator("#tree").inner_text()
    # no bidi control anywhere in what the page shows
    assert page.evaluate(f"() => {BIDI_CONTROLS_JS}.test(document.body.innerText)") is False
    page.click(".tree-name[data-id='L0-0003']")
    assert page.locator("#detail-name").inner_text() == name
    assert "[U+202A]one[U+202B]" in page.locator("#detail-description").inner_text()
    samples = page.locator("#detail-samples").inner_text()
    assert "invoice_[U+202E]fdp.exe and asks" in samples
    # displayed left to right as written: g before n before p before the dot before exe
    xs = _x_of(page, "#detail-name", "gnp.exe")
    assert xs == sorted(xs) and len(set(xs)) == len(xs), xs
    xs = _x_of(page, ".tree-name[data-id='L0-0003']", "gnp.exe")
    assert xs == sorted(xs) and len(set(xs)) == len(xs), xs
    # inline user text is its own bidi isolate
    style = page.evaluate(
        "() => getComputedStyle(document.querySelector(\".tree-name[data-id='L0-0003']\"))"
        ".unicodeBidi"
    )
    assert style == "isolate"
    # the map's hover labels and the search results
    hover = _hover_all(page, "L0-0003")
    assert "[U+202E]fdp.exe" in hover and "\u202e" not in hover
    _search(page, "invoice")
    results = page.locator("#search-results").inner_text()
    assert "invoice_[U+202E]fdp.exe" in results and "\u202e" not in results
    watched.assert_clean()


def test_unknown_revenue_shows_as_a_dash(watched, bidi_report):
    """No users table: revenue and paying users are unknown, shown as "–", never "$0"."""
    page = watched.page
    watched.open(bidi_report)
    for cluster in ["L1-0001", "L0-0002"]:
        page.click(f".tree-name[data-id='{cluster}']")
        stats = page.locator("#detail-stats .stat")
        values = {
            stats.nth(i).locator(".label").inner_text(): stats.nth(i).locator(".value").inner_text()
            for i in range(stats.count())
        }
        assert values["Revenue (users' MRR)"] == "–", values
        assert values["Paying users"] == "–", values
        assert values["Conversations"] != "–"
    watched.assert_clean()
