"""`kura report`: one self-contained HTML file to see and share what the kura marts found.

    from kura_dbt.report import ReportOptions, build_report
    build_report(Path("kura.duckdb"), Path("kura_report.html"), ReportOptions(title="Support bot"))

Needs the `report` extra (plotly). Clusters below the privacy thresholds are folded into
"Other (n small clusters)" with counts only; see kura_dbt.report.data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .data import ReportData, ReportOptions, load_report_data
from .html import json_for_script, render_html, write_report
from .source import MartsSource

__all__ = [
    "MartsSource",
    "ReportData",
    "ReportOptions",
    "build_report",
    "json_for_script",
    "load_report_data",
    "render_html",
    "write_report",
]


def build_report(
    db: Path | MartsSource,
    out: Path,
    options: ReportOptions | None = None,
    step: Callable[[str], None] | None = None,
) -> ReportData:
    """Read the marts in `db` (a DuckDB file, or a MartsSource: DuckDB or Snowflake) and write
    the report to `out`; `step` hears each stage's name."""
    data = load_report_data(db if isinstance(db, MartsSource) else Path(db), options, step)
    if step:
        step("Writing the HTML file (Plotly inlined)")
    write_report(data, Path(out))
    return data
