"""The report's map at scale: `kura report` on a synthetic DuckDB with the report's input tables
(kura__clusters, kura__conversations, kura__cluster_weekly, as tests/browser/fakedb.py writes
them: 8 top-level, 32 middle and 192 base clusters, summaries of about 150 characters), then the
file opened from disk in headless Chromium (Debian's chromium, driven by Playwright).

Prints: the time `kura report` took (the CLI, a child process), the file's size and what it is
made of, time to first contentful paint and to the map drawn, and frame times while panning
(a 3-second drag across the map, at the whole map and zoomed 8x): the map's draw time per frame
(points, labels) and the interval between animation frames.

    python benchmarks/report_map.py [--n 100000] [--keep DIR] [--json FILE] [--shot PNG]
"""

from __future__ import annotations

import argparse
import json
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


def build(n: int, work: Path) -> dict[str, Any]:
    db = work / "kura.duckdb"
    t = time.perf_counter()
    make_large_kura_db(db, n, seed=0)
    made = time.perf_counter() - t
    out = work / "kura_report.html"
    kura = Path(sys.executable).with_name("kura")
    t = time.perf_counter()
    subprocess.run(
        [str(kura), "report", "--db", str(db), "--out", str(out), "--title", f"{n:,} conversations"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t
    html = out.read_text(encoding="utf-8")
    start = html.index('id="kura-data">')
    data = html[start : html.index("</script>", start)]
    payload = json.loads(data[len('id="kura-data">') :])
    m = payload["map"]
    parts = {
        "coordinates and nodes (binary)": len(m["xy"]) + len(m["node"]) + len(m["text"]),
        "facets (binary)": sum(len(f["codes"]) for f in m["facets"]),
        "summaries (search and hover)": len(json.dumps(payload["search"], ensure_ascii=False)),
        "clusters (names, stats, samples)": len(json.dumps(payload["nodes"], ensure_ascii=False)),
    }
    return {
        "out": out,
        "db_seconds": round(made, 1),
        "report_seconds": round(seconds, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
        "points": m["n"],
        "labels": len(m["labels"]),
        "parts_mb": {k: round(v / 2**20, 2) for k, v in parts.items()},
    }


PAN = """async ([dx, ms]) => {
    const map = document.getElementById('map'), r = map.getBoundingClientRect();
    const frames = [], start = kuraReport.map.frameTimes.length;
    let last = performance.now(), on = true;
    const tick = (t) => { frames.push(t - last); last = t; if (on) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const t0 = performance.now(), x0 = r.left + r.width / 2, y0 = r.top + r.height / 2;
    const ev = (type, x, y) => map.dispatchEvent(new PointerEvent(type, {clientX: x, clientY: y,
        bubbles: true, pointerId: 1, isPrimary: true, buttons: type === 'pointerup' ? 0 : 1}));
    ev('pointerdown', x0, y0);
    let i = 0;
    while (performance.now() - t0 < ms) {
        i++;
        const f = ((performance.now() - t0) / ms) * 2 * Math.PI;
        ev('pointermove', x0 + dx * Math.sin(f), y0 + dx * 0.5 * Math.sin(2 * f));
        await new Promise((res) => requestAnimationFrame(res));
    }
    ev('pointerup', x0, y0);
    on = false;
    return {moves: i, draws: kuraReport.map.frameTimes.slice(start), frames: frames.slice(2)};
}"""


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
            """() => ({fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
                      drawn: (performance.getEntriesByName('kura-map-drawn')[0] || {}).startTime,
                      heap: performance.memory ? performance.memory.usedJSHeapSize : null})"""
        )
        if shot:
            page.screenshot(path=str(shot))
        whole = page.evaluate(PAN, [300, 3000])
        page.evaluate("() => { const v = kuraReport.map.view(); kuraReport.map.setView(v.cx, v.cy, v.fitK * 8); }")
        zoomed = page.evaluate(PAN, [300, 3000])
        browser.close()
    return {
        "open_to_map_drawn_s_wall": round(wall, 2),
        "first_contentful_paint_ms": round(paint["fcp"] or 0),
        "map_drawn_ms": round(paint["drawn"] or 0),
        "js_heap_mb": round((paint["heap"] or 0) / 2**20),
        "pan_whole_map": {"draw": _stats(whole["draws"]), "frame": _stats(whole["frames"])},
        "pan_zoomed_8x": {"draw": _stats(zoomed["draws"]), "frame": _stats(zoomed["frames"])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep the DuckDB file and the report here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--shot", type=Path, help="a screenshot of the report as it opens")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kura-report-map-"))
    work.mkdir(parents=True, exist_ok=True)
    result = build(args.n, work)
    result.update(measure(result.pop("out"), args.shot))
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
