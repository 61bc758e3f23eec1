"""The report's map in a real browser: names on the map that never overlap, colour families,
hover and click, facet overlays with a legend, whole names in the tree, and no name of a cluster
below the privacy thresholds anywhere on the map."""

from __future__ import annotations

import colorsys
from pathlib import Path

import pytest

from kura_dbt.report import ReportOptions, build_report

from .fakedb import HIDDEN_NAME, HIDDEN_SUMMARY, make_kura_db, make_large_kura_db
from .mapping import (
    click_point,
    hover_point,
    label_boxes,
    overlapping,
    point_indices,
    under_label,
    zoom_to,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("map-small")
    db = make_kura_db(work / "kura.duckdb", blank_hidden_text=False, bidi=True)
    out = work / "kura_report.html"
    build_report(db, out, ReportOptions(title="Map test"))
    return out


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    """3,000 conversations, 8 top-level, 32 middle and 192 base clusters (15 hidden)."""
    work = tmp_path_factory.mktemp("map-large")
    db = make_large_kura_db(work / "kura.duckdb", 3000, seed=3)
    out = work / "kura_report.html"
    build_report(db, out, ReportOptions(title="Large map test"))
    return out


def _nodes(page) -> dict:
    return page.evaluate("kuraReport.data.nodes")


def test_labels_never_overlap_at_three_zoom_levels(watched, large):
    page = watched.page
    watched.open(large)
    nodes = _nodes(page)
    tops = {n["name"] for n in nodes.values() if n["kind"] == "cluster" and not n["parent"]}
    levels_seen = []
    # the whole map, then 4x and 16x into the largest top-level cluster's first base cluster
    first_base = page.evaluate("kuraReport.data.map.labels.find((l) => l[4] === 0)")
    for zoom in (1, 4, 16):
        if zoom == 1:
            zoom_to(page, 1)
        else:
            zoom_to(page, zoom, first_base[1], first_base[2])
        boxes = label_boxes(page)
        assert boxes, f"no label at zoom {zoom}"
        assert overlapping(boxes) == [], (zoom, overlapping(boxes))
        levels_seen.append([nodes[b["id"]]["level"] for b in boxes])
        if zoom == 1:  # every top-level name is on the whole map
            assert {b["text"] for b in boxes} >= tops
        # every label is inside the map
        area = page.locator("#map").bounding_box()
        for b in boxes:
            assert area["x"] <= b["x"] and b["x"] + b["w"] <= area["x"] + area["width"] + 1
    # deeper names come in as one zooms in: more base clusters' names at 16x than on the whole
    assert 0 in levels_seen[2], levels_seen
    assert levels_seen[2].count(0) > levels_seen[0].count(0), levels_seen
    watched.assert_clean()


def test_hidden_clusters_have_no_name_on_the_map(watched, small, large):
    page = watched.page
    for report in (small, large):
        watched.open(report)
        nodes = _nodes(page)
        shown = {n["id"] for n in nodes.values() if n["kind"] == "cluster"}
        labels = page.evaluate("kuraReport.data.map.labels.map((l) => l[0])")
        assert set(labels) == shown  # a label for each visible cluster, none for the others
        for zoom in (1, 8, 64):
            zoom_to(page, zoom)
            for b in label_boxes(page):
                assert nodes[b["id"]]["kind"] == "cluster"
    # the small report's one hidden cluster: its points say Other and show no summary
    watched.open(small)
    assert HIDDEN_NAME not in page.locator("#map").inner_text()
    for i in point_indices(page, "other:L1-0001:L0"):
        text = hover_point(page, i)
        assert text.startswith("Coding help › Other (1 small cluster)"), text
        assert "below the privacy thresholds" in text and HIDDEN_SUMMARY not in text
        assert HIDDEN_NAME not in text
    watched.assert_clean()


def test_hover_shows_the_cluster_path_and_summary(watched, small):
    page = watched.page
    watched.open(small)
    i = point_indices(page, "L0-0002")[0]
    text = hover_point(page, i)
    assert text.splitlines()[0] == "Coding help › Python scripts"
    assert "The user asks about python scripts number" in text
    # an unclustered point says so, with no summary (it is in no cluster that meets the
    # thresholds)
    text = hover_point(page, point_indices(page, "__unclustered__")[0])
    assert text.strip() == "Unclustered"
    watched.assert_clean()


def test_clicking_a_label_or_a_point_opens_the_cluster(watched, large):
    page = watched.page
    watched.open(large)
    boxes = label_boxes(page)
    target = boxes[0]
    page.mouse.click(target["x"] + target["w"] / 2, target["y"] + target["h"] / 2)
    assert page.locator("#detail").get_attribute("data-selected") == target["id"]
    assert page.locator("#detail-name").inner_text() == target["text"]
    # a base cluster's point
    nodes = _nodes(page)
    page.evaluate("() => kuraReport.map.fit()")
    bases = [n["id"] for n in nodes.values() if n["kind"] == "cluster" and n["level"] == 0]
    base, i = next(
        (b, i) for b in bases for i in point_indices(page, b)[:5] if not under_label(page, i)
    )
    click_point(page, i)
    assert page.locator("#detail").get_attribute("data-selected") == base
    watched.assert_clean()


def _hls(hex_colour: str) -> tuple[float, float, float]:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)


