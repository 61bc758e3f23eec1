"""Speed and memory of the whole offline pipeline: a real `dbt build` on DuckDB.

For each size it writes N conversations as a user's raw tables into a fresh DuckDB file,
runs `dbt build` (integration_tests, all data tests included) in a child process, and reads
per-model times from dbt's run_results.json and the child's peak memory (max RSS).

Conversations are real text from ../shared/data: Schema-Guided Dialogue dialogues,
OpenAssistant threads and prompts, and banking77 queries as one-turn conversations.

    python benchmarks/pipeline_speed.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python benchmarks/pipeline_speed.py` from a clone

from benchmarks.corpora import Turns, corpus, write_raw  # noqa: E402

STAGES = [
    "int_kura__transcripts",
    "kura__summaries",
    "kura__embeddings",
    "int_kura__cluster_state",
    "int_kura__map_points",
    "kura__conversation_clusters",
    "kura__cluster_hierarchy",
    "kura__projections",
    "kura__clusters",
    "kura__conversations",
    "kura__cluster_weekly",
]


def run(n: int, pool: list[Turns], workdir: Path) -> dict:
    if n > len(pool):
        raise SystemExit(f"only {len(pool)} conversations available offline, asked for {n}")
    db = workdir / f"bench_{n}.duckdb"
    n_messages = write_raw(db, pool[:n])
    target = workdir / f"target_{n}"
    env = dict(
        os.environ,
        KURA_DUCKDB_PATH=str(db),
        DBT_PROFILES_DIR=str(REPO / "profiles"),
        HF_HUB_OFFLINE="1",
        DO_NOT_TRACK="1",
    )
    dbt = Path(sys.executable).with_name("dbt")
    variables = (
        "{kura__conversations: raw.conversations, kura__messages: raw.messages, "
        "kura__feedback: ~, kura__users: ~, kura__max_top_clusters: 10}"
    )
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [
            str(dbt),
            "build",
            "--exclude",
            "resource_type:seed",
            "--vars",
            variables,
            "--target-path",
            str(target),
            "--log-path",
            str(workdir / "logs"),
            "--quiet",
        ],
        cwd=REPO / "integration_tests",
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(
            f"dbt build failed for n={n}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    results = json.loads((target / "run_results.json").read_text())["results"]
    times = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")  # var kura__private_schema
        clusters = con.execute(
            "select count(*) filter (where level = 0), max(level) + 1 from kura__cluster_hierarchy"
        ).fetchone()
    return {
        "n": n,
        "messages": n_messages,
        "wall_s": wall,
        "peak_rss_mib": max(peak_kib, before) / 1024,
        "stages": {s: times.get(s) for s in STAGES},
        "base_clusters": clusters[0],
        "levels": clusters[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    pool = corpus(args.data_dir)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "deps", "--quiet"],
            cwd=REPO / "integration_tests",
            check=True,
            env=dict(os.environ, DBT_PROFILES_DIR=str(REPO / "profiles")),
        )
        for n in args.sizes:
            result = run(n, pool, Path(tmp))
            out.append(result)
            print(json.dumps(result, indent=2))
    print(
        "\n| conversations | messages | end to end (s) | conv/s | peak RSS (MiB) "
        "| base clusters | levels |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in out:
        print(
            f"| {r['n']:,} | {r['messages']:,} | {r['wall_s']:.1f} | {r['n'] / r['wall_s']:.0f} | "
            f"{r['peak_rss_mib']:.0f} | {r['base_clusters']} | {r['levels']} |"
        )
    print("\n| stage | " + " | ".join(f"{r['n']:,}: s (conv/s)" for r in out) + " |")
    print("|---|" + "---:|" * len(out))
    for stage in STAGES:
        cells = []
        for r in out:
            t = r["stages"][stage]
            cells.append("–" if t is None else f"{t:.1f} ({r['n'] / t:,.0f})" if t > 0 else "0.0")
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
