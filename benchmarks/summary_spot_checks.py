"""Fifteen conversations drawn at random (seeded) from the OpenAssistant threads and prompts
(real user requests; ``../shared/data/oasst``, Apache-2.0), with what the local summariser
makes of each: ``request``, ``task`` and flags, for a person to judge. Run it on two commits
to show before and after. Then, over every conversation of the set (350), how many tasks are of
each kind: "ask ..." / "explain ..." (a reported question, or a request that opens with
"explain"), key phrases after "answer a question about", "how to ...", another verb phrase, or
NULL. ``--set banking77 --limit 1000``: the first 1,000 banking77 queries instead.
``--no-parse``: questions not reported (:func:`kura_dbt.summaries.questions.question_task` off),
the tasks the summariser gave before ``local-v4``.

    python benchmarks/summary_spot_checks.py [--n 15] [--seed 20] [--set oasst|banking77]
        [--limit N] [--no-parse] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.corpora import banking77, oasst  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--set", choices=("oasst", "banking77"), default="oasst")
    parser.add_argument("--limit", type=int, default=None, help="the first N conversations")
    parser.add_argument("--no-parse", action="store_true", help="questions not reported")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args(argv)
    import kura_dbt.summaries.english as english
    from kura_dbt.summaries.local import LocalSummariser

    if args.no_parse:
        english.question_task = lambda sentence: None
    conversations = (oasst if args.set == "oasst" else banking77)(args.data_dir)[0]
    conversations = conversations[: args.limit]
    picked = np.random.default_rng(args.seed).permutation(len(conversations))[: args.n]
    summariser = LocalSummariser()
    for i in sorted(int(p) for p in picked):
        turns = conversations[i]
        record = summariser.summarise([{"role": r, "content": t} for r, t in turns])
        first = next(t for r, t in turns if r == "user")
        print(f"\n#{i} user: {' '.join(first.split())[:160]!r}")
        print(f"  request: {record.request!r}")
        print(f"  task: {record.task!r}   flags: {record.flags}   languages: {record.languages}")
    records = summariser.summarise_many(
        [
            (str(i), [{"role": r, "content": t} for r, t in turns])
            for i, turns in enumerate(conversations)
        ]
    )
    kinds = Counter(task_kind(r.task) for r in records)
    print(f"\ntasks of all {len(records)} conversations, by kind:")
    for kind in KINDS:
        print(f"  {kind}: {kinds[kind]} ({kinds[kind] / len(records):.1%})")
    return 0


KINDS = ("ask / explain", "key phrases of a question", "how to", "other verb phrase", "NULL")


def task_kind(task: str | None) -> str:
    """Which of ``KINDS`` a task is."""
    if not task:
        return "NULL"
    if task.startswith("answer a question about"):
        return "key phrases of a question"
    if re.match(r"(?:ask|explain) ", task):
        return "ask / explain"
    return "how to" if task.startswith("how to ") else "other verb phrase"


if __name__ == "__main__":
    raise SystemExit(main())
