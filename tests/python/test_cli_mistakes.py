"""A new user's mistakes at the command line: each gets one sentence that names the option or
file and what to do, a non-zero exit, and no traceback; `--help` reads as prose; control
characters in names and ids never reach the terminal; `kura tree` piped keeps each cluster on
one line, and `--json` prints the same tree for a program."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kura_dbt.cli import app
from tests.browser.fakedb import make_kura_db

ESCAPES = "\x1b]0;pwned\x07\x1b[31mRed\x9b31m"


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> Path:
    return make_kura_db(tmp_path_factory.mktemp("marts") / "kura.duckdb")


def _run(args: list[str], **kwargs) -> tuple[int, str]:
    # a terminal wide enough that rich wraps no path (a long temporary folder split a word)
    env = {"COLUMNS": "2000", **kwargs.pop("env", {})}
    result = CliRunner().invoke(app, args, terminal_width=100, env=env, **kwargs)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"kura {' '.join(args)} raised {result.exception!r}")
    return result.exit_code, _plain(result.output)


def _plain(output: str) -> str:
    """The words of an output, without the boxes rich draws around errors and help."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def _mistakes(tmp: Path, marts: Path) -> list[tuple[list[str], str]]:
    (tmp / "notduck.txt").write_text("hello\n")
    (tmp / "adir").mkdir(exist_ok=True)
    db = ["--db", str(marts)]
    return [
        (["tree", "--db", str(tmp / "notduck.txt")], "not a valid DuckDB database file"),
        (["tree", "--db", str(tmp / "adir")], "is a folder; pass the DuckDB file"),
        (["tree", "--db", str(tmp / "missing.duckdb")], "does not exist; pass the DuckDB file"),
        (["tree", "--connection", "nope"], "cannot open Snowflake connection nope"),
        (["tree", *db, "--depth", "0"], "'--depth'"),
        (["tree", *db, "--depth", "-1"], "'--depth'"),
        (["tree", *db, "--cluster", "L9-nope"], "no cluster with id 'L9-nope'"),
        (["report", "--db", str(tmp / "notduck.txt")], "not a valid DuckDB database file"),
        (["report", *db, "--samples", "-5"], "'--samples'"),
        (["report", *db, "--max-points", "0"], "'--max-points'"),
        (["report", *db, "--out", str(tmp / "adir")], "is a folder; give a file name"),
        (["load", str(tmp / "missing.jsonl")], "no such file or folder"),
        (["load", str(tmp / "notduck.txt")], "cannot tell the format"),
        (["load", str(tmp / "notduck.txt"), "--format", "word"], "'word' is not one of"),
        (["load", str(tmp / "notduck.txt"), "--schema", "raw; drop"], "is not a plain name"),
        (["schema", "--vars", "not: [valid"], "is not YAML"),
        (["schema", "--vars", "[1]"], "is not a mapping"),
        (["schema", "--format", "yaml"], "'yaml' is not json or dbt"),
        (["schema", "--out", str(tmp / "adir")], "is a folder; give a file name"),
        (["taxonomy", "validate", str(tmp / "missing.csv")], "missing.csv"),
        (["taxonomy", "export", *db, "--out", str(tmp / "t.txt")], "write a .csv"),
        (["taxonomy", "export", *db, "--out", str(tmp / "adir")], "is a folder; give a file"),
        (["estimate", *db, "--vars", "not: [valid"], "is not YAML"),
        (["estimate", *db, "--vars", "[1]"], "is not a mapping"),
        (["estimate", *db, "--vars", "{kura__llm_max_attempts: 0}"], "kura__llm_max_attempts"),
        (
            ["estimate", *db, "--vars", "{kura__summariser: opnai}"],
            "unknown summariser 'opnai' (var kura__summariser); did you mean openai? valid names",
        ),
        (["estimate", *db, "--vars", "{kura__projector: tsne}"], "valid names: pca, umap"),
        (["estimate", *db, "--private-schema", "x", "--schema", "y"], "pass only --private-sch"),
    ]


