"""k criteria tried for issue 20 item 2 and not kept, on the vectors a build clusters (the sets of
``k_choice.py``): each set is clustered once per k on a fine grid (k-means, one start, seed 42,
ratio 1.07) and every criterion picks its k in the library's range (``ceil(n / 50)`` to
``n // 10``) from the same fits; NMI / ARI of that fit against the labels.

Criteria: the default BIC (one shared spherical variance) and the left-out silhouette, as in the
library; the BIC with one spherical variance per cluster (``k`` more parameters); the BIC with
one shared variance on the first 16 / 32 / 64 principal components of the set; the gap
statistic (Tibshirani, Walther & Hastie, 2001; reference: a Gaussian with the set's covariance,
3 draws; its largest gap and its one-standard-error rule); the jump method (Sugar & James, 2003;
transformed distortion with power ``d_eff / 2``, ``d_eff`` the participation ratio of the
covariance's eigenvalues); the cross-validated distortion (two folds, as the cross-validated
likelihood of Smyth, 2000, for a shared spherical variance); the eigengap heuristic (von Luxburg,
2007, section 8.3: the largest gap between consecutive eigenvalues of the normalised Laplacian
of the symmetric k-nearest-neighbour graph, with ``round(ln n)`` neighbours, the order her
section 8.1 gives for a connected graph; k-means then fitted with that k).

``--split-test``: the local test behind G-means (Hamerly & Elkan, 2003) and its held-out variant,
without a clustering in between: how much 2-means lowers the squared distances (in-sample, and
for left-out points with centroids fitted on the other half) in 2m queries of one banking77
intent against m + m queries of it and its nearest intent. ``--subsamples``: the library's
criteria on uniform samples of banking77 (all 77 intents, fewer queries each).

    python benchmarks/k_criteria_tried.py [--sets ...,proxy10@13] [--split-test]
        [--subsamples 640,1024] [--cache DIR] [--model DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.k_choice import load_sets, proxy  # noqa: E402
from kura_dbt.clustering.kmeans import loo_silhouette, spherical_gaussian_bic  # noqa: E402

Fits = dict[int, tuple[np.ndarray, np.ndarray]]


def kmeans(X: np.ndarray, k: int, n_init: int = 1) -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, max_iter=100, random_state=42).fit(X)


def grid_fits(X: np.ndarray) -> Fits:
    n = len(X)
    lo, hi = max(2, math.ceil(n / 50) // 2), n // 8
    ks = sorted({round(lo * 1.07**i) for i in range(200) if lo * 1.07**i <= hi} | {hi})
    fits = {}
    for k in ks:
        model = kmeans(X, k)
        fits[k] = (model.labels_, model.cluster_centers_.astype(np.float64))
    return fits


def per_cluster_bic(X: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    """BIC of a hard-assignment mixture of spherical Gaussians, each with its own variance
    (maximum likelihood, floored): ``(k - 1) + k d + k`` parameters."""
    n, d = X.shape
    counts = np.bincount(labels, minlength=len(centers)).astype(np.float64)
    ss = np.bincount(labels, weights=((X - centers[labels]) ** 2).sum(1), minlength=len(centers))
    keep = counts > 0
    counts, ss = counts[keep], ss[keep]
    s2 = np.maximum(ss / (counts * d), 1e-12)
    loglik = (counts * np.log(counts / n)).sum() - (counts * d / 2 * np.log(2 * np.pi * s2)).sum()
    loglik -= n * d / 2
    k = counts.size
    return float(loglik - ((k - 1) + k * d + k) / 2 * math.log(n))


def pca_bic(p: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    cache: dict[int, np.ndarray] = {}

    def score(X: np.ndarray, labels: np.ndarray, _centers: np.ndarray) -> float:
        key = id(X)
        if key not in cache:
            centred = X - X.mean(0)
            cache[key] = centred @ np.linalg.svd(centred, full_matrices=False)[2][:p].T
        Z = cache[key]
        k = labels.max() + 1
        sums = np.zeros((k, p))
        np.add.at(sums, labels, Z)
        centres = sums / np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
        return spherical_gaussian_bic(Z, labels, centres)

    return score


def log_inertia(X: np.ndarray, fits: Fits) -> dict[int, float]:
    return {k: math.log(((X - c[lab]) ** 2).sum()) for k, (lab, c) in fits.items()}


def gap_scores(X: np.ndarray, fits: Fits, draws: int = 3) -> dict[int, tuple[float, float]]:
    """Gap(k) and its standard error s_k against a Gaussian with X's covariance."""
    rng = np.random.default_rng(0)
    mu = X.mean(0)
    _, S, Vt = np.linalg.svd(X - mu, full_matrices=False)
    refs = [
        (rng.standard_normal((len(X), len(S))) * S / math.sqrt(len(X) - 1)) @ Vt + mu
        for _ in range(draws)
    ]
    logw = log_inertia(X, fits)
    out = {}
    for k in list(fits)[::2]:
        ref = np.log([kmeans(R, k).inertia_ for R in refs])
        out[k] = (float(ref.mean() - logw[k]), float(ref.std() * math.sqrt(1 + 1 / draws)))
    return out


