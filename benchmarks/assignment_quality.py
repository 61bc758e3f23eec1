"""Assignment quality on banking77: new conversations assigned to an existing taxonomy.

The banking77 train split (10,003 queries) and test split (3,080 queries, 77 intent labels)
are embedded with all-MiniLM-L6-v2 (``cluster_quality.py``'s loading, embedding and cache in
benchmarks/.cache/). Then, per seed, through the real state logic
(``kura_dbt.pipeline.cluster_state`` over a ``kura_dbt.frames.Warehouse`` on an in-memory
DuckDB connection, the returned rows merged into the state table by delete+insert on
``state_key`` as dbt-duckdb's incremental strategy does):

1. the first build discovers the taxonomy on the train split (default settings: k chosen
   automatically, ``kura__seed`` = the seed);
2. the test split arrives in daily batches (a fixed shuffle, or file order with
   ``--order file``), one build per batch, twice: with the default policy
   (``kura__rediscover: auto``, which may re-discover on drift; every decision is printed)
   and with ``kura__rediscover: never`` (the test split purely assigned);
3. the test split's final assignments are scored against the intent labels (NMI, ARI):
   (a) the nearest cluster of every test conversation (radius ignored), (b) novel
   conversations (beyond their nearest cluster's radius) as one label -1;
4. the reference is clustering train+test at once with the same clusterer and seed
   (``KMeansClusterer(random_state=seed)``, automatic k), scored on the test rows.

The target: NMI and ARI of the test assignments within 0.02 of the reference.

Usage (from the repository root)::

    python benchmarks/assignment_quality.py [--data-dir ../shared/data] [--batches 5] \
        [--seeds 42 0 1] [--order shuffled|file]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(REPO_ROOT))

import duckdb  # noqa: E402

from benchmarks.cluster_quality import (  # noqa: E402
    MODEL_NAME,
    embed,
    load_banking77,
    machine_line,
)
from kura_dbt import pipeline  # noqa: E402
from kura_dbt.clustering import KMeansClusterer  # noqa: E402
from kura_dbt.frames import Warehouse  # noqa: E402
from kura_dbt.incremental import text_hash  # noqa: E402

TARGET = 0.02  # the tolerance on NMI and ARI against clustering train+test at once
SHUFFLE_SEED = 0  # the order in which the test split arrives (same for every clustering seed)


# --------------------------------------------------------------------------- the builds


class _This:
    """``{{ this }}``: the state table's name."""

    def __init__(self, table: str) -> None:
        self.identifier = table

    def __str__(self) -> str:
        return self.identifier


class _Dbt:
    def __init__(self, table: str, incremental: bool) -> None:
        self.this = _This(table)
        self.is_incremental = incremental


