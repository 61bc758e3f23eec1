"""`kura report` without a browser: one self-contained file, the clusters in it, and hostile
conversation text escaped in the raw HTML."""

from __future__ import annotations

import fnmatch
import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("plotly", reason="`kura report` needs the report extra (plotly)")

from typer.testing import CliRunner

from kura_dbt.cli import app
from kura_dbt.display import BIDI_CONTROLS, visible
from kura_dbt.report import ReportOptions, build_report, json_for_script, load_report_data
from kura_dbt.report.mapdata import decode_points
from tests.browser.fakedb import (
    BIDI_DESCRIPTION,
    BIDI_NAME,
    BIDI_SUMMARY,
    HIDDEN_DESCRIPTION,
    HIDDEN_NAME,
    HIDDEN_SUMMARY,
    HOSTILE_SUMMARIES,
    IMG,
    QUOTES,
    SCRIPT,
    make_kura_db,
)


class Tags(HTMLParser):
    """Every start tag with its attributes (script contents are not parsed as tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("report")
    # the hidden cluster keeps its text in the database: the report must hide it by the flag
    db = make_kura_db(work / "kura.duckdb", blank_hidden_text=False)
    out = work / "report.html"
    build_report(db, out, ReportOptions(title='Report <b>"quoted"</b>'))
    return out, out.read_text(encoding="utf-8")


def embedded_data(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="kura-data">(.*?)</script>', html, re.DOTALL
    )
    assert match, "no data block"
    return json.loads(match.group(1))


def test_the_html_is_self_contained(report):
    _, html = report
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        for attr in ("src", "href", "action", "data", "poster"):
            value = (attrs.get(attr) or "").strip().lower()
            assert not re.match(r"^(https?:)?//", value), (tag, attr, value)
        if tag == "script":
            assert "src" not in attrs, "scripts must be inlined"
        if tag == "link":
            assert attrs.get("href", "").startswith("data:"), attrs
    scripts = [a for t, a in parser.tags if t == "script"]
    assert len(scripts) == 3  # plotly.js, the data (JSON, not run), the app
    assert "Plotly" in html and len(html) > 1_000_000  # plotly.js is inlined, not fetched
    assert not re.search(
        r"<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=\s*[\"']?(?:https?:)?//",
        html,
        re.IGNORECASE,
    )


def test_the_clusters_are_in_it(report):
    _, html = report
    data = embedded_data(html)
    names = {n["name"] for n in data["nodes"].values()}
    assert {
        "Travel planning",
        "Coding help",
        "Bus tickets",
        "Hotel bookings",
        "Python scripts",
        "Shell questions",
        "Other (1 small cluster)",
    } <= names
    for name in ["Travel planning", "Coding help", "Python scripts"]:
        assert name in html
    assert data["totals"]["conversations"] == 36 and data["totals"]["unclustered"] == 1
    bus = data["nodes"]["L0-0000"]
    assert bus["size"] == 9 and bus["weekly"] and bus["facets"]["turns"] and bus["samples"]
    assert data["roots"] == ["L1-0001", "L1-0000"]  # biggest first


def test_hostile_text_is_escaped_in_the_raw_html(report):
    _, html = report
    # none of it appears as markup anywhere in the file
    for raw in [
        SCRIPT,
        "<script>window",
        "</script> to Leeds",
        IMG,
        "<img",
        'onerror="window',
        QUOTES,
        '"alert(1)',
        '<b>"quoted"</b>',
    ]:
        assert raw not in html, raw
    # only the three real script elements open and close
    assert len(re.findall(r"<script\b", html, re.IGNORECASE)) == 3
    assert len(re.findall(r"</script", html, re.IGNORECASE)) == 3
    # yet the data keeps the text exactly, for the page to show with textContent
    data = embedded_data(html)
    samples = data["nodes"]["L0-0000"]["samples"]
    for summary in HOSTILE_SUMMARIES:
        assert summary in samples
    assert SCRIPT in data["nodes"]["L0-0000"]["description"]
    assert "&lt;b&gt;&quot;quoted&quot;&lt;/b&gt;" in html  # the <title>
    # the app never writes data with innerHTML / outerHTML / insertAdjacentHTML / document.write
    app_js = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)[-1]
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]:
        assert sink not in app_js, sink


def test_json_for_script_escapes_what_could_end_the_script():
    tricky = [
        "</script><!-- & \u2028 \u2029 '\"",
        "a\\",
        '\\"',
        'x\\\\"y',
        '" onmouseover="alert(1)',
    ]
    text = json_for_script({"a": tricky, 'k"ey': 1.5})
    assert "<" not in text and ">" not in text and "&" not in text and "'" not in text
    assert "\u2028" not in text and "\u2029" not in text and 'onmouseover=\\"' not in text
    assert json.loads(text) == {"a": tricky, 'k"ey': 1.5}


def test_hidden_clusters_leave_nothing_but_counts(report):
    _, html = report
    for secret in [HIDDEN_NAME, HIDDEN_DESCRIPTION, "HIDDEN-SECRET", "u-secret"]:
        assert secret not in html, secret
    other = embedded_data(html)["nodes"]["other:L1-0001:L0"]
    assert (
        other["kind"] == "other"
        and other["clusters"] == 1
        and other["size"] == 2
        and other["users"] == 1
    )
    assert not {"description", "keywords", "samples", "facets", "weekly"} & set(other)


def test_kura_report_command(tmp_path):
    db = make_kura_db(tmp_path / "kura.duckdb")
    out = tmp_path / "out" / "r.html"
    result = CliRunner().invoke(
        app, ["report", "--db", str(db), "--out", str(out), "--title", "CLI"]
    )
    assert result.exit_code == 0, result.output
    assert (
        out.exists()
        and "Wrote" in result.output
        and "1 below the privacy thresholds" in result.output
    )
    assert "<title>CLI</title>" in out.read_text(encoding="utf-8")
    missing = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "nope.duckdb")])
    assert missing.exit_code == 2 and "--db" in missing.output
    assert HIDDEN_SUMMARY not in out.read_text(encoding="utf-8")


def test_max_points_caps_the_map_and_the_search(tmp_path):
    from kura_dbt.report import load_report_data

    data = load_report_data(make_kura_db(tmp_path / "k.duckdb"), ReportOptions(max_points=10))
    points = decode_points(data.payload)
    assert len(points) == 10 and 0 < len(data.payload["search"]) <= 10
    # search covers the summaries of the same conversations as the map: each is a point's
    assert sorted(p[3] for p in points if p[3]) == sorted(s for s, _ in data.payload["search"])
    assert len(data.warnings) == 2
    again = load_report_data(tmp_path / "k.duckdb", ReportOptions(max_points=10))
    assert decode_points(again.payload) == points  # seeded


def _one_line(output: str) -> str:
    """What the CLI printed as one line, without rich's error box."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