def test_colour_families_by_top_level_with_a_shade_per_base_cluster(watched, small):
    page = watched.page
    watched.open(small)

    def colour_of(node_id: str) -> str:
        return page.evaluate("(i) => kuraReport.map.colourOf(i)", point_indices(page, node_id)[0])

    python, shell = colour_of("L0-0002"), colour_of("L0-0003")  # both under Coding help
    bus, hotel = colour_of("L0-0000"), colour_of("L0-0001")  # both under Travel planning
    assert len({python, shell, bus, hotel}) == 4  # a distinct shade per base cluster

    # siblings share a hue family: closer in hue to each other than to the other family
    def hue_gap(a: str, b: str) -> float:
        d = abs(_hls(a)[0] - _hls(b)[0])
        return min(d, 1 - d)

    assert hue_gap(python, shell) < hue_gap(python, bus)
    assert hue_gap(bus, hotel) < hue_gap(bus, shell)
    # the tree shows the same shades
    swatch = page.locator("#tree .swatch[data-id='L0-0002']")
    sw = swatch.evaluate("(e) => getComputedStyle(e).backgroundColor")
    r, g, b = (int(int(python[i : i + 2], 16)) for i in (1, 3, 5))
    assert sw == f"rgb({r}, {g}, {b})"
    watched.assert_clean()


def test_overlays_colour_by_each_facet_with_a_legend(watched, large):
    page = watched.page
    watched.open(large)
    options = page.eval_on_selector_all("#colour-by option", "(os) => os.map((o) => o.value)")
    assert options == [
        "cluster",
        "language",
        "frustration",
        "concerning",
        "feedback",
        "revenue",
        "week",
        "status",
    ]
    before = page.evaluate("() => [0, 1, 2, 3, 4].map((i) => kuraReport.map.colourOf(i))")
    for key in options[1:]:
        page.select_option("#colour-by", key)
        assert page.locator("#map-legend").get_attribute("data-mode") == key
        items = page.locator("#map-legend li")
        assert items.count() >= 2, key
        if key == "language":
            assert "Spanish" in page.locator("#map-legend").inner_text()
    # the week overlay: the latest week stands out, in the legend and on the map
    page.select_option("#colour-by", "week")
    emphasised = page.locator("#map-legend li.emphasised")
    assert emphasised.count() == 1 and "new this week" in emphasised.inner_text()
    # the status overlay: novel points stand out (their own colour, drawn larger, on top)
    page.select_option("#colour-by", "status")
    assert "novel" in page.locator("#map-legend li.emphasised").inner_text()
    novel = point_indices(page, "__unclustered__")
    colours = {page.evaluate("(i) => kuraReport.map.colourOf(i)", i) for i in novel}
    assert colours == {"#e8161b"}
    text = hover_point(page, novel[0])
    assert "Assignment status: novel" in text
    # hidden clusters' points show no facet value
    hidden = [k for k, n in _nodes(page).items() if n["kind"] == "other" and n["level"] == 0]
    page.select_option("#colour-by", "language")
    texts = [hover_point(page, i) for k in hidden for i in point_indices(page, k)]
    texts = [t for t in texts if "Other (" in t.splitlines()[0]]  # not hidden by a neighbour
    assert texts and all("Language: not shown (below the privacy thresholds)" in t for t in texts)
    # and back to clusters: the first colours again
    page.select_option("#colour-by", "cluster")
    after = page.evaluate("() => [0, 1, 2, 3, 4].map((i) => kuraReport.map.colourOf(i))")
    assert after == before
    watched.assert_clean()


def test_the_tree_shows_whole_names(browser, small):
    """Each name in the tree is one line, even at a narrow window and for a long name."""
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.goto(small.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']")
    lines = page.evaluate(
        """() => [...document.querySelectorAll('#tree .tree-name')].map((e) =>
            [e.textContent, new Set([...e.getClientRects()].map((r) => Math.round(r.top))).size])"""
    )
    assert lines and all(n == 1 for _, n in lines), lines
    assert any(len(name) > 40 for name, _ in lines)
    context.close()