class StateBuilds:
    """Builds of ``int_kura__cluster_state`` without dbt: the model's inputs are DuckDB
    relations over the conversations visible so far (as ``dbt.ref`` hands them), and its rows
    are merged into ``table`` by delete+insert on ``state_key``."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        config: dict[str, Any],
        built: bool = False,
    ) -> None:
        self.con, self.table, self.config, self.built = con, table, config, built

    def build(self, visible: str) -> pd.DataFrame:
        """One build over the conversations whose ``batch`` satisfies ``visible`` (SQL)."""
        embeddings = self.con.sql(
            "select conversation_id, text_hash, model, embedding, error from all_embeddings "
            f"where {visible}"
        )
        summaries = self.con.sql(
            f"select conversation_id, summary, error from all_summaries where {visible}"
        )
        with Warehouse(
            _Dbt(self.table, self.built), self.con, embeddings=embeddings, summaries=summaries
        ) as wh:
            rows = pipeline.cluster_state(wh, self.config)
        self.con.register("kura_bench_new_rows", rows)
        if self.built:
            self.con.execute(
                f"delete from {self.table} "
                "where state_key in (select state_key from kura_bench_new_rows)"
            )
            self.con.execute(f"insert into {self.table} by name select * from kura_bench_new_rows")
        else:
            self.con.execute(f"create table {self.table} as select * from kura_bench_new_rows")
        self.con.unregister("kura_bench_new_rows")
        self.built = True
        return rows

    def fork(self, table: str, config: dict[str, Any]) -> StateBuilds:
        """The same state under another name and settings (a second line of builds)."""
        self.con.execute(f"create table {table} as select * from {self.table}")
        return StateBuilds(self.con, table, config, built=True)

    def conversations(self) -> pd.DataFrame:
        return self.con.sql(
            f"select conversation_id, cluster_id, nearest_cluster_id, distance, status, epoch "
            f"from {self.table} where record_type = 'conversation'"
        ).df()

    def base_clusters(self) -> int:
        return int(
            self.con.execute(
                f"select count(*) from {self.table} where record_type = 'cluster' "
                "and retired_epoch is null and level = 0"
            ).fetchall()[0][0]
        )

    def last_run(self) -> dict[str, Any]:
        return (
            self.con.sql(
                f"select * from {self.table} where record_type = 'run' "
                "order by run_number desc limit 1"
            )
            .df()
            .iloc[0]
            .to_dict()
        )


def load_warehouse(
    con: duckdb.DuckDBPyConnection,
    train: np.ndarray,
    test: np.ndarray,
    train_texts: list[str],
    test_texts: list[str],
    batch_of_test: np.ndarray,
) -> None:
    """The embeddings and summaries of both splits as tables, each row with its ``batch``
    (0: train, 1..B: the test batch it arrives in). The queries are their own summaries."""
    ids = [f"train-{i:05d}" for i in range(len(train))]
    ids += [f"test-{i:05d}" for i in range(len(test))]
    texts = list(train_texts) + list(test_texts)
    batch = np.concatenate([np.zeros(len(train), dtype=np.int64), batch_of_test])
    X = np.vstack([train, test]).astype(np.float32)
    emb = pd.DataFrame(
        {
            "conversation_id": ids,
            "text_hash": [text_hash(t) for t in texts],
            "model": MODEL_NAME,
            "embedding": [row.tolist() for row in X],
            "error": None,
            "batch": batch,
        }
    )
    summ = pd.DataFrame({"conversation_id": ids, "summary": texts, "error": None, "batch": batch})
    for name, frame in (("all_embeddings", emb), ("all_summaries", summ)):
        con.register("kura_bench_frame", frame)
        con.execute(f"create or replace table {name} as select * from kura_bench_frame")
        con.unregister("kura_bench_frame")
    con.execute("alter table all_embeddings alter embedding type float[]")
    con.execute("alter table all_embeddings alter error type varchar")
    con.execute("alter table all_summaries alter error type varchar")


# --------------------------------------------------------------------------- scoring


def scores(y: np.ndarray, pred: list[Any]) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    pred = [str(p) for p in pred]
    return float(normalized_mutual_info_score(y, pred)), float(adjusted_rand_score(y, pred))


@dataclass
class Result:
    method: str
    seed: int
    k: int
    nmi: float
    ari: float
    novel: float | None = None
    note: str = ""


@dataclass
class SeedRun:
    seed: int
    results: list[Result] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def score_state(
    builds: StateBuilds, test_ids: list[str], y: np.ndarray, name: str, seed: int, note: str = ""
) -> list[Result]:
    conv = builds.conversations().set_index("conversation_id").loc[test_ids]
    # (a) the nearest cluster (a discovered row's own cluster; the same for an assigned one)
    nearest = conv["cluster_id"].where(conv["cluster_id"].notna(), conv["nearest_cluster_id"])
    # (b) no cluster (novel, or noise at a re-discovery) is one label
    strict = conv["cluster_id"].where(conv["cluster_id"].notna(), "-1")
    novel = float((conv["status"] == "novel").mean())
    k = builds.base_clusters()
    out = []
    for how, pred in (("nearest cluster (radius ignored)", nearest), ("novel as -1", strict)):
        nmi, ari = scores(y, list(pred))
        out.append(Result(f"{name}: {how}", seed, k, nmi, ari, novel, note))
    return out


# --------------------------------------------------------------------------- one seed


def run_seed(
    seed: int,
    args: argparse.Namespace,
    train: np.ndarray,
    test: np.ndarray,
    train_texts: list[str],
    test_texts: list[str],
    y_test: np.ndarray,
    batch_of_test: np.ndarray,
) -> SeedRun:
    run = SeedRun(seed)
    con = duckdb.connect()
    load_warehouse(con, train, test, train_texts, test_texts, batch_of_test)
    test_ids = [f"test-{i:05d}" for i in range(len(test))]

    start = time.perf_counter()
    auto = StateBuilds(con, "state_auto", {"seed": seed})
    auto.build("batch = 0")
    run.seconds["discover on train"] = time.perf_counter() - start
    first = auto.last_run()
    k_train = auto.base_clusters()
    run.batches.append(
        {
            "policy": "both",
            "batch": 0,
            "new": int(first["new_conversations"]),
            "decision": first["decision"],
            "reason": first["reason"],
            "novel": 0,
            "novel_share": None,
            "k": k_train,
            "seconds": run.seconds["discover on train"],
        }
    )
    print(
        f"  seed {seed}: train discovered: k={k_train} ({first['reason']}), "
        f"{run.seconds['discover on train']:.1f}s",
        flush=True,
    )
    # the first build is the same under both policies (kura__rediscover is not a clustering
    # setting): the `never` line of builds starts from a copy of it
    never = auto.fork("state_never", {"seed": seed, "rediscover": "never"})

    assign_seconds = {"auto": 0.0, "never": 0.0}
    for b in range(1, args.batches + 1):
        for policy, builds in (("auto", auto), ("never", never)):
            start = time.perf_counter()
            builds.build(f"batch <= {b}")
            seconds = time.perf_counter() - start
            assign_seconds[policy] += seconds
            r = builds.last_run()
            share = r["novel_share"]
            row = {
                "policy": policy,
                "batch": b,
                "new": int(r["new_conversations"]),
                "decision": r["decision"],
                "reason": r["reason"],
                "novel": int(r["novel_conversations"]),
                "novel_share": None if pd.isna(share) else float(share),
                "k": builds.base_clusters(),
                "seconds": seconds,
            }
            run.batches.append(row)
            print(
                f"  seed {seed}: batch {b} [{policy}]: {row['new']} new, {row['novel']} novel, "
                f"{row['decision']} ({row['reason']}), k={row['k']}, {seconds:.1f}s",
                flush=True,
            )
    run.seconds["assign batches (never)"] = assign_seconds["never"]
    run.seconds["batch builds (auto)"] = assign_seconds["auto"]

    rediscovered = [
        str(r["batch"])
        for r in run.batches
        if r["policy"] == "auto" and r["decision"] == "discover"
    ]
    note = f"re-discovered at batch {', '.join(rediscovered)}" if rediscovered else "assigned only"
    run.results += score_state(never, test_ids, y_test, "never", seed, "assigned only")
    run.results += score_state(auto, test_ids, y_test, "auto", seed, note)

    start = time.perf_counter()
    model = KMeansClusterer(random_state=seed).fit(np.vstack([train, test]))
    run.seconds["cluster train+test"] = time.perf_counter() - start
    labels = model.labels_[len(train) :]
    nmi, ari = scores(y_test, list(labels))
    run.results.append(
        Result(
            "cluster train+test at once",
            seed,
            int(model.n_clusters_),
            nmi,
            ari,
            None,
            "KMeansClusterer auto k",
        )
    )
    print(
        f"  seed {seed}: train+test clustered: k={model.n_clusters_}, "
        f"{run.seconds['cluster train+test']:.1f}s",
        flush=True,
    )
    con.close()
    return run


# --------------------------------------------------------------------------- report


def _fmt(values: list[float | None], fmt: str) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    mean = format(float(np.mean(vals)), fmt)
    if len(vals) == 1:
        return mean
    return f"{mean} ({' / '.join(format(v, fmt) for v in vals)})"


METHOD_LABELS = {
    "never: nearest cluster (radius ignored)": (
        "discover on train, assign test (`never`): (a) nearest cluster"
    ),
    "never: novel as -1": "discover on train, assign test (`never`): (b) novel as -1",
    "auto: nearest cluster (radius ignored)": "default policy (`auto`): (a) nearest cluster",
    "auto: novel as -1": "default policy (`auto`): (b) novel as -1",
    "cluster train+test at once": "cluster train+test at once (KMeansClusterer auto k)",
}


def _print_builds(runs: list) -> None:
    """The builds of each seed: policy, new and novel conversations, decision, k, time."""
    print(
        "\nbuilds (per seed; novel share = novel / new since the last discovery, "
        "as the run row has it)\n"
    )
    print("| seed | batch | policy | new | novel | novel share | decision | reason | k | seconds |")
    print("|---:|---:|---|---:|---:|---:|---|---|---:|---:|")
    for run in runs:
        for r in run.batches:
            share = "-" if r["novel_share"] is None else f"{r['novel_share']:.1%}"
            cells = [
                run.seed,
                r["batch"] or "train",
                r["policy"],
                r["new"],
                r["novel"],
                share,
                r["decision"],
                r["reason"],
                r["k"],
                f"{r['seconds']:.1f}",
            ]
            print("| " + " | ".join(map(str, cells)) + " |")


def _print_methods(runs: list, n: int, seeds: list[int]) -> tuple[list[str], dict[str, list]]:
    """Each method's k, NMI, ARI and novel share: mean (per-seed values); returns the methods
    and their results."""
    seeds_txt = ", ".join(map(str, seeds))
    print(
        f"\nbanking77 test split (n={n}) scored against its intent labels; seeds {seeds_txt}; "
        "mean (per-seed values in seed order)\n"
    )
    print("| method | k | NMI | ARI | novel share |")
    print("|---|---:|---:|---:|---:|")
    names = list(dict.fromkeys(r.method for run in runs for r in run.results))
    by_name = {m: [r for run in runs for r in run.results if r.method == m] for m in names}
    for m in names:
        rs = by_name[m]
        novel = "-" if m.endswith("(radius ignored)") else _fmt([r.novel for r in rs], ".1%")
        cells = [
            METHOD_LABELS.get(m, m),
            _fmt([r.k for r in rs], ".0f"),
            _fmt([r.nmi for r in rs], ".3f"),
            _fmt([r.ari for r in rs], ".3f"),
            novel,
        ]
        print("| " + " | ".join(cells) + " |")
    notes = [f"seed {r.seed}: {r.note}" for r in by_name.get("auto: novel as -1", [])]
    if notes:
        print(f"\n`auto`: {'; '.join(notes)}")
    return names, by_name


def _print_target(names: list[str], by_name: dict[str, list]) -> None:
    """Each method against clustering train+test at once, within TARGET or not."""
    ref = {r.seed: r for r in by_name["cluster train+test at once"]}
    print(
        f"\ntarget: test assignments within {TARGET} of clustering train+test at once "
        "(difference = assignment - reference, mean over seeds; per seed)"
    )
    for m in names[:-1]:
        dn = [r.nmi - ref[r.seed].nmi for r in by_name[m]]
        da = [r.ari - ref[r.seed].ari for r in by_name[m]]
        ok = abs(np.mean(dn)) <= TARGET and abs(np.mean(da)) <= TARGET
        worst = max(abs(v) for v in dn + da)
        per_nmi, per_ari = " / ".join(f"{v:+.3f}" for v in dn), " / ".join(f"{v:+.3f}" for v in da)
        print(
            f"  {METHOD_LABELS.get(m, m)}: NMI {np.mean(dn):+.3f} ({per_nmi}), "
            f"ARI {np.mean(da):+.3f} ({per_ari}): "
            f"{'within' if ok else 'NOT within'} {TARGET} on the mean"
            f"{'' if worst <= TARGET else f', largest single-seed gap {worst:.3f}'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".." / "shared" / "data",
        help="folder holding banking77/all.jsonl (default: ../shared/data from the repo root)",
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=5,
        help="daily batches the test split arrives in, one build each (default: 5)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[42, 0, 1],
        help="values of the setting `seed` (kura__seed), one run each (default: 42 0 1)",
    )
    parser.add_argument(
        "--order",
        choices=("shuffled", "file"),
        default="shuffled",
        help="test split arrival order: a fixed shuffle (default) or the file's "
        "(sorted by intent: each batch holds a few intents)",
    )
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be >= 1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    began = time.perf_counter()

    data_dir = args.data_dir.resolve()
    train_texts, _ = load_banking77(data_dir, "train")
    test_texts, test_labels = load_banking77(data_dir, "test")
    y_test = np.unique(test_labels, return_inverse=True)[1]
    train, train_s, train_cached = embed(train_texts, "banking77-train")
    test, test_s, test_cached = embed(test_texts, "banking77-test")
    n = len(test_texts)
    if args.order == "shuffled":
        order = np.random.default_rng(SHUFFLE_SEED).permutation(n)
    else:
        order = np.arange(n)
    batch_of_test = np.empty(n, dtype=np.int64)
    for b, part in enumerate(np.array_split(order, args.batches), start=1):
        batch_of_test[part] = b

    given = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", "benchmarks/assignment_quality.py", *given])
    print(f"command: {command}")
    print(machine_line())
    how_train = "(cache)" if train_cached else f"embedded in {train_s:.1f}s"
    how_test = "(cache)" if test_cached else f"embedded in {test_s:.1f}s"
    print(
        f"banking77: train {train.shape} {how_train}, test {test.shape} {how_test}, "
        f"{int(y_test.max()) + 1} test labels; test split in {args.batches} batches "
        f"({args.order})",
        flush=True,
    )

    runs = [
        run_seed(s, args, train, test, train_texts, test_texts, y_test, batch_of_test)
        for s in args.seeds
    ]

    _print_builds(runs)
    names, by_name = _print_methods(runs, n, args.seeds)
    _print_target(names, by_name)

    print("\ntiming (seconds, mean over seeds; embeddings excluded):")
    for key in runs[0].seconds:
        print(f"  {key}: {np.mean([run.seconds[key] for run in runs]):.1f}")
    print(f"  whole run: {time.perf_counter() - began:.1f}")
    try:
        import psutil

        print(f"process RSS at end: {psutil.Process().memory_info().rss / 2**20:.0f} MiB")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