def test_every_common_mistake_is_one_sentence_and_a_non_zero_exit(tmp_path, marts):
    for args, sentence in _mistakes(tmp_path, marts):
        code, out = _run(args, env={"KURA_DUCKDB_PATH": str(tmp_path / "none.duckdb")})
        assert code != 0, (args, out)
        assert "Traceback" not in out and sentence in out, (args, out)
        assert "make demo" not in out, (args, out)


def test_folders_of_output_files_are_created_alike(tmp_path, marts):
    out = tmp_path / "new" / "deeper" / "schema.json"
    assert _run(["schema", "--out", str(out)])[0] == 0 and out.exists()
    report = tmp_path / "other" / "r.html"
    code, text = _run(["report", "--db", str(marts), "--out", str(report), "--samples", "0"])
    assert code == 0 and report.exists(), text


def test_taxonomy_export_writes_nothing_for_a_wrong_suffix_and_creates_folders(tmp_path):
    db = tmp_path / "kura.duckdb"
    code, _ = _run(["taxonomy", "export", "--db", str(db), "--out", str(tmp_path / "t.txt")])
    assert code != 0 and not (tmp_path / "t.txt").exists()


def test_estimate_names_the_pipeline_schema_as_taxonomy_export_does(tmp_path):
    from .test_progress_budget import _estimate_state

    db = tmp_path / "kura.duckdb"
    _estimate_state(db)  # the pipeline tables in main_kura_private
    with duckdb.connect(str(db)) as con:
        con.execute("create schema elsewhere")
        for table in ("int_kura__transcripts", "kura__summaries"):
            con.execute(f"create table elsewhere.{table} as from main_kura_private.{table}")
        con.execute("drop schema main_kura_private cascade")
    result = CliRunner().invoke(app, ["estimate", "--db", str(db), "--json"])
    assert result.exit_code != 0 and "main_kura_private.int_kura__transcripts" in result.output
    new = CliRunner().invoke(app, ["estimate", "--db", str(db), "--private-schema", "elsewhere"])
    assert new.exit_code == 0 and "conversations pending" in new.output, new.output
    assert "deprecated" not in new.output
    # the old name still works, and says so in one line
    old = CliRunner().invoke(app, ["estimate", "--db", str(db), "--schema", "elsewhere", "--json"])
    assert old.exit_code == 0, old.output
    assert old.stderr.strip() == (
        "kura: `kura estimate --schema` is deprecated: pass --private-schema (the same schema)"
    )
    assert json.loads(old.stdout)["conversations_in"] == 4
    code, help_text = _run(["estimate", "-h"])
    assert "--private-schema" in help_text and "--schema" not in help_text.replace("-private-", "")
    code, export_help = _run(["taxonomy", "export", "-h"])
    assert "--private-schema" in export_help