# a terminal wide enough that rich wraps no path (a long temporary folder would split a word)
WIDE = {"COLUMNS": "2000"}


# ---- bidi controls: shown, never obeyed ------------------------------------------------------


def test_visible_bidi_replaces_every_control_by_a_marker():
    text = "".join(f"{c}x" for c in BIDI_CONTROLS)
    shown = visible(text)
    assert not set(BIDI_CONTROLS) & set(shown)
    assert shown == "".join(f"[U+{ord(c):04X}]x" for c in BIDI_CONTROLS)
    assert shown.startswith("[U+202A]x") and "[U+202E]x" in shown and shown.endswith("[U+2069]x")
    # right-to-left letters and the implicit marks are text, not controls: left alone
    assert visible("שלום \u200f مرحبا \u200e") == "שלום \u200f مرحبا \u200e"


def test_the_report_data_shows_bidi_controls_instead_of_obeying_them(tmp_path):
    db = make_kura_db(tmp_path / "bidi.duckdb", bidi=True)
    out = tmp_path / "bidi.html"
    build_report(db, out, ReportOptions(title="Files \u202egnp.exe"))
    html = out.read_text(encoding="utf-8")
    block = re.search(
        r'<script type="application/json" id="kura-data">(.*?)</script>', html, re.DOTALL
    )
    title = re.search(r"<title>(.*?)</title>", html, re.DOTALL)
    for text in (block.group(1), title.group(1)):
        assert not set(BIDI_CONTROLS) & set(text), "a bidi control reached the page"
    data = embedded_data(html)
    node = data["nodes"]["L0-0003"]
    assert node["name"] == "Attachments [U+202E]gnp.exe [bold]not markup[/bold]"
    assert node["description"] == (
        "Files [U+202A]one[U+202B] two[U+202C] three[U+202D] four "
        "[U+2066]five[U+2067]six[U+2068]seven[U+2069]"
    )
    shown_summary = "The user sends invoice_[U+202E]fdp.exe and asks whether it is safe"
    assert shown_summary in node["samples"]
    assert [shown_summary, "L0-0003"] in data["search"]
    assert any(p[3] == shown_summary for p in decode_points(data))  # the map's hover text
    assert data["title"] == "Files [U+202E]gnp.exe"
    assert BIDI_NAME not in html and BIDI_DESCRIPTION not in html and BIDI_SUMMARY not in html


