"""Driving the report's map as a person does: the mouse over a point, a click on it, the
label boxes on screen. Points are found through the page's own map (kuraReport.map)."""

from __future__ import annotations

from typing import Any


def point_indices(page, node_id: str) -> list[int]:
    """The map's points shown as `node_id` (a cluster, an "other" node or __unclustered__)."""
    return page.evaluate(
        """(id) => { const m = kuraReport.map, out = [];
            for (let i = 0; i < m.count; i++) { if (m.nodeOf(i) === id) out.push(i); }
            return out; }""",
        node_id,
    )


def point_on_page(page, i: int) -> tuple[float, float]:
    page.locator("#map").scroll_into_view_if_needed()
    x, y = page.evaluate("(i) => kuraReport.map.screenOf(i)", i)
    box = page.locator("#map").bounding_box()
    # the map's border is 1px: its content starts 1px in
    return box["x"] + 1 + x, box["y"] + 1 + y


def hover_point(page, i: int) -> str:
    """Move the mouse onto point `i` and return the tooltip's text ("" when none shows)."""
    page.mouse.move(5, 5)
    x, y = point_on_page(page, i)
    page.mouse.move(x, y)
    tip = page.locator("#map-tip")
    return "" if tip.is_hidden() else tip.inner_text()


ZOOM = """([z, x, y]) => { const v = kuraReport.map.view();
    kuraReport.map.setView(x === null ? v.cx : x, y === null ? v.cy : y, v.fitK * z); }"""


def zoom_to(page, factor: float, x: float | None = None, y: float | None = None) -> None:
    """Show the map `factor` times the whole map's scale, centred on (x, y) in map units (the
    current centre when None)."""
    page.evaluate(ZOOM, [factor, x, y])


def under_label(page, i: int) -> bool:
    """Whether a label covers point `i` (a click there opens the label's cluster)."""
    x, y = point_on_page(page, i)
    return page.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y).closest('.map-label')", [x, y]
    )


def click_point(page, i: int) -> None:
    x, y = point_on_page(page, i)
    page.mouse.click(x, y)


def label_boxes(page) -> list[dict[str, Any]]:
    """The map labels shown now: id, text and box on screen."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#map-labels .map-label')]
            .filter((e) => !e.hidden)
            .map((e) => { const r = e.getBoundingClientRect();
                return {id: e.dataset.id, text: e.textContent, x: r.left, y: r.top,
                        w: r.width, h: r.height}; })"""
    )


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of boxes that overlap (touching edges do not)."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if (
                a["x"] < b["x"] + b["w"]
                and b["x"] < a["x"] + a["w"]
                and a["y"] < b["y"] + b["h"]
                and b["y"] < a["y"] + a["h"]
            ):
                out.append((a["text"], b["text"]))
    return out
