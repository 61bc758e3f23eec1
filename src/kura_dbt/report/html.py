"""Write the report: one self-contained HTML file (Plotly's JavaScript inlined, data as JSON).

Safety: every piece of text in the page comes from conversations or from names derived from
them, so it is data, never markup. The JSON is written into a non-executed
`<script type="application/json">` block with `<`, `>`, `&` and the JavaScript line separators
escaped as \\uXXXX (so `</script>` in a summary cannot close the block), read back with
JSON.parse, and put into the page with textContent only. plotly.js sits in a non-executed
`<script type="text/plain">` block and is run when the first chart is drawn (the map does
not need it, and running it is the slowest part of opening a large report). Text handed to
Plotly (chart titles and labels) is HTML-escaped first, because Plotly interprets a subset of
HTML in labels. The map draws its own points and puts names and hover text in with textContent.

The page is three package data files in ``templates/``: ``report.html`` (the skeleton, with
%%NAME%% placeholders filled in one pass), ``report.css`` and ``report.js`` (the app). Rules for
report.js: data goes into the page with textContent or setAttribute only, never innerHTML; text
handed to Plotly goes through esc() first. Bidi controls in the data are already visible
markers (kura_dbt.display); inline user text is a bidi isolate (CSS unicode-bidi).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from .data import ReportData

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _escape_quotes(match: re.Match) -> str:
    # inside a JSON string token every quote is escaped as \"; write it as \u0022 instead, and
    # ' as \u0027, so that no quote from the data appears in the file at all
    body = match.group(0)[1:-1].replace('\\"', "\\u0022").replace("'", "\\u0027")
    return f'"{body}"'


def json_for_script(value: Any) -> str:
    """JSON that is safe inside an HTML <script> element: no `<`, `>` or `&` (so no `</script>`
    or `<!--`), no quote characters from the data, no U+2028/U+2029."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = _JSON_STRING.sub(_escape_quotes, text)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def plotly_js() -> str:
    """plotly.js, minified, from the installed `plotly` package (no network)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("`kura report` needs plotly: pip install 'kura-dbt[report]'") from exc
    js = get_plotlyjs()
    # never let the library text end the <script> element early
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def html_escape_text(text: str) -> str:
    """Minimal HTML escaping, for the <title> element."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


@functools.cache
def template(name: str) -> str:
    """The text of ``kura_dbt/report/templates/<name>`` (package data)."""
    return (resources.files("kura_dbt.report") / "templates" / name).read_text(encoding="utf-8")


def render_html(data: ReportData) -> str:
    payload = data.payload
    parts = {
        "TITLE": html_escape_text(str(payload.get("title") or "Kura report")),
        "CSS": template("report.css"),
        "DATA": json_for_script(payload),
        "APP": template("report.js"),
        "PLOTLY": plotly_js(),
    }
    # one pass, so that a placeholder inside the data is never expanded
    return re.sub(
        r"%%(TITLE|CSS|DATA|APP|PLOTLY)%%", lambda m: parts[m.group(1)], template("report.html")
    )


def write_report(data: ReportData, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data), encoding="utf-8")
    return out
