"""What a nightly build costs once the taxonomy is pinned: classifying the new conversations,
next to re-discovering the clusters, on one DuckDB file with the real `dbt build`.

1. discovery build on N conversations (default 10,000; the corpus of pipeline_speed.py);
2. `kura taxonomy export`, loaded unchanged as the pinned taxonomy (var kura__taxonomy), and a
   first pinned build with the LLM classifier against the local fake OpenAI-compatible server
   (the members of the discovered clusters are labelled, the rest classified);
3. +1 % new conversations, a pinned build: seconds, conversations classified, LLM calls;
4. the same +1 % built in discovery mode with a forced re-discovery (kura__rediscover: always)
   on a copy of the file from before step 2: seconds.

    python benchmarks/classification_cost.py [--n 10000] [--data-dir ../shared/data] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.build_quality import dbt_build, fetch  # noqa: E402
from benchmarks.cluster_quality import machine_line  # noqa: E402
from benchmarks.corpora import corpus, write_raw  # noqa: E402

RAW_VARS: dict[str, Any] = {
    "kura__conversations": "raw.conversations",
    "kura__messages": "raw.messages",
    "kura__feedback": None,
    "kura__users": None,
}


def build(db: Path, workdir: Path, label: str, variables: dict[str, Any]) -> float:
    return dbt_build(
        db, workdir / label, {**RAW_VARS, **variables}, extra_env={"KURA_BENCH_KEY": "sk-bench"}
    )


def classified(db: Path) -> dict[str, int]:
    rows = fetch(
        db,
        "select status, count(*) from int_kura__classification_state "
        "where record_type = 'conversation' group by status",
    )
    return {str(s): int(n) for s, n in rows}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    from kura_dbt.cli import app  # noqa: F401  (the CLI is run as a child process below)
    from tests.python.fake_openai import FakeOpenAI

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="kura_classification_cost_"))
    workdir.mkdir(parents=True, exist_ok=True)
    pool = corpus(args.data_dir)
    new = max(1, args.n // 100)
    db = workdir / "warehouse.duckdb"
    print(machine_line())
    try:
        write_raw(db, pool[: args.n])
        first = build(db, workdir, "discover", {})
        print(f"1. discovery build on {args.n:,} conversations: {first:.1f} s")
        discovery_copy = workdir / "before_pin.duckdb"
        shutil.copy(db, discovery_copy)

        exported = workdir / "taxonomy.csv"
        subprocess.run(
            [
                str(Path(sys.executable).with_name("kura")),
                "taxonomy",
                "export",
                "--db",
                str(db),
                "--out",
                str(exported),
            ],
            check=True,
            capture_output=True,
        )
        with duckdb.connect(str(db)) as con:
            exported_rows = pd.read_csv(exported, dtype=str, keep_default_na=False)  # noqa: F841
            con.execute("create or replace table raw.my_taxonomy as select * from exported_rows")
        with FakeOpenAI() as server:
            pinned = {
                "kura__taxonomy": "raw.my_taxonomy",
                "kura__classifier": "openai",
                "kura__llm_model": "bench-model",
                "kura__llm_base_url": server.base_url,
                "kura__llm_api_key_env": "KURA_BENCH_KEY",
            }
            seconds = build(db, workdir, "pin", pinned)
            calls = len(server.requests)
            print(
                f"2. first pinned build: {seconds:.1f} s, {calls} classification calls, "
                f"states {classified(db)}"
            )
            write_raw(db, pool[: args.n + new])
            before = len(server.requests)
            seconds = build(db, workdir, "nightly", pinned)
            calls = len(server.requests) - before
            print(
                f"3. +{new} new conversations, pinned build: {seconds:.1f} s, {calls} "
                f"classification calls ({calls / new:.2f} per new conversation), "
                f"states {classified(db)}"
            )
        write_raw(discovery_copy, pool[: args.n + new])
        seconds = build(discovery_copy, workdir, "rediscover", {"kura__rediscover": "always"})
        print(f"4. the same +{new}, forced re-discovery (discovery mode): {seconds:.1f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
