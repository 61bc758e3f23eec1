"""Fifteen conversations drawn at random (seeded) from the OpenAssistant threads and prompts
(real user requests; ``../shared/data/oasst``, Apache-2.0), with what the local summariser
makes of each: ``request``, ``task`` and flags, for a person to judge. Run it on two commits
to show before and after.

    python benchmarks/summary_spot_checks.py [--n 15] [--seed 20] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.corpora import oasst  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args(argv)
    from kura_dbt.summaries.local import LocalSummariser

    conversations = oasst(args.data_dir)[0]
    picked = np.random.default_rng(args.seed).permutation(len(conversations))[: args.n]
    summariser = LocalSummariser()
    for i in sorted(int(p) for p in picked):
        turns = conversations[i]
        record = summariser.summarise([{"role": r, "content": t} for r, t in turns])
        first = next(t for r, t in turns if r == "user")
        print(f"\n#{i} user: {' '.join(first.split())[:160]!r}")
        print(f"  request: {record.request!r}")
        print(f"  task: {record.task!r}   flags: {record.flags}   languages: {record.languages}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
