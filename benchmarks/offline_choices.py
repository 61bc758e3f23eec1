"""The figures behind three defaults of the offline path, in the library (no dbt):

1. ``granularity``: automatic k (seed 42, the build's default) with ``target_cluster_size``
   None, 15, 20, 30 and 50 on the local summariser's requests (what is embedded) of
   OpenAssistant (350 conversations: k and median cluster size), banking77 test (k, NMI, ARI
   against the intents) and SGD dev (k, NMI against the domains);
2. ``radii``: random 450 / 50 splits of the 500 demo conversations (old and new of the same
   kind): the share of the 50 beyond their nearest cluster's 0.95 radius, leave-one-out radius
   alone vs calibrated by cross-fitting, embedding the request or the summary;
3. ``languages``: the local summariser over every English conversation available offline (the
   demo seeds, OpenAssistant, SGD, banking77): non-English flags, and seconds per 1,000.

    python benchmarks/offline_choices.py [granularity radii languages] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.cluster_quality import machine_line  # noqa: E402
from benchmarks.corpora import Turns, banking77, oasst, sgd  # noqa: E402

TARGETS = (None, 15, 20, 30, 50)


def requests(conversations: list[Turns]) -> list[str]:
    """What the default build embeds: the local summariser's request, else its summary."""
    from kura_dbt.summaries.local import LocalSummariser

    summariser = LocalSummariser()
    out = []
    for turns in conversations:
        record = summariser.summarise([{"role": r, "content": t} for r, t in turns])
        out.append(record.request or record.summary or "")
    return out


def granularity(data_dir: Path) -> None:
    from kura_dbt.clustering import KMeansClusterer
    from kura_dbt.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder()
    sets = {name: load(data_dir) for name, load in (("oasst", oasst), ("banking77", banking77))}
    sets["sgd"] = sgd(data_dir)
    vectors = {name: embedder.embed(requests(c)) for name, (c, _) in sets.items()}
    print("\n| target | OpenAssistant: k (median size) | banking77: k, NMI, ARI | SGD: k, NMI |")
    print("|---|---|---|---|")
    for target in TARGETS:
        cells = []
        for name, (_, labels) in sets.items():
            model = KMeansClusterer(target_cluster_size=target, random_state=42).fit(vectors[name])
            k = model.n_clusters_
            if labels is None:
                cells.append(f"{k} ({np.median(np.bincount(model.labels_)):g})")
                continue
            nmi = normalized_mutual_info_score(labels, model.labels_)
            if name == "banking77":
                ari = adjusted_rand_score(labels, model.labels_)
                cells.append(f"{k}, {nmi:.3f}, {ari:.3f}")
            else:
                cells.append(f"{k}, {nmi:.3f}")
        print(f"| {target or 'none (BIC alone)'} | " + " | ".join(cells) + " |", flush=True)


def demo_conversations() -> list[Turns]:
    messages = pd.read_csv(REPO / "seeds" / "kura_sample_messages.csv").sort_values(
        ["conversation_id", "message_index"]
    )
    return [
        [(r.role, str(r.content)) for r in turns.itertuples()]
        for _, turns in messages.groupby("conversation_id", sort=True)
    ]


def radii(splits: int = 6) -> None:
    from kura_dbt.clustering import KMeansClusterer
    from kura_dbt.clustering.assign import assign_to_centroids, cluster_radii
    from kura_dbt.embeddings.local import LocalEmbedder
    from kura_dbt.summaries.local import LocalSummariser

    conversations = demo_conversations()
    records = [
        LocalSummariser().summarise([{"role": r, "content": t} for r, t in c])
        for c in conversations
    ]
    embedder = LocalEmbedder()
    print("\n| embedded text | leave-one-out radius | calibrated by cross-fitting (default) |")
    print("|---|---:|---:|")
    for column in ("request", "summary"):
        X = embedder.embed([getattr(r, column) or r.summary or "" for r in records])
        rng = np.random.default_rng(1)
        novel: dict[str, list[float]] = {"raw": [], "calibrated": []}
        for _ in range(splits):
            order = rng.permutation(len(X))
            old, new = X[order[:450]], X[order[450:]]
            model = KMeansClusterer(target_cluster_size=50, random_state=42).fit(old)
            raw = cluster_radii(old, model.labels_, model.cluster_centers_, 0.95, calibrate=False)
            for name, r in (("raw", raw), ("calibrated", model.radii_)):
                within = assign_to_centroids(new, model.cluster_centers_, r)[2]
                novel[name].append(1.0 - within.mean())
        print(
            f"| {column} | {100 * np.mean(novel['raw']):.1f} % | "
            f"{100 * np.mean(novel['calibrated']):.1f} % |",
            flush=True,
        )


def languages(data_dir: Path) -> None:
    from kura_dbt.summaries.local import LocalSummariser

    conversations = demo_conversations()
    for load in (oasst, sgd, banking77):
        conversations += load(data_dir)[0]
    summariser = LocalSummariser()
    summariser.summarise([{"role": "user", "content": "warm up the language model"}])
    started = time.perf_counter()
    records = [
        summariser.summarise([{"role": r, "content": t} for r, t in c]) for c in conversations
    ]
    seconds = time.perf_counter() - started
    flagged = [r for r in records if "non_english" in (r.flags or [])]
    print(
        f"\nlanguages: {len(records):,} conversations, {len(flagged)} flagged non-English, "
        f"{1000 * seconds / len(records):.2f} s per 1,000 conversations"
    )
    for r in flagged:
        print(f"  {r.languages}: {(r.request or r.summary or '')[:100]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("parts", nargs="*", default=["granularity", "radii", "languages"])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    print(machine_line())
    for part in args.parts:
        if part == "granularity":
            granularity(args.data_dir)
        elif part == "radii":
            radii()
        elif part == "languages":
            languages(args.data_dir)
        else:
            raise SystemExit(f"unknown part {part!r}: granularity, radii, languages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
