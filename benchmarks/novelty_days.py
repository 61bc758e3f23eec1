"""The novel share of later days of the same source, against the calibrated target.

A taxonomy promises that about ``1 - kura__assign_radius_quantile`` (5 %) of a later day's
conversations of the same source fall outside every radius (``novel``). Random 80 / 20 splits
honour it (``discovery_quality.py``), but real days are not random samples: one user's series
of near-duplicate prompts lands in one day, and topics move from day to day. This script
splits by day and reports the later days' novel share per set and per day.

No data set in ../shared/data carries real dates and users (the OpenAssistant sample has
neither ``created_date`` nor user ids; the export fixtures hold a handful of conversations),
so each set's day structure is stated, and none is invented from the labels:

* ``oasst-trees``: every root-to-leaf path of the 100 OpenAssistant message trees
  (``oasst/en_100_tree.jsonl``, 626 conversations): the paths of one tree share their opening
  prompt and differ in replies and follow-ups, a series of near-duplicate conversations
  that stands in for one user's series; user = the tree; the trees are dealt at random
  (seeded) to 10 days, whole;
* ``sgd-files``: SGD dev as shipped, 16 files of up to 128 dialogues generated together (each
  file a few service combinations): day = the file, user unknown;
* ``banking77``: the test split (3,080 queries): no users, no days: the days are a random
  split (the structure the calibration already assumed), user unknown.

Per seed the days are put in a seeded order; the first 80 % of days are what a discovery saw
and the rest arrive later. The discovery is the build's: the clusterer of the default settings
(``CLUSTERERS.build``) fitted as ``kura_dbt.taxonomy.discover.discover`` fits it, with the
calibration groups of :func:`kura_dbt.clustering.assign.calibration_groups` from each
conversation's user and day (what ``int_kura__cluster_state`` reads from
``stg_kura__conversations``); the later days are assigned by ``assign_to_centroids`` with its
radii (the nightly build's rule). Naming and the hierarchy are skipped: they do not touch radii.

The text embedded is the build's (``kura__embedding_text: auto``): the local summariser's
request, the summary where there is none, embedded with the local model (cached, ``--cache``).

    python benchmarks/novelty_days.py [--sets oasst-trees,sgd-files,banking77] [--seeds 8]
        [--cache /tmp/novelty-cache] [--groups auto|none] [--dbt WORKDIR]

``--groups none`` gives every conversation no user and no day: the random folds of before.
``--dbt WORKDIR``: instead, the split of seed ``--seeds - 1`` of each set through the real
`dbt build` of integration_tests (users and days in the raw conversations table).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from benchmarks.build_quality import dbt_build, fetch, novelty  # noqa: E402
from benchmarks.corpora import (  # noqa: E402
    Turns,
    banking77,
    build_vectors,
    sgd_dialogues,
    write_raw,
)

LATER_SHARE = 0.2  # the share of days that arrive after the discovery


@dataclass
class DaySet:
    """Conversations with their user (None: unknown) and day."""

    conversations: list[Turns]
    users: list[str | None]
    days: list[int]


def _tree_paths(message: dict, prefix: Turns) -> list[Turns]:
    role = "user" if message.get("role") == "prompter" else "assistant"
    path = [*prefix, (role, str(message.get("text") or ""))]
    replies = message.get("replies") or []
    if not replies:
        return [path]
    return [p for reply in replies for p in _tree_paths(reply, path)]


def oasst_trees(data_dir: Path, seed: int, n_days: int = 10) -> DaySet:
    conversations, users, days = [], [], []
    with open(data_dir / "oasst" / "en_100_tree.jsonl", encoding="utf-8") as f:
        trees = [json.loads(line) for line in f]
    day_of = np.random.default_rng(seed).permutation(len(trees)) % n_days
    for t, tree in enumerate(trees):
        for path in _tree_paths(tree["prompt"], []):
            conversations.append(path)
            users.append(str(tree["message_tree_id"]))
            days.append(int(day_of[t]))
    return DaySet(conversations, users, days)


def sgd_files(data_dir: Path, seed: int) -> DaySet:
    dialogues = sgd_dialogues(data_dir)
    conversations = [turns for turns, _ in dialogues]
    days = [int(str(row["dialogue_id"]).split("_")[0]) for _, row in dialogues]
    files = sorted(set(days))
    order = np.random.default_rng(seed).permutation(len(files))
    rank = {f: int(order[i]) for i, f in enumerate(files)}
    return DaySet(conversations, [None] * len(days), [rank[d] for d in days])


def banking_random(data_dir: Path, seed: int, n_days: int = 10) -> DaySet:
    conversations = banking77(data_dir)[0]
    days = (np.random.default_rng(seed).permutation(len(conversations)) % n_days).tolist()
    return DaySet(conversations, [None] * len(conversations), days)


SETS: dict[str, Callable[[Path, int], DaySet]] = {
    "oasst-trees": oasst_trees,
    "sgd-files": sgd_files,
    "banking77": banking_random,
}


def split_days(days: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Rows of the days a discovery sees, rows of the later days, and the later days."""
    order = sorted(set(days))
    n_later = max(1, round(len(order) * LATER_SHARE))
    later_days = order[-n_later:]
    d = np.asarray(days)
    later = np.isin(d, later_days)
    return np.flatnonzero(~later), np.flatnonzero(later), later_days


