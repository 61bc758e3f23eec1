"""What a nightly `dbt build` costs, and how stable its clusters stay: the real build of
integration_tests on a user's raw tables, several builds on one DuckDB file.

1. first build on N conversations (discovers the taxonomy, fits the map);
2. a build with no new data (nothing is summarised, embedded, refitted or reassigned);
3. +1 %, +5 % and +10 % of N new conversations (new ids, the next conversations of the corpus),
   arriving cumulatively (N -> 1.01 N -> 1.06 N -> 1.16 N), each built under the default
   re-discovery policy; should the policy re-discover, that build is recorded, undone (the file
   is restored) and run again with `kura__rediscover: never`, so the series stays on the assign
   path;
4. a forced re-discovery on the same data (`kura__rediscover: always`): how many conversations
   keep their cluster id, and the lineage of that epoch.

For each build: wall seconds of the whole `dbt build` (a child process, parse included), seconds
of each Python model (run_results.json), what was recomputed (rows whose summarised_at /
embedded_at / placed_at are newer than before the build), whether the map was refitted, the
decision and reason from kura__cluster_runs, and the share of the conversations that existed
before the build that kept their cluster_id in kura__conversation_clusters.

Corpus and raw tables come from pipeline_speed.py (same fixed order, same ids: the first k
conversations are always c000000 .. c{k-1}).

    python benchmarks/daily_builds.py [--n 10000] [--data-dir ../shared/data] [--keep DIR]
        [--vars YAML]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.corpora import corpus, write_raw  # noqa: E402

PYTHON_MODELS = [
    "kura__summaries",
    "kura__embeddings",
    "int_kura__cluster_state",
    "int_kura__map_points",
]
SHORT = {
    "kura__summaries": "summaries",
    "kura__embeddings": "embeddings",
    "int_kura__cluster_state": "cluster_state",
    "int_kura__map_points": "map_points",
}
# the user's raw tables, as pipeline_speed.py passes them
RAW_VARS: dict[str, Any] = {
    "kura__conversations": "raw.conversations",
    "kura__messages": "raw.messages",
    "kura__feedback": None,
    "kura__users": None,
    "kura__max_top_clusters": 10,
}
GROWTH = (0.01, 0.05, 0.10)  # new conversations per build, as a share of N (cumulative arrival)
TARGET_RATIO = 0.15  # the +1 % build takes at most this share of the first build's wall time


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple] | None:
    try:
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:  # before the first build
        return None


def snapshot(db: Path) -> dict[str, Any]:
    """What a build may change, read before and after it."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")  # var kura__private_schema
        one = lambda sql: (_query(con, sql) or [(None,)])[0][0]  # noqa: E731
        assigned = _query(
            con, "select conversation_id, cluster_id from kura__conversation_clusters"
        )
        return {
            "raw": one("select count(*) from raw.conversations"),
            "embedded": one("select count(*) from kura__embeddings where embedding is not null"),
            "summarised_at": one("select max(summarised_at) from kura__summaries"),
            "embedded_at": one("select max(embedded_at) from kura__embeddings"),
            "map_version": one("select max(map_version) from int_kura__map_points"),
            "placed_at": one("select max(placed_at) from int_kura__map_points"),
            "run_number": one("select max(run_number) from kura__cluster_runs"),
            "base_clusters": one("select count(*) from kura__cluster_hierarchy where level = 0"),
            "assignment": None if assigned is None else dict(assigned),
        }