def test_kura_tree_shows_bidi_controls_and_markup_as_text(tmp_path):
    db = make_kura_db(tmp_path / "bidi.duckdb", bidi=True)
    result = CliRunner().invoke(app, ["tree", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "Attachments [U+202E]gnp.exe [bold]not markup[/bold]" in _one_line(result.output)
    assert not set(BIDI_CONTROLS) & set(result.output)


# ---- no users table: revenue is unknown, not $0 -----------------------------------------------


def test_unknown_revenue_stays_unknown_in_the_report_and_the_tree(tmp_path):
    db = make_kura_db(tmp_path / "no_users.duckdb", revenue_known=False)
    nodes = [n for n in load_report_data(db).payload["nodes"].values() if n["kind"] == "cluster"]
    assert nodes and all(n["revenue"] is None and n["paying_users"] is None for n in nodes)
    tree = CliRunner().invoke(app, ["tree", "--db", str(db)])
    assert tree.exit_code == 0, tree.output
    assert _one_line(tree.output).count("MRR –") == 6, tree.output  # every cluster shown
    assert "$" not in tree.output
    known = CliRunner().invoke(app, ["tree", "--db", str(make_kura_db(tmp_path / "users.duckdb"))])
    assert known.exit_code == 0 and "MRR –" not in known.output
    assert re.search(r"\$\d[\d,]* MRR", _one_line(known.output)), known.output


# ---- before any build: one sentence, not a traceback ---------------------------------------------


@pytest.mark.parametrize("name", ["tree", "report"])
def test_kura_commands_before_any_build_say_what_to_run(tmp_path, name):
    import duckdb

    command = [name] if name == "tree" else [name, "--out", str(tmp_path / "r.html")]
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = CliRunner().invoke(app, [*command, "--db", str(empty)], env=WIDE)
    text = _one_line(result.output)
    assert result.exit_code == 2, result.output  # a usage error, as typer reports them
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"{empty} has no table main.kura__clusters: run `dbt build`" in text, result.output
    assert "Traceback" not in result.output and "CatalogException" not in result.output
    assert not (tmp_path / "r.html").exists()
    # half a build (kura__clusters only): the sentence names the table that is missing
    with duckdb.connect(str(empty)) as con:
        con.execute("create table kura__clusters as select 'L0-0' as cluster_id")
    half = CliRunner().invoke(app, [*command, "--db", str(empty)], env=WIDE)
    assert half.exit_code == 2, half.output
    assert "has no table main.kura__conversations" in _one_line(half.output), half.output
    # another schema: the same sentence, naming it
    other = CliRunner().invoke(
        app, [*command, "--db", str(empty), "--schema", "analytics"], env=WIDE
    )
    assert other.exit_code == 2 and "no table analytics.kura__clusters" in _one_line(other.output)


def test_the_page_is_package_data(report):
    """The page's HTML, CSS and JavaScript are files in kura_dbt/report/templates, shipped by
    pyproject.toml's package-data and read with importlib.resources into the report."""
    folder = resources.files("kura_dbt.report") / "templates"
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert names == ["report.css", "report.html", "report.js"]
    repo = Path(__file__).resolve().parents[2]
    pyproject = (repo / "pyproject.toml").read_text(encoding="utf-8")
    package_data = pyproject.split("[tool.setuptools.package-data]", 1)[1]
    shipped = json.loads(re.search(r"^kura_dbt = (\[.*\])$", package_data, re.M).group(1))
    for name in names:
        assert any(fnmatch.fnmatch(f"report/templates/{name}", g) for g in shipped), name
    _, html = report
    for name in ("report.css", "report.js"):
        assert (folder / name).read_text(encoding="utf-8") in html
    for placeholder in ("TITLE", "CSS", "DATA", "APP", "PLOTLY"):
        assert f"%%{placeholder}%%" not in html


def test_the_report_counts_what_the_privacy_audit_withheld(tmp_path):
    """A conversation whose summary the privacy auditor withheld (NULL in the mart,
    privacy_withheld true) is counted as summarised and as withheld, and shown nowhere."""
    import duckdb

    db = make_kura_db(tmp_path / "audit.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute("alter table main.kura__conversations add column privacy_withheld boolean")
        con.execute("update main.kura__conversations set privacy_withheld = false")
    before = load_report_data(db).payload["totals"]
    with duckdb.connect(str(db)) as con:
        cid, summary = con.execute(
            "select conversation_id, summary from main.kura__conversations "
            "where summary is not null order by conversation_id limit 1"
        ).fetchone()
        con.execute(
            "update main.kura__conversations set summary = null, privacy_withheld = true "
            "where conversation_id = ?",
            [cid],
        )
    data = load_report_data(db).payload
    assert data["totals"]["privacy_withheld"] == 1
    assert before["privacy_withheld"] == 0
    assert data["totals"]["summarised"] == before["summarised"]
    assert summary not in json.dumps(data)
