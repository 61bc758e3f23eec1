"""A `dbt build` killed mid-way (SIGKILL, as an out-of-memory kill or a cancelled CI job does)
leaves no conversation text in the target schema once the next dbt command has run, and shows
what it leaves before that (issue 22, item 5).

What dbt-duckdb 1.11 does, read from its source (dbt/include/duckdb/macros/):

* `materializations/incremental.sql`: for a Python model it asks
  `duckdb__dispatch_temporary_relation` (adapters.sql) for the temporary relation
  (`make_temp_relation`: `<model>__dbt_tmp<timestamp>`, no schema), runs the model through
  `create_table_as(temporary, ...)` in a `pre` statement, merges in `main`, runs the
  post-hooks *inside the transaction*, then `adapter.commit()`.
* `adapters.sql`, `py_write_table`: ignores `temporary` and runs a plain
  `create table "<model>__dbt_tmp..."` on the cursor the Python job gets
  (`environments/local.py`, `submit_python_job`: `handle.cursor()`), a connection of its own
  that commits at once: the table, a copy of the rows the model computed, is in the
  database's default schema from then on, while the merge and kura's post-hook that drops it
  (`kura.drop_python_tmp_tables`) are not committed until the model ends.

So a kill between the two leaves `main.<model>__dbt_tmp...` with the model's rows (for
kura__summaries: the summaries) in the database's default schema, which is the target schema
when that is `main` (the demo, this test). The Python models' inputs are read through
temporary views (kura_dbt.frames.Warehouse), which end with the killed process: none is left.
The next dbt invocation drops them, whatever it selects (an on-run-start hook,
`kura.drop_all_python_tmp_tables`, macros/maintenance/drop_python_tmp_tables.sql), and so does
the model's own post-hook when it runs again. The test widens that window
with a slow post-hook on kura__summaries (a project beside the demo, which installs this
package) and kills dbt when it starts, then checks both the leftover and the next build.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

from .conftest import PROFILES, PROJECT, REPO, run_dbt

SLOW = "select sum(hash(range)) as slow from range(2000000000)"  # holds the window open
LEFTOVER = re.compile(r"__dbt_tmp[0-9]*$")


def _project(tmp_path: Path) -> Path:
    """The demo's project with a slow post-hook on kura__summaries."""
    project = tmp_path / "project"
    skip = shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml")
    shutil.copytree(PROJECT, project, ignore=skip)
    (project / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(REPO)}]}))
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["models"] = {"kura": {"kura__summaries": {"+post-hook": [SLOW]}}}
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def _dbt(project: Path, db: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "KURA_DUCKDB_PATH": str(db), "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}
    command = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args]
    command += ["--project-dir", str(project), "--profiles-dir", str(PROFILES)]
    if args[0] != "deps":
        command += ["--target-path", str(project / "target")]
    command += ["--log-path", str(project / "logs")]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _kill_at(process: subprocess.Popen, marker: str, limit_s: float = 900) -> list[str]:
    """Read the build's output until ``marker``, then SIGKILL it (and its process group)."""
    lines, started = [], time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if marker in line or time.monotonic() - started > limit_s:
            break
    time.sleep(1.0)  # the slow hook is running: the window is open
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert any(marker in line for line in lines), "".join(lines[-40:])
    return lines


def _main_relations(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db)) as con:
        rows = con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main'"
        ).fetchall()
    return dict(rows)


def test_a_killed_build_leaves_no_text_behind_after_the_next_build(demo_db, tmp_path):
    with duckdb.connect(str(demo_db)) as con:
        con.execute("checkpoint")
    db = tmp_path / "killed.duckdb"
    shutil.copy(demo_db, db)
    before = _main_relations(db)
    project = _project(tmp_path)
    deps = _dbt(project, db, "deps")
    output, _ = deps.communicate()
    assert deps.returncode == 0, output
    # every summary is made again (the summaries' version changes), so the model has rows
    variables = "{kura__summary_redact_details: false}"
    build = _dbt(project, db, "--debug", "build", "--vars", variables)
    _kill_at(build, "sum(hash(range)) as slow")

    # what the killed build left: no view over the inputs (temporary), and, as dbt-duckdb's
    # source says, the summaries' __dbt_tmp table in the default schema
    after = _main_relations(db)
    assert {n for n, kind in after.items() if kind == "VIEW"} <= {
        n for n, kind in before.items() if kind == "VIEW"
    }
    leftovers = sorted(n for n in after if LEFTOVER.search(n))
    assert leftovers and all(n.startswith("kura__summaries__dbt_tmp") for n in leftovers)
    with duckdb.connect(str(db)) as con:
        (rows,) = con.execute(f'select count(summary) from main."{leftovers[0]}"').fetchone()
    assert rows > 0  # conversation text, in the target schema, until the next build

    # the next dbt invocation, whatever it selects, drops it (on-run-start,
    # kura.drop_all_python_tmp_tables): here one that does not run kura__summaries
    run_dbt(["run", "--select", "kura__time_spine"], db, tmp_path / "partial")
    assert not [n for n in _main_relations(db) if LEFTOVER.search(n)]

    # and the next build leaves no other
    run_dbt(["build", "--vars", variables], db, tmp_path / "next")
    again = _main_relations(db)
    assert not [n for n in again if LEFTOVER.search(n)]
    assert set(again) == set(before)