def one_split(X: np.ndarray, data: DaySet, grouped: bool) -> dict:
    """Discover on the earlier days (the build's clusterer and calibration), assign the later."""
    from kura_dbt.clustering import CLUSTERERS
    from kura_dbt.clustering.assign import assign_to_centroids, calibration_groups
    from kura_dbt.settings import Settings

    first, later, later_days = split_days(data.days)
    settings = Settings()
    clusterer = CLUSTERERS.build(settings.clusterer, settings)
    users = [data.users[i] for i in first] if grouped else [None] * len(first)
    days = [data.days[i] for i in first] if grouped else [None] * len(first)
    clusterer.calibration_groups = calibration_groups(users, days)
    clusterer.fit(X[first])
    within = assign_to_centroids(X[later], clusterer.cluster_centers_, clusterer.radii_)[2]
    day_of_later = np.asarray(data.days)[later]
    return {
        "k": int(clusterer.n_clusters_),
        "novel": float(1.0 - within.mean()),
        "n_later": len(later),
        "per_day": {int(d): float(1.0 - within[day_of_later == d].mean()) for d in later_days},
    }


def dbt_days(name: str, data_dir: Path, seed: int, workdir: Path) -> dict:
    """The same split through the real `dbt build` of integration_tests: the first days
    written as the user's raw tables (each conversation's user and a start on its day) and
    built; then the later days added and built again (an ordinary, assigning build)."""
    data = SETS[name](data_dir, seed)
    first, later, _ = split_days(data.days)
    order = [*first.tolist(), *later.tolist()]
    start = pd.Timestamp("2026-11-02")
    when = [start + pd.Timedelta(days=data.days[i], minutes=i % 1000) for i in order]
    conversations = [data.conversations[i] for i in order]
    users = [data.users[i] for i in order]
    db = workdir / f"{name}-{seed}.duckdb"
    variables = {
        "kura__conversations": "raw.conversations",
        "kura__messages": "raw.messages",
        "kura__feedback": None,
        "kura__users": None,
    }
    write_raw(db, conversations[: len(first)], users[: len(first)], when[: len(first)])
    first_s = dbt_build(db, workdir / name, variables)
    write_raw(db, conversations, users, when)
    later_s = dbt_build(db, workdir / name, variables)
    ids = [f"c{i:06d}" for i in range(len(first), len(order))]
    run = fetch(
        db,
        "select new_conversations, novel_conversations from kura__cluster_runs "
        "order by run_number desc limit 1",
    )[0]
    # the later build's own novel share, before its decision (a re-discovery on drift
    # re-clusters the later days, and the table then shows none novel)
    assigned = {"run_novel": run[1] / max(run[0], 1), "run_new": run[0]}
    return {**novelty(db, ids), **assigned, "first_s": first_s, "later_s": later_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default="oasst-trees,sgd-files,banking77")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/novelty-cache"))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--groups", choices=("auto", "none"), default="auto")
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument(
        "--dbt", type=Path, help="a work folder: one split per set through the real dbt build"
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.dbt:
        args.dbt.mkdir(parents=True, exist_ok=True)
        for name in args.sets.split(","):
            r = dbt_days(name, args.data_dir, args.seeds - 1, args.dbt)
            print(
                f"{name} seed {args.seeds - 1}: later build {100 * r['run_novel']:.1f} % novel "
                f"of {r['run_new']}; in the table after its decision "
                f"{100 * r['share']:.1f} % of "
                f"{r['n']} ({r['decision']}: {r['reason']}); builds {r['first_s']:.0f} s, "
                f"{r['later_s']:.0f} s",
                flush=True,
            )
        return 0
    print(
        "| set | calibration folds | seeds | later conversations / split | k | later novel (mean) "
        "| range over seeds | per later day (min-max) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        base = SETS[name](args.data_dir, 0)
        X = build_vectors(name, base.conversations, args.cache)
        if args.embed_only:
            print(f"{name}: {X.shape}", flush=True)
            continue
        started = time.perf_counter()
        runs = [
            one_split(X, SETS[name](args.data_dir, seed), args.groups == "auto")
            for seed in range(args.seeds)
        ]
        novel = [r["novel"] for r in runs]
        per_day = [v for r in runs for v in r["per_day"].values()]
        print(
            f"| {name} | {'grouped' if args.groups == 'auto' else 'random'} | {args.seeds} "
            f"| {np.mean([r['n_later'] for r in runs]):.0f} "
            f"| {np.mean([r['k'] for r in runs]):.0f} | {100 * np.mean(novel):.1f} % "
            f"| {100 * min(novel):.1f}-{100 * max(novel):.1f} % "
            f"| {100 * min(per_day):.1f}-{100 * max(per_day):.1f} % |",
            flush=True,
        )
        print(f"<!-- {name}: {time.perf_counter() - started:.0f} s -->", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