def test_stage_without_upload_keeps_the_zip_in_the_working_folder(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.chdir(tmp_path)
    code, out = _run(["stage", "--no-upload"])
    assert code == 0, out
    archive = tmp_path / "kura_dbt.zip"
    assert archive.exists() and f": {Path('kura_dbt.zip')} (" in out  # the path it printed
    assert "kura_dbt/__init__.py" in zipfile.ZipFile(archive).namelist()
    code, out = _run(["stage", "--no-upload", "--out", str(tmp_path / "dist" / "x.zip")])
    assert code == 0 and (tmp_path / "dist" / "kura_dbt.zip").exists(), out


def test_version_short_help_and_help_text(tmp_path):
    from kura_dbt import __version__

    assert _run(["--version"]) == (0, f"kura {__version__}")
    code, top = _run(["-h"])
    assert code == 0 and "--help -h" in top and "<bool>" not in top
    # each command's description is whole sentences, not cut where its source line ended
    assert (
        "Load a Claude or ChatGPT export, or a JSON Lines / CSV / Parquet / Arrow file, into" in top
    )
    code, load = _run(["load", "-h"])
    assert "Usage: kura load [OPTIONS] FILE" in load and "{file}" not in load
    assert "<bool>" not in load and "whose file names none" not in load
    wide = CliRunner().invoke(app, ["load", "--help"], env={"COLUMNS": "200"}).output
    assert "adds and updates only what is new or changed" in wide  # one paragraph, one line
    code, tree = _run(["tree", "-h"])
    assert "--json" in tree and "<bool>" not in tree


def _hostile_marts(tmp_path: Path) -> Path:
    db = make_kura_db(tmp_path / "hostile.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update kura__clusters set name = ?, cluster_id = 'L0-\x1b[2J' "
            "where cluster_id = 'L0-0000'",
            [f"Bus {ESCAPES}"],
        )
    return db


def test_control_characters_never_reach_the_terminal(tmp_path):
    db = _hostile_marts(tmp_path)
    result = CliRunner().invoke(app, ["tree", "--db", str(db)], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in "\x1b\x07\x9b")
    assert "Bus [U+001B]]0;pwned[U+0007][U+001B][31mRed[U+009B]31m" in result.output
    assert "L0-[U+001B][2J" in result.output
    document = json.loads(CliRunner().invoke(app, ["tree", "--db", str(db), "--json"]).output)
    text = json.dumps(document, ensure_ascii=False)
    assert "\\u001b" not in text and "\x9b" not in text and "[U+001B]" in text


def test_kura_tree_piped_keeps_each_cluster_on_one_line_and_prints_json(tmp_path, marts):
    with duckdb.connect(str(marts)) as con:
        long_name = "Bus tickets " + "and very long words " * 8
        con.execute("update kura__clusters set name = ? where cluster_id = 'L0-0000'", [long_name])
        con.execute("update kura__clusters set distinct_users = 1 where cluster_id = 'L0-0001'")
    result = CliRunner().invoke(app, ["tree", "--db", str(marts)])  # not a terminal: piped
    line = next(x for x in result.output.splitlines() if "L0-0000" in x)
    assert long_name.strip() in line and "MRR" in line and len(line) > 200
    assert "8 conv · 1 user · " in result.output and "1 users" not in result.output
    document = json.loads(CliRunner().invoke(app, ["tree", "--db", str(marts), "--json"]).output)
    top = {c["cluster_id"]: c for c in document["clusters"]}
    assert set(top) >= {"L1-0000", "L1-0001"}
    bus = next(c for c in top["L1-0000"]["children"] if c["cluster_id"] == "L0-0000")
    assert bus["name"] == long_name and bus["size"] == 9 and isinstance(bus["share"], float)
    depth = json.loads(
        CliRunner().invoke(app, ["tree", "--db", str(marts), "--json", "--depth", "1"]).output
    )
    assert all(c["children"] == [] for c in depth["clusters"])


def test_taxonomy_validate_rejects_control_characters_and_counts_rows_as_a_spreadsheet(tmp_path):
    path = tmp_path / "taxonomy.csv"
    path.write_text(
        "category_id,name,description,example_1\n"  # line 1: the header
        'buses,Bus tickets,Book a bus,"a ticket\nto Leeds"\n'  # lines 2-3: one row
        f"evil,{ESCAPES},Looks harmless,an example\n"
    )
    code, out = _run(["taxonomy", "validate", str(path)])
    assert code == 1 and "has 1 problem:" in out, out
    assert "row 3, field name: a control character" in out and "[U+001B]]0;pwned[U+0007]" in out
    raw = CliRunner().invoke(app, ["taxonomy", "validate", str(path)]).output
    assert not any(c in raw for c in "\x1b\x07\x9b")
    path.write_text("category_id,name,description\nbuses,Bus tickets,Book a bus\n")
    code, out = _run(["taxonomy", "validate", str(path)])
    assert code == 0 and "1 category (1 to classify into)" in out
    path.write_bytes(b"category_id,name\n\xff\xfe,x\n")
    code, out = _run(["taxonomy", "validate", str(path)])
    assert code == 1 and "not UTF-8 text" in out


def test_log_lines_show_control_characters_as_markers(caplog):
    from kura_dbt.progress import emit

    with caplog.at_level("INFO", logger="kura_dbt"):
        emit(f"labelled cluster {ESCAPES}\nnext line", dbt=False)
    [record] = caplog.records
    assert record.getMessage() == (
        "labelled cluster [U+001B]]0;pwned[U+0007][U+001B][31mRed[U+009B]31m\nnext line"
    )