def newer(db: Path, table: str, column: str, than: Any) -> int:
    """Rows of ``table`` whose ``column`` is later than ``than`` (all rows when ``than`` is
    None)."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")  # var kura__private_schema
        if than is None:
            return con.execute(f"select count(*) from {table}").fetchone()[0]
        return con.execute(f"select count(*) from {table} where {column} > ?", [than]).fetchone()[0]


class BuildFailed(Exception):
    def __init__(self, message: str, row: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.row = row


class Bench:
    def __init__(self, workdir: Path, pool: list, n: int, extra_vars: dict[str, Any]) -> None:
        self.workdir, self.pool, self.n, self.extra_vars = workdir, pool, n, extra_vars
        self.db = workdir / "daily_builds.duckdb"
        self.count = 0
        self.env = dict(
            os.environ,
            KURA_DUCKDB_PATH=str(self.db),
            DBT_PROFILES_DIR=str(REPO / "profiles"),
            HF_HUB_OFFLINE="1",
            DO_NOT_TRACK="1",
        )
        self.dbt = Path(sys.executable).with_name("dbt")
        self.first_wall: float | None = None

    def arrive(self, total: int) -> int:
        """The raw tables hold the first ``total`` conversations of the corpus; returns how many
        are new. (write_raw rewrites both tables; the rows already there come back identical.)"""
        before = snapshot(self.db)["raw"] if self.db.exists() else 0
        write_raw(self.db, self.pool[:total])
        return total - (before or 0)

    def build(self, label: str, new: int, policy: str | None = None) -> dict[str, Any]:
        self.count += 1
        variables = {
            **RAW_VARS,
            **self.extra_vars,
            **({"kura__rediscover": policy} if policy else {}),
        }
        target = self.workdir / f"target_{self.count:02d}"
        before = snapshot(self.db)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.run(
            [
                str(self.dbt),
                "build",
                "--exclude",
                "resource_type:seed",
                "--vars",
                json.dumps(variables),
                "--target-path",
                str(target),
                "--log-path",
                str(self.workdir / "logs"),
                "--quiet",
            ],
            cwd=REPO / "integration_tests",
            env=self.env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            error = f"dbt build failed at '{label}':\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
            try:  # what it did before it failed, when the clustering state was written
                row = self._row(label, new, policy, before, wall, load, target)
            except Exception:  # noqa: BLE001
                row = None
            raise BuildFailed(error, row)
        return self._row(label, new, policy, before, wall, load, target)

    def _row(
        self,
        label: str,
        new: int,
        policy: str | None,
        before: dict[str, Any],
        wall: float,
        load: float,
        target: Path,
    ) -> dict[str, Any]:
        run_results = json.loads((target / "run_results.json").read_text())
        times = {
            r["unique_id"].split(".")[-1]: r["execution_time"]
            for r in run_results["results"]
            if r["unique_id"].startswith("model.")
        }
        after = snapshot(self.db)
        with duckdb.connect(str(self.db), read_only=True) as con:
            con.execute("set search_path = 'main,main_kura_private'")  # var kura__private_schema
            cols = [
                d[0] for d in con.execute("select * from kura__cluster_runs limit 0").description
            ]
            run = dict(
                zip(
                    cols,
                    con.execute(
                        "select * from kura__cluster_runs order by run_number desc limit 1"
                    ).fetchone(),
                    strict=True,
                )
            )
            lineage = con.execute(
                "select level, relation, count(*) from kura__cluster_lineage where epoch = ? "
                "group by level, relation order by level, relation",
                [run["epoch"]],
            ).fetchall()
        kept = kept_clustered = clustered = None
        old = before["assignment"]
        if old:
            now = after["assignment"]
            same = [cid for cid, cluster in old.items() if cid in now and now[cid] == cluster]
            kept = len(same) / len(old)
            was_clustered = [cid for cid, cluster in old.items() if cluster is not None]
            clustered = len(was_clustered)
            kept_clustered = (
                sum(1 for cid in was_clustered if now.get(cid) == old[cid]) / clustered
                if clustered
                else None
            )
        if self.first_wall is None:
            self.first_wall = wall
        row = {
            "build": label,
            "policy": policy or self.extra_vars.get("kura__rediscover", "auto (default)"),
            "conversations": after["raw"],
            "embedded": after["embedded"],
            "new": new,
            "wall_s": wall,
            "load_before": load,
            "dbt_elapsed_s": run_results.get("elapsed_time"),
            "ratio": wall / self.first_wall,
            "models_s": {m: times.get(m) for m in PYTHON_MODELS},
            "other_models_s": sum(t for m, t in times.items() if m not in PYTHON_MODELS),
            "summarised": newer(
                self.db, "kura__summaries", "summarised_at", before["summarised_at"]
            ),
            "embedded_now": newer(
                self.db, "kura__embeddings", "embedded_at", before["embedded_at"]
            ),
            "placed": newer(self.db, "int_kura__map_points", "placed_at", before["placed_at"]),
            "map_version": (before["map_version"], after["map_version"]),
            "map_refitted": after["map_version"] != before["map_version"],
            "placed_at_unchanged": after["placed_at"] == before["placed_at"],
            "run_number": run["run_number"],
            "runs_added": (after["run_number"] or 0) - (before["run_number"] or 0),
            "epoch": run["epoch"],
            "decision": run["decision"],
            "reason": run["reason"],
            "new_conversations": run["new_conversations"],
            "novel_conversations": run["novel_conversations"],
            "novel_share": run["novel_share"],
            "growth": run["growth"],
            "existing": None if old is None else len(old),
            "kept": kept,
            "existing_clustered": clustered,
            "kept_clustered": kept_clustered,
            "base_clusters": (before["base_clusters"], after["base_clusters"]),
            "lineage": [list(x) for x in lineage] if run["decision"] == "discover" else [],
        }
        m = row["models_s"]
        print(
            f"[{label}] {row['conversations']:,} conversations ({new:,} new), wall {wall:.1f} s "
            f"({row['ratio']:.2f}x first); "
            + ", ".join(f"{SHORT[k]} {v:.1f} s" for k, v in m.items() if v is not None)
            + f"; summarised {row['summarised']:,}, embedded {row['embedded_now']:,}, "
            f"placed {row['placed']:,}, "
            f"map version {row['map_version'][0]} -> {row['map_version'][1]}; "
            f"decision {row['decision']} "
            f"({row['reason']}); kept {_pct(kept)}",
            flush=True,
        )
        return row

    def save(self) -> Path:
        backup = self.workdir / "backup"
        shutil.rmtree(backup, ignore_errors=True)
        backup.mkdir()
        for f in self.workdir.glob(self.db.name + "*"):
            shutil.copy2(f, backup / f.name)
        return backup

    def restore(self, backup: Path) -> None:
        for f in self.workdir.glob(self.db.name + "*"):
            f.unlink()
        for f in backup.iterdir():
            shutil.copy2(f, self.workdir / f.name)


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def _s(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| build | conversations | new | wall (s) | × first | "
        + " | ".join(f"{SHORT[m]} (s)" for m in PYTHON_MODELS)
        + " | dbt start + parse (s) | summarised / embedded / placed | map | decision | reason "
        "| novel tonight "
        "| novel share since discovery | kept cluster_id |"
    )
    print(
        "|---|---:|---:|---:|---:|"
        + "---:|" * len(PYTHON_MODELS)
        + "---:|---:|---|---|---|---:|---:|---:|"
    )
    for r in rows:
        novel = (
            "–"
            if not r["new_conversations"] or r["existing"] is None
            else f"{r['novel_conversations']:,} / {r['new_conversations']:,}"
        )
        map_cell = "refitted" if r["map_refitted"] else "kept"
        kept = "–" if r["kept"] is None else f"{_pct(r['kept'], 2)} of {r['existing']:,}"
        print(
            f"| {r['build']} | {r['conversations']:,} | {r['new']:,} | {r['wall_s']:.1f} "
            f"| {r['ratio']:.2f} | "
            + " | ".join(_s(r["models_s"][m]) for m in PYTHON_MODELS)
            + f" | {_s(r['wall_s'] - r['dbt_elapsed_s'] if r['dbt_elapsed_s'] else None)}"
            f" | {r['summarised']:,} / {r['embedded_now']:,} / {r['placed']:,} | {map_cell} "
            f"| {r['decision']} | "
            f"{r['reason']} | {novel} | {_pct(r['novel_share'])} | {kept} |"
        )


def print_proportionality(rows: list[dict[str, Any]]) -> None:
    """Seconds of each Python model against new rows: the no-op build, then the growth builds
    with a least-squares line over the growth builds only (fixed seconds + seconds per 1,000
    new conversations). The no-op build is left out of the fit: with nothing to embed, the
    embedding model is not even loaded, a fixed cost every build with new rows pays."""
    grown = [r for r in rows if r["new"] > 0]
    if len(grown) < 2:
        return
    x = np.array([r["new"] for r in grown], dtype=float)
    print(
        "\n| model | "
        + " | ".join(f"{r['build'].split(',')[0]} ({r['new']:,} new)" for r in rows)
        + " | fixed (s) | per 1,000 new (s) |"
    )
    print("|---|" + "---:|" * (len(rows) + 2))
    for m in [*PYTHON_MODELS, "python models", "whole build"]:

        def seconds(r: dict[str, Any], m: str = m) -> float:
            if m == "python models":
                return sum(r["models_s"][k] or 0.0 for k in PYTHON_MODELS)
            if m == "whole build":
                return r["wall_s"]
            return r["models_s"][m] or 0.0

        slope, intercept = np.polyfit(x, np.array([seconds(r) for r in grown]), 1)
        print(
            f"| {SHORT.get(m, m)} | "
            + " | ".join(f"{seconds(r):.2f}" for r in rows)
            + f" | {intercept:.2f} | {1000 * slope:.2f} |"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="conversations in the first build")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the DuckDB file (and dbt's target folders) in this folder",
    )
    parser.add_argument(
        "--vars",
        default="{}",
        help=(
            "more dbt vars for every build (YAML, as for dbt), "
            "e.g. '{kura__rediscover_novel_share: 0.1}'"
        ),
    )
    return parser


def _sizes(requested: int, pool_size: int) -> tuple[int, list[int]]:
    """N and the arrivals after the first build; a smaller N (with a note) when the corpus is
    too small for the requested one."""
    n = requested
    steps = [round(n * g) for g in GROWTH]
    if n + sum(steps) > pool_size:
        n = int(pool_size / (1 + sum(GROWTH)))
        steps = [round(n * g) for g in GROWTH]
        needed = requested + sum(round(requested * g) for g in GROWTH)
        print(
            f"note: the corpus has {pool_size:,} conversations, fewer than {needed:,} "
            f"needed for N = {requested:,}; using N = {n:,}"
        )
    return n, steps


def _workdir(keep: Path | None) -> tuple[Any, Path]:
    """The folder the builds write to: --keep (which must not hold a DuckDB file yet), or a
    temporary folder (with its context, to clean up)."""
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        if (keep / "daily_builds.duckdb").exists():
            raise SystemExit(
                f"{keep / 'daily_builds.duckdb'} exists; the benchmark starts from a fresh file"
            )
        workdir_ctx: Any = None
        workdir = keep.resolve()
    else:
        workdir_ctx = tempfile.TemporaryDirectory()
        workdir = Path(workdir_ctx.name)
    return workdir_ctx, workdir


def main() -> None:
    args = _parser().parse_args()
    extra_vars = yaml.safe_load(args.vars) or {}
    command = shlex.join(["python", *sys.argv])

    pool = corpus(args.data_dir)
    n, steps = _sizes(args.n, len(pool))
    machine = (
        f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"machine: {machine}")
    arrivals = ", ".join(f"+{s:,}" for s in steps)
    print(f"corpus: {len(pool):,} conversations; N = {n:,}; arrivals {arrivals} (cumulative)")

    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "deps", "--quiet"],
        cwd=REPO / "integration_tests",
        check=True,
        env=dict(os.environ, DBT_PROFILES_DIR=str(REPO / "profiles")),
    )
    workdir_ctx, workdir = _workdir(args.keep)

    failures: list[str] = []
    rows: list[dict[str, Any]] = []
    # the no-op and assign-path builds, for the proportionality fit
    series: list[dict[str, Any]] = []
    failed: BuildFailed | None = None
    try:
        bench = Bench(workdir, pool, n, extra_vars)
        run_steps(bench, n, steps, rows, series, failures)
    except BuildFailed as e:
        failed = e
        if e.row:
            e.row["build"] += " (FAILED)"
            rows.append(e.row)
    finally:
        if workdir_ctx is not None:
            workdir_ctx.cleanup()

    print("\nbuilds (JSON):")
    for r in rows:
        print(json.dumps(r, default=str))
    print(f"\nmachine: {machine}")
    print(f"command: {command}")
    print_table(rows)
    print(
        "\nPython model seconds against new conversations "
        "(assign path; line fitted over the growth builds):"
    )
    print_proportionality(series)
    if failed is not None:
        print(f"\n{failed}")
        raise SystemExit(2)

    first, forced = rows[0], rows[-1]
    one = next(r for r in series if r["new"] == steps[0])
    verdict = "meets" if one["ratio"] <= TARGET_RATIO else "MISSES"
    print(
        f"\n+1 % build: {one['wall_s']:.1f} s = {one['ratio']:.1%} "
        f"of the first build's {first['wall_s']:.1f} s "
        f"({verdict} the target of at most {TARGET_RATIO:.0%})"
    )
    print(
        f"forced re-discovery: {forced['wall_s']:.1f} s ({forced['ratio']:.2f}x first); "
        f"{_pct(forced['kept'], 2)} of {forced['existing']:,} conversations kept their cluster_id "
        f"({_pct(forced['kept_clustered'], 2)} of the {forced['existing_clustered']:,} "
        "that had one; the issue asks >= 90 %); "
        f"base clusters {forced['base_clusters'][0]} -> {forced['base_clusters'][1]}"
    )
    print("lineage of epoch", forced["epoch"], "(level, relation, count):")
    for level, relation, count in forced["lineage"]:
        print(f"  level {level}: {relation} {count}")
    if failures:
        print("\nFAILED CHECKS:\n  " + "\n  ".join(failures))
        raise SystemExit(1)


def run_steps(
    bench: Bench,
    n: int,
    steps: list[int],
    rows: list[dict[str, Any]],
    series: list[dict[str, Any]],
    failures: list[str],
) -> None:
    """The four steps; rows and failures are appended as builds finish."""
    # 1. the first build discovers
    bench.arrive(n)
    first = bench.build("first", n)
    rows.append(first)
    if first["decision"] != "discover" or first["run_number"] != 1:
        failures.append(
            "first build: expected run 1 'discover', "
            f"got run {first['run_number']} {first['decision']!r}"
        )

    # 2. no new data: nothing recomputed, nothing moved
    noop = bench.build("no new data", 0)
    rows.append(noop)
    series.append(noop)
    checks = {
        "0 summaries recomputed": noop["summarised"] == 0,
        "0 embeddings recomputed": noop["embedded_now"] == 0,
        "map not refitted (max(map_version) unchanged)": not noop["map_refitted"],
        "placed_at unchanged": noop["placed_at_unchanged"],
        "decision 'assign'": noop["decision"] == "assign",
        "reason 'no new conversations'": noop["reason"] == "no new conversations",
        "every cluster_id kept": noop["kept"] == 1.0,
    }
    refit = "REFITTED (UMAP ran)" if noop["map_refitted"] else "not fitted (no UMAP)"
    print(
        f"no new data: {noop['summarised']} summaries and {noop['embedded_now']} embeddings "
        f"recomputed, {noop['placed']} points placed; map {refit}, "
        f"map_version {noop['map_version'][0]} -> {noop['map_version'][1]}"
    )
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        if not ok:
            failures.append(f"no new data: {name}")

    # 3. new conversations arrive: the default policy first; if it re-discovers, undo and assign
    total = n
    for growth, step in zip(GROWTH, steps, strict=True):
        total += step
        new = bench.arrive(total)
        label = f"+{growth:.0%}"
        backup = bench.save()
        row = bench.build(label, new)
        if row["decision"] == "discover":
            row["build"] += ", default policy (undone)"
            rows.append(row)
            bench.restore(backup)
            row = bench.build(f"{label}, kura__rediscover: never", new, policy="never")
        rows.append(row)
        series.append(row)
        if row["kept"] != 1.0:
            failures.append(
                f"{label}: {_pct(row['kept'], 2)} of existing conversations kept their cluster_id"
            )

    # 4. a forced re-discovery on the same data
    rows.append(bench.build("forced re-discovery", 0, policy="always"))
    shutil.rmtree(bench.workdir / "backup", ignore_errors=True)


if __name__ == "__main__":
    main()
