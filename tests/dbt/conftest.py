"""Real dbt runs on real DuckDB files: the integration_tests project installs the package
with `local: ../`, exactly as a user's project would."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "integration_tests"
PROFILES = REPO / "profiles"
# the marts live in the target schema, the pipeline tables in <target>_kura_private
# (var kura__private_schema); queries in the tests see both
SEARCH_PATH = "main,main_kura_private"


class DbtResult:
    def __init__(self, success: bool, output: str) -> None:
        self.success = success
        self.output = output


def run_dbt(
    args: list[str], db_path: Path, target_dir: Path, expect_success: bool = True
) -> DbtResult:
    """Run one dbt command in-process against the given DuckDB file."""
    from dbt.cli.main import dbtRunner

    os.environ["KURA_DUCKDB_PATH"] = str(db_path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    messages: list[str] = []

    def collect(event) -> None:
        try:
            messages.append(event.info.msg)
        except AttributeError:  # pragma: no cover
            pass

    runner = dbtRunner(callbacks=[collect])
    options = ["--project-dir", str(PROJECT), "--profiles-dir", str(PROFILES)]
    if args[0] != "deps":
        options += ["--target-path", str(target_dir), "--log-path", str(target_dir / "logs")]
    result = runner.invoke([*args, *options])
    output = "\n".join(str(m) for m in messages)
    if result.exception is not None:
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    if expect_success and not result.success:
        failures = [m for m in output.splitlines() if "ERROR" in m or "FAIL" in m or "Error" in m]
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n"
            + "\n".join(failures[:40])
            + "\n...\n"
            + output[-3000:]
        )
    return DbtResult(bool(result.success), output)


@pytest.fixture(scope="session", autouse=True)
def dbt_deps(tmp_path_factory) -> None:
    """`dbt deps` once per test run: with several pytest-xdist workers (`make test`), the first
    installs the package and the others wait for it, never replacing it under a running build."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        target = tmp_path_factory.mktemp("deps")
        run_dbt(["deps", "--quiet"], target / "deps.duckdb", target)
        return
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of a run
    with FileLock(str(shared / "dbt_deps.lock")):
        done = shared / "dbt_deps.done"
        if not done.exists():
            run_dbt(["deps", "--quiet"], shared / "deps.duckdb", shared / "deps")
            done.touch()


# the demo, built once per session: tests/docs imports this fixture too, and pytest caches a
# session fixture per directory that declares it
_DEMO: list[Path] = []


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo: `dbt build` on the bundled sample data (seeds, models, data and unit tests)."""
    if not _DEMO:
        workdir = tmp_path_factory.mktemp("demo")
        db = workdir / "kura.duckdb"
        run_dbt(["build"], db, workdir / "target")
        _DEMO.append(db)
    return _DEMO[0]


@pytest.fixture
def query() -> Callable[[Path, str], list[tuple]]:
    def _query(db: Path, sql: str) -> list[tuple]:
        with duckdb.connect(str(db)) as con:
            con.execute(f"set search_path = '{SEARCH_PATH}'")
            return con.execute(sql).fetchall()

    return _query