def jump_scores(X: np.ndarray, fits: Fits) -> dict[int, float]:
    eig = np.linalg.eigvalsh(np.cov(X.T))
    power = float(eig.sum() ** 2 / (eig**2).sum()) / 2
    ks = list(fits)
    logd = np.array([v for v in log_inertia(X, fits).values()])
    t = np.exp(-power * (logd - logd.max()))
    return {ks[i]: (t[i] - t[i - 1]) / (ks[i] - ks[i - 1]) for i in range(1, len(ks))}


def cv_distortion(X: np.ndarray, fits: Fits) -> dict[int, float]:
    """Minus the mean squared distance of left-out points to the nearest of the k centroids
    fitted on the other half (two folds)."""
    perm = np.random.default_rng(0).permutation(len(X))
    folds = (perm[: len(X) // 2], perm[len(X) // 2 :])
    out = {}
    for k in list(fits)[::2]:
        if k >= len(X) // 4:
            break
        total = 0.0
        for train, test in (folds, folds[::-1]):
            C = kmeans(X[train], k).cluster_centers_.astype(np.float64)
            d2 = (X[test] ** 2).sum(1)[:, None] - 2 * X[test] @ C.T + (C**2).sum(1)[None]
            total += float(d2.min(1).sum())
        out[k] = -total / len(X)
    return out


def eigengap(X: np.ndarray, hi: int) -> dict[int, float]:
    """The gap after the k-th smallest eigenvalue of I - D^-1/2 A D^-1/2, per k (A: the
    symmetric k-nearest-neighbour graph, 0/1, with round(ln n) neighbours)."""
    from scipy import sparse
    from scipy.linalg import eigh
    from sklearn.neighbors import NearestNeighbors

    n = len(X)
    knn = round(math.log(n))
    ind = NearestNeighbors(n_neighbors=knn + 1).fit(X).kneighbors(X)[1][:, 1:]
    A = sparse.csr_matrix((np.ones(n * knn), (np.repeat(np.arange(n), knn), ind.ravel())), (n, n))
    A = A.maximum(A.T)
    scale = sparse.diags(1.0 / np.sqrt(np.asarray(A.sum(1)).ravel()))
    L = np.eye(n) - (scale @ A @ scale).toarray()
    lam = eigh(L, eigvals_only=True, subset_by_index=[0, min(hi + 1, n - 1)])
    return {k: float(lam[k] - lam[k - 1]) for k in range(1, len(lam))}


def best(scores: dict[int, float], lo: int, hi: int) -> int:
    inside = {k: v for k, v in scores.items() if lo <= k <= hi} or scores
    return max(inside, key=lambda k: (inside[k], -k))


def choices(X: np.ndarray, fits: Fits) -> dict[str, int]:
    lo, hi = math.ceil(len(X) / 50), len(X) // 10
    on_fits = {
        "bic (default)": spherical_gaussian_bic,
        "left-out silhouette": loo_silhouette,
        "bic, a variance per cluster": per_cluster_bic,
        **{f"bic on {p} principal components": pca_bic(p) for p in (16, 32, 64)},
    }
    out = {
        name: best({k: f(X, lab, c) for k, (lab, c) in fits.items()}, lo, hi)
        for name, f in on_fits.items()
    }
    gap = gap_scores(X, fits)
    out["gap, largest"] = best({k: g for k, (g, _) in gap.items()}, lo, hi)
    ks = [k for k in gap if lo <= k <= hi]
    out["gap, one-SE rule"] = next(
        (a for a, b in zip(ks, ks[1:], strict=False) if gap[a][0] >= gap[b][0] - gap[b][1]), ks[-1]
    )
    out["jump (power d_eff / 2)"] = best(jump_scores(X, fits), lo, hi)
    out["cross-validated distortion"] = best(cv_distortion(X, fits), lo, hi)
    out["eigengap, kNN graph"] = best(eigengap(X, hi), lo, hi)
    return out


def split_test(X: np.ndarray, y: np.ndarray, m: int, rng: np.random.Generator) -> None:
    intents = np.unique(y)
    C = np.array([X[y == i].mean(0) for i in intents])
    gaps = ((C[:, None] - C[None]) ** 2).sum(2)
    np.fill_diagonal(gaps, np.inf)
    rows: dict[str, list[float]] = {k: [] for k in ("one", "two", "one, left out", "two, left out")}
    for i, intent in enumerate(intents):
        own = np.flatnonzero(y == intent)
        near = np.flatnonzero(y == intents[gaps[i].argmin()])
        one = X[rng.choice(own, 2 * m, replace=False)]
        two = X[np.r_[rng.choice(own, m, replace=False), rng.choice(near, m, replace=False)]]
        for name, P in (("one", one), ("two", two)):
            rows[name].append(kmeans(P, 2, 3).inertia_ / ((P - P.mean(0)) ** 2).sum())
            rows[f"{name}, left out"].append(held_out_ratio(P, rng))
    for name, values in rows.items():
        q = " / ".join(f"{v:.3f}" for v in np.quantile(values, [0.1, 0.5, 0.9]))
        print(f"| {2 * m} queries | {name} | {q} |", flush=True)


def held_out_ratio(P: np.ndarray, rng: np.random.Generator) -> float:
    idx = rng.permutation(len(P))
    halves = (idx[: len(P) // 2], idx[len(P) // 2 :])
    split = whole = 0.0
    for train, test in (halves, halves[::-1]):
        C = kmeans(P[train], 2, 3).cluster_centers_
        split += ((P[test][:, None] - C[None]) ** 2).sum(2).min(1).sum()
        whole += ((P[test] - P[train].mean(0)) ** 2).sum()
    return split / whole


def subsamples(X: np.ndarray, y: np.ndarray, sizes: list[int]) -> None:
    from kura_dbt.clustering import CLUSTERERS
    from kura_dbt.settings import Settings

    for n in sizes:
        idx = np.sort(np.random.default_rng(1).choice(len(X), n, replace=False))
        for criterion in ("bic", "loo_silhouette", "told"):
            if criterion == "told":
                k, labels = 77, kmeans(X[idx], 77, 3).labels_
            else:
                clusterer = CLUSTERERS.build("kmeans", Settings()).set_params(criterion=criterion)
                labels = clusterer.fit(X[idx]).labels_
                k = clusterer.n_clusters_
            print(row(f"banking77, {n} drawn", criterion, k, list(y[idx]), labels), flush=True)


def row(name: str, how: str, k: int, y: list[str] | None, labels: np.ndarray) -> str:
    if y is None:
        return f"| {name} | {how} | {k} | - | - |"
    nmi = normalized_mutual_info_score(y, labels)
    return f"| {name} | {how} | {k} | {nmi:.3f} | {adjusted_rand_score(y, labels):.3f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default="proxy10,proxy16,proxy,proxy25,banking77,sgd,demo,oasst")
    parser.add_argument("--split-test", action="store_true")
    parser.add_argument("--subsamples", default="")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "k_choice")
    parser.add_argument(
        "--model", type=Path, help="a sentence-transformers model folder to embed with instead"
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    names = [s for s in args.sets.split(",") if s]
    plain = {s.split("@")[0] for s in names if "@" not in s or not s.startswith("proxy")}
    sets = load_sets(args.data_dir, args.cache, sorted(plain | {"banking77"}), args.model)
    for name in names:  # proxyNN@SEED: the proxy drawn with another seed (k_choice's is 12)
        if name.startswith("proxy") and "@" in name:
            kind, seed = name.split("@")
            tail = kind[len("proxy") :]
            Xb, yb = sets["banking77"]
            sets[name] = proxy(Xb, yb, int(tail) if tail else None, seed=int(seed))
    print("| set | k chosen by | k | NMI | ARI |\n|---|---|---:|---:|---:|")
    with threadpool_limits({"blas": 1}):
        for name in names:
            X, y = sets[name]
            X = np.asarray(X, dtype=np.float64)
            fits = grid_fits(X)
            for how, k in choices(X, fits).items():
                labels = fits[k][0] if k in fits else kmeans(X, k).labels_
                print(row(name, how, k, y, labels), flush=True)
        Xb, yb = np.asarray(sets["banking77"][0], dtype=np.float64), np.array(sets["banking77"][1])
        if args.subsamples:
            subsamples(Xb, yb, [int(s) for s in args.subsamples.split(",")])
        if args.split_test:
            print("| queries | intents | 2-means inertia / inertia: 10 % / median / 90 % |")
            rng = np.random.default_rng(0)
            for m in (10, 20):
                split_test(Xb, yb, m, rng)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
