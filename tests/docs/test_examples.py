"""Every example in the docs that is marked to run on the demo runs there, and shows the output
the demo gives (see tests/docs/examples.py for the markers). Cluster ids are content hashes
that change with the pipeline, so no page writes one outside a checked output.

`KURA_DOCS_UPDATE=1 pytest tests/docs` writes the demo's output into the pages instead of
comparing it; review the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.docs.examples import (
    CLUSTER_ID,
    REPO,
    Example,
    blocks,
    examples,
    needs_mark,
    pages,
    replace_output,
    table,
)

# pages whose SQL is not DuckDB's, or that are generated from code
NOT_ON_THE_DEMO = {
    REPO / "docs" / "SNOWFLAKE.md": "Snowflake SQL (grants, Cortex), not the DuckDB demo",
}
GENERATED = REPO / "docs" / "reference"
UPDATE = os.environ.get("KURA_DOCS_UPDATE") == "1"

CASES = [(page, n) for page in pages() for n, _ in enumerate(examples(page))]


def run_sql(db: Path, sql: str) -> str:
    """Run the block's statements in order; the output is the last one's result. (Not a
    read-only connection: dbt, run in this process, keeps the file open read-write.)"""
    with duckdb.connect(str(db)) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        result = None
        for statement in con.extract_statements(sql):
            result = con.execute(statement)
        assert result is not None, "an empty SQL block"
        columns = [d[0] for d in result.description or []]
        return table(columns, result.fetchall())


def run_shell(db: Path, script: str, workdir: Path) -> str:
    """Run the block with bash in a folder laid out as the repository is after `make demo`:
    kura.duckdb (a copy of the demo), .venv (this interpreter's environment), seeds/."""
    # dbt, run in this process, may keep the file open: write its WAL into the file first, so
    # that the copy holds the whole demo
    with duckdb.connect(str(db)) as con:
        con.execute("checkpoint")
    shutil.copy(db, workdir / "kura.duckdb")
    (workdir / "seeds").mkdir()
    (workdir / ".venv").symlink_to(sys.prefix)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "KURA_DUCKDB_PATH": str(workdir / "kura.duckdb"),
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def shown(example: Example) -> str:
    assert example.output is not None
    return "\n".join(line.rstrip() for line in example.output.body.split("\n")).strip()


@pytest.mark.parametrize(
    ("page", "n"), CASES, ids=[examples(p)[n].name for p, n in CASES] if CASES else None
)
def test_example_runs_on_the_demo(page: Path, n: int, docs_demo_db: Path, tmp_path) -> None:
    example = examples(page)[n]
    if example.code.lang == "sql":
        got = run_sql(docs_demo_db, example.code.body)
    elif example.code.lang == "bash":
        got = run_shell(docs_demo_db, example.code.body, tmp_path)
    else:
        raise AssertionError(f"{example.name}: cannot run a {example.code.lang!r} block")
    if example.output is None:
        return
    got = "\n".join(line.rstrip() for line in got.split("\n")).strip()
    if UPDATE and got != shown(example):
        replace_output(example, got)
        return
    assert got == shown(example), (
        f"{example.name}: the demo's output differs from the page's "
        "(KURA_DOCS_UPDATE=1 pytest tests/docs writes it into the page):\n" + got
    )


def test_every_sql_and_kura_block_says_whether_it_runs_on_the_demo() -> None:
    unmarked = [
        f"{block.page.relative_to(REPO)}:{block.start}"
        for page in pages()
        if page not in NOT_ON_THE_DEMO and GENERATED not in page.parents
        for block in blocks(page)
        if needs_mark(block) and block.mark not in ("demo", "skip")
    ]
    assert not unmarked, (
        "SQL or kura blocks without <!-- check: demo --> or <!-- check: skip REASON --> above "
        "them: " + ", ".join(unmarked)
    )


def test_no_page_writes_a_cluster_id_outside_a_checked_output() -> None:
    found = []
    for page in [*pages(), REPO / "BENCHMARKS.md"]:
        text = page.read_text(encoding="utf-8").split("\n")
        checked = {
            i
            for block in blocks(page)
            if block.mark == "output"
            for i in range(block.start, block.end)
        }
        found += [
            f"{page.relative_to(REPO)}:{i + 1}: {m}"
            for i, line in enumerate(text)
            if i not in checked
            for m in CLUSTER_ID.findall(line)
        ]
    assert not found, "cluster ids change with the pipeline; select them instead: " + "; ".join(
        found
    )
