"""The report's map at scale: `kura report` on a synthetic DuckDB with the report's input tables
(kura__clusters, kura__conversations, kura__cluster_weekly, as tests/browser/fakedb.py writes
them: 8 top-level, 32 middle and 192 base clusters, summaries of about 150 characters), then the
file opened from disk in headless Chromium (Debian's chromium, driven by Playwright).

Prints: the time `kura report` took (the CLI, a child process), the file's size and what it is
made of, time to first contentful paint and to the map drawn, and frame times while panning
(a 3-second drag with the mouse across the map, at the whole map and zoomed 8x): the map's draw
time per frame (points, labels) and the interval between animation frames. With
--baseline-src, the same for the report that another checkout writes (e.g. the Plotly map
before issue 21: its frames are Plotly's pan).

    python benchmarks/report_map.py [--n 100000] [--keep DIR] [--json FILE] [--shot PNG]
        [--baseline-src OTHER_CHECKOUT/src]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.fakedb import make_large_kura_db  # noqa: E402
from tests.browser.mapping import zoom_to  # noqa: E402


def build(n: int, work: Path, src: Path | None = None) -> dict[str, Any]:
    """The DuckDB file (made once per folder) and `kura report` on it, with the library in
    `src` (another checkout's src/, for a baseline) or this one."""
    db = work / "kura.duckdb"
    t = time.perf_counter()
    if not db.exists():
        make_large_kura_db(db, n, seed=0)
    made = time.perf_counter() - t
    out = work / ("kura_report.html" if src is None else "baseline_report.html")
    kura = Path(sys.executable).with_name("kura")
    env = dict(os.environ, PYTHONPATH=str(src or ROOT / "src"))
    t = time.perf_counter()
    subprocess.run(
        [
            str(kura),
            "report",
            "--db",
            str(db),
            "--out",
            str(out),
            "--title",
            f"{n:,} conversations",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    seconds = time.perf_counter() - t
    size = out.stat().st_size
    result = {
        "out": out,
        "db_seconds": round(made, 1),
        "report_seconds": round(seconds, 1),
        "file_mb": round(size / 2**20, 1),
    }
    html = out.read_text(encoding="utf-8")
    start = html.index('id="kura-data">') + len('id="kura-data">')
    payload = json.loads(html[start : html.index("</script>", start)])
    if "map" not in payload:  # the baseline: points as JSON lists
        result["points"] = len(payload["points"])
        return result
    m = payload["map"]
    parts = {
        "coordinates, nodes, text indices (binary)": len(m["xy"]) + len(m["node"]) + len(m["text"]),
        "facets (binary)": sum(len(f["codes"]) for f in m["facets"]),
        "summaries (search and hover)": len(json.dumps(payload["search"], ensure_ascii=False)),
        "clusters (names, stats, samples)": len(json.dumps(payload["nodes"], ensure_ascii=False)),
    }
    result.update(
        points=m["n"],
        labels=len(m["labels"]),
        parts_mb={k: round(v / 2**20, 2) for k, v in parts.items()},
    )
    return result


# frames while the mouse drags across the map (real input events, as a person pans): the
# interval between animation frames, and the map's own draw time per frame (this map only)
FRAMES_ON = """() => { window.__frames = []; window.__on = true;
    window.__draws = window.kuraReport.map ? kuraReport.map.frameTimes.length : 0;
    let last = performance.now();
    const tick = (t) => {
        __frames.push(t - last); last = t; if (__on) requestAnimationFrame(tick); };
    requestAnimationFrame(tick); }"""
FRAMES_OFF = """() => { window.__on = false;
    return {frames: __frames.slice(2),
            draws: window.kuraReport.map ? kuraReport.map.frameTimes.slice(__draws) : []}; }"""


def pan(page, seconds: float = 3.0) -> dict[str, Any]:
    box = page.locator("#map").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.evaluate(FRAMES_ON)
    page.mouse.down()
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        f = elapsed / seconds * 2 * math.pi
        page.mouse.move(x0 + 250 * math.sin(f), y0 + 120 * math.sin(2 * f))
    page.mouse.up()
    got = page.evaluate(FRAMES_OFF)
    return {"draw": _stats(got["draws"]), "frame": _stats(got["frames"])}


def _stats(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1),
        "max_ms": round(values[-1], 1),
        "n": len(values),
    }


def measure(html: Path, shot: Path | None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        t = time.perf_counter()
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        wall = time.perf_counter() - t
        paint = page.evaluate(
            """() => { const at = (name) => (performance.getEntriesByName(name)[0] || {}).startTime;
                return {fcp: at('first-contentful-paint'), drawn: at('kura-map-drawn'),
                        heap: performance.memory ? performance.memory.usedJSHeapSize : null}; }"""
        )
        if shot:
            page.screenshot(path=str(shot))
        baseline = page.evaluate("() => !window.kuraReport.map")
        if baseline:  # Plotly: drag pans once the drag mode is pan
            page.evaluate("() => Plotly.relayout('map', {dragmode: 'pan'})")
        whole = pan(page)
        if baseline:
            page.evaluate(
                """() => { const gd = document.getElementById('map'), x = gd.layout.xaxis.range,
                    y = gd.layout.yaxis.range, cx = (x[0] + x[1]) / 2, cy = (y[0] + y[1]) / 2,
                    hx = (x[1] - x[0]) / 16, hy = (y[1] - y[0]) / 16;
                    return Plotly.relayout(gd, {'xaxis.range': [cx - hx, cx + hx],
                                                'yaxis.range': [cy - hy, cy + hy]}); }"""
            )
        else:
            zoom_to(page, 8)
        zoomed = pan(page)
        browser.close()
    return {
        "open_to_ready_s_wall": round(wall, 2),
        "first_contentful_paint_ms": round(paint["fcp"] or 0),
        "map_drawn_ms": round(paint["drawn"]) if paint["drawn"] else None,
        "js_heap_mb": round((paint["heap"] or 0) / 2**20),
        "pan_whole_map": whole,
        "pan_zoomed_8x": zoomed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep the DuckDB file and the report here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--shot", type=Path, help="a screenshot of the report as it opens")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also measure the report written by another checkout's src/ (the same data)",
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kura-report-map-"))
    work.mkdir(parents=True, exist_ok=True)
    result = build(args.n, work)
    result.update(measure(result.pop("out"), args.shot))
    if args.baseline_src:
        base = build(args.n, work, args.baseline_src)
        base.update(measure(base.pop("out"), None))
        result["baseline"] = base
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
