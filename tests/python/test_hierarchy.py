"""The hierarchy: geometric schedule, exactly min(max_top, base clusters) top-level clusters,
no single-child parents, children nearest their own parent, sizes add up, deterministic."""

import hashlib

import numpy as np
import pytest

from kura_dbt.hierarchy import (
    build_hierarchy,
    exact_groups,
    group_clusters,
    level_schedule,
)
from kura_dbt.labels import ClassTfidfLabeller, ClusterLabel, Labeller


def _blobs(n_clusters: int, per_cluster: int, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    X = np.concatenate([c + 0.05 * rng.normal(size=(per_cluster, dim)) for c in centres])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return X.astype(np.float32), labels


@pytest.mark.parametrize(
    ("n_base", "max_top", "branching"),
    [(60, 5, 4), (200, 8, 5), (9, 8, 5), (3, 2, 3), (1000, 10, 3), (11, 10, 5)],
)
def test_schedule_is_geometric_strictly_decreasing_and_ends_at_max_top(n_base, max_top, branching):
    schedule = level_schedule(n_base, max_top, branching)
    assert schedule[-1] == max_top
    sizes = [n_base, *schedule]
    assert all(a > b for a, b in zip(sizes, sizes[1:]))
    ratios = [a / b for a, b in zip(sizes, sizes[1:])]
    assert max(ratios) <= branching + 1


def test_schedule_empty_when_base_already_small_enough():
    assert level_schedule(5, 8, 5) == []
    assert level_schedule(8, 8, 5) == []


def test_schedule_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_top"):
        level_schedule(10, 0, 5)
    with pytest.raises(ValueError, match="branching"):
        level_schedule(10, 2, 1)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _strays(vectors, groups):
    """Members of groups of two or more that are nearer, by cosine, another group's direction
    (the normalised sum of its members) than their own."""
    m = groups.max() + 1
    directions = _unit(np.stack([vectors[groups == g].sum(axis=0) for g in range(m)]))
    cos = _unit(vectors) @ directions.T
    own = cos[np.arange(len(groups)), groups]
    sizes = np.bincount(groups)
    return np.flatnonzero((sizes[groups] >= 2) & (cos.max(axis=1) > own + 1e-9))


def _families(n_families: int, per_family: int, dim: int, rng):
    """Unit vectors in tight families around random directions, and one vector near none of
    them (opposite their sum)."""
    directions = _unit(rng.normal(size=(n_families, dim)))
    members = _unit(
        np.repeat(directions, per_family, axis=0) * 6
        + rng.normal(size=(n_families * per_family, dim))
    )
    return np.concatenate([members, -_unit(directions.sum(axis=0))[None, :]])


@pytest.mark.parametrize("seed", range(5))
def test_group_clusters_makes_exactly_the_groups_asked_for_and_leaves_an_outlier_alone(seed):
    rng = np.random.default_rng(seed)
    centroids = np.concatenate([_families(3, 6, 8, rng), _unit(rng.normal(size=(5, 8)))])
    for n in range(1, 27):
        groups = group_clusters(centroids, n)
        assert groups.max() + 1 == min(n, 24), n
        # numbered by first appearance
        assert list(dict.fromkeys(groups)) == list(range(groups.max() + 1))
        assert len(_strays(centroids, groups)) == 0, n
    # three families and the outlier: the outlier is left alone, not stretched into a family
    groups = group_clusters(centroids[:19], 4)
    assert (groups == groups[18]).sum() == 1
    assert sorted(np.bincount(groups)) == [1, 6, 6, 6]


@pytest.mark.parametrize("start", [[0] * 10, list(range(10)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]])
def test_exact_groups_merges_or_splits_any_grouping_to_the_number_asked(start):
    centroids = _unit(np.random.default_rng(1).normal(size=(10, 6)))
    for n in range(1, 12):
        groups = exact_groups(np.array(start), centroids, n)
        assert sorted(set(groups)) == list(range(min(n, 10)))


class _Stub(Labeller):
    """A fast labeller that names a cluster from its size; it groups by default (Ward)."""

    name = "stub"

    def label(self, texts, central, sizes, contrast=None):
        return [ClusterLabel(f"{size} conversations", "d") for size in sizes]


def _tree_problems(frame, labels, max_top, X=None):
    """What the hierarchy promises, checked on build_hierarchy's rows; returns what fails.

    Exactly min(max_top, base clusters) roots; no parent with one child; every base cluster
    reached exactly once from the roots; a parent's level above its children's, its size the
    sum of theirs and its child_count their number; top_cluster_id the root above; the roots
    hold every clustered conversation once and no level counts one twice. With X: each child
    is nearer (cosine) its own parent's centroid than any other parent's made at its parent's
    level."""
    problems = []
    clustered = int((labels >= 0).sum())
    n_base = len(np.unique(labels[labels >= 0]))
    rows = frame.to_dict("records")
    by_id = {r["cluster_id"]: r for r in rows}
    roots = [r["cluster_id"] for r in rows if not isinstance(r["parent_id"], str)]
    if len(roots) != min(max_top, n_base):
        problems.append(f"{len(roots)} roots, not {min(max_top, n_base)}")
    children: dict[str, list[str]] = {}
    for r in rows:
        if isinstance(r["parent_id"], str):
            children.setdefault(r["parent_id"], []).append(r["cluster_id"])
    problems += _parent_problems(by_id, children)
    base = sorted(r["cluster_id"] for r in rows if r["level"] == 0)
    problems += _reach_problems(by_id, children, roots, base, n_base)
    if sum(by_id[r]["size"] for r in roots) != clustered:
        problems.append("the roots do not hold every clustered conversation")
    for level in {r["level"] for r in rows}:
        if sum(r["size"] for r in rows if r["level"] == level) > clustered:
            problems.append(f"level {level} counts a conversation twice")
    if X is not None:
        problems += _nearest_parent_problems(rows, labels, children, base, X)
    return problems


def _parent_problems(by_id, children):
    """Each parent: two children or more, their size and count, each one level below it."""
    problems = []
    for pid, kids in children.items():
        parent = by_id[pid]
        if len(kids) < 2:
            problems.append(f"{pid} has a single child")
        if parent["size"] != sum(by_id[k]["size"] for k in kids) or parent["child_count"] != len(
            kids
        ):
            problems.append(f"{pid}: size or child_count is not its children's")
        if any(by_id[k]["level"] >= parent["level"] for k in kids):
            problems.append(f"{pid}: a child is not below it")
    return problems


def _reach_problems(by_id, children, roots, base, n_base):
    """Walking down from the roots: top_cluster_id is the root above, and every base cluster
    is reached exactly once."""
    problems = []
    reached = []
    stack = [(root, root) for root in roots]
    while stack:
        cid, root = stack.pop()
        if by_id[cid]["top_cluster_id"] != root:
            problems.append(f"{cid}: top_cluster_id is not {root}")
        if by_id[cid]["level"] == 0:
            reached.append(cid)
        stack.extend((kid, root) for kid in children.get(cid, []))
    if sorted(reached) != base or len(base) != n_base:
        problems.append("base clusters not reached exactly once")
    return problems


def _nearest_parent_problems(rows, labels, children, base, X):
    """Each child nearer (cosine) its own parent's centroid than any other parent's made at
    its parent's level."""
    problems = []
    rows_of = {cid: np.flatnonzero(labels == int(cid.split("-")[1])) for cid in base}
    parents = sorted((r for r in rows if r["level"] > 0), key=lambda r: r["level"])
    for r in parents:
        rows_of[r["cluster_id"]] = np.concatenate(
            [rows_of[kid] for kid in children[r["cluster_id"]]]
        )
    centre = {cid: _unit(X[m].mean(axis=0)) for cid, m in rows_of.items()}
    for level in {r["level"] for r in parents}:
        pids = [r["cluster_id"] for r in parents if r["level"] == level]
        P = np.stack([centre[p] for p in pids])
        for j, pid in enumerate(pids):
            for kid in children[pid]:
                cos = P @ centre[kid]
                if cos.max() > cos[j] + 1e-6:
                    problems.append(f"{kid} is nearer another parent than {pid}")
    return problems


def _check_tree(frame, labels, max_top):
    assert frame["cluster_id"].is_unique
    assert _tree_problems(frame, np.asarray(labels), max_top) == []


def _random_clusters(k: int, seed: int, dim: int = 12):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=k)
    centres = rng.normal(size=(k, dim))
    X = np.concatenate([c + 0.3 * rng.normal(size=(s, dim)) for c, s in zip(centres, sizes)])
    return _unit(X).astype(np.float32), np.repeat(np.arange(k), sizes)


def _build(X, labels, max_top, branching=5.0):
    n = len(labels)
    return build_hierarchy(X, labels, ["x"] * n, [None] * n, max_top, branching, _Stub())


def test_every_max_top_gets_exactly_that_many_top_level_clusters_over_a_grid():
    """The promise over base counts 2..40 and max_top 1..base+2 (random centroids): exactly
    min(max_top, base) roots, never fewer. Clusters left alone used to be folded into the few
    groups of two or more: 23 base clusters asked for 18 gave 5, asked for 22 gave 1."""
    failures = []
    for k in range(2, 41):
        X, labels = _random_clusters(k, seed=k)
        for max_top in range(1, k + 3):
            problems = _tree_problems(_build(X, labels, max_top), labels, max_top)
            failures += [f"k={k} N={max_top}: {p}" for p in problems]
    assert not failures, (len(failures), failures[:10])


@pytest.mark.parametrize("branching", [2, 5])
def test_children_are_nearest_their_own_parent(branching):
    """Every child is nearer (cosine, centroids of the conversations) its own parent than any
    other parent made at the same level, with the default grouping."""
    failures = []
    for k in range(3, 41, 3):
        X, labels = _random_clusters(k, seed=100 + k)
        for max_top in range(1, k, 2):
            frame = _build(X, labels, max_top, branching)
            problems = _tree_problems(frame, labels, max_top, X)
            failures += [f"k={k} N={max_top}: {p}" for p in problems]
    assert not failures, (len(failures), failures[:10])


def test_the_issues_23_base_clusters_give_every_top_level_count_asked_for():
    X, labels = _blobs(23, 6, seed=4)
    texts = [f"topic{label} question" for label in labels]
    for max_top in (8, 12, 18, 20, 22, 23, 30):
        frame = build_hierarchy(X, labels, texts, [None] * len(labels), max_top=max_top)
        assert frame["parent_id"].isna().sum() == min(max_top, 23)
        assert _tree_problems(frame, labels, max_top, X) == []


def test_a_base_cluster_unlike_the_others_stays_a_top_level_cluster():
    """Nothing is forced into a group it does not resemble: three families of base clusters
    and one base cluster like none of them, asked for 4 top-level clusters, give the three
    families as parents and the outlier as a root of its own at level 0 (so roots can be at
    different levels). It used to be folded into the nearest family: 3 roots."""
    rng = np.random.default_rng(2)
    centres = _families(3, 4, 16, rng)  # base clusters 0..11 in families, 12 the outlier
    X = _unit(np.repeat(centres, 5, axis=0) + 0.05 * rng.normal(size=(65, 16)))
    labels = np.repeat(np.arange(13), 5)
    frame = build_hierarchy(X, labels, ["x"] * 65, [None] * 65, max_top=4)
    roots = frame[frame["parent_id"].isna()]
    assert len(roots) == 4
    assert "L0-0012" in set(roots["cluster_id"])
    assert sorted(roots["level"]) == [0, 1, 1, 1]
    assert sorted(roots["size"]) == [5, 20, 20, 20]


def test_build_hierarchy_invariants_and_names():
    X, labels = _blobs(30, 10)
    texts = [
        f"book a {['bus', 'flight', 'hotel'][label % 3]} trip number{label}" for label in labels
    ]
    users = [f"u{i % 17}" for i in range(len(labels))]
    frame = build_hierarchy(X, labels, texts, users, max_top=4, branching=3)
    _check_tree(frame, labels, 4)
    base = frame[frame["level"] == 0]
    assert len(base) == 30
    assert base["name"].str.len().gt(0).all()
    assert (frame["distinct_users"] <= 17).all()


def test_build_hierarchy_is_deterministic():
    X, labels = _blobs(25, 8, seed=3)
    texts = [f"topic{label} question" for label in labels]
    users = ["u1"] * len(labels)
    a = build_hierarchy(X, labels, texts, users, max_top=3, branching=4)
    b = build_hierarchy(X, labels, texts, users, max_top=3, branching=4)
    assert a.equals(b)


def test_noise_is_not_a_cluster_and_small_inputs_are_fine():
    X, labels = _blobs(3, 5)
    labels = labels.copy()
    labels[:2] = -1
    frame = build_hierarchy(X, labels, ["x"] * len(labels), [None] * len(labels), max_top=8)
    assert set(frame["level"]) == {0}
    assert frame["size"].sum() == len(labels) - 2
    assert frame["parent_id"].isna().all()
    empty = build_hierarchy(X, np.full(len(labels), -1), ["x"] * len(labels), [None] * len(labels))
    assert empty.empty


def test_labeller_uses_the_clusters_own_distinctive_words():
    labeller = ClassTfidfLabeller()
    labels = labeller.label(
        [
            ["The user asks: find a bus to Sacramento", "The user asks: bus tickets to Fresno"],
            [
                "The user asks: book a table at an Italian restaurant",
                "restaurant reservation for two",
            ],
        ],
        ["The user asks: find a bus to Sacramento", "restaurant reservation for two"],
        [2, 2],
    )
    assert "bus" in labels[0].keywords
    assert "restaurant" in labels[1].keywords
    # template words shared by every summary never name a cluster
    assert all("user" not in k and "asks" not in k for lab in labels for k in lab.keywords)
    assert labels[0].description.startswith("2 conversations")
    assert "Sacramento" in labels[0].description


class FlakyLabeller(Labeller):
    """A cacheable (LLM-like) labeller whose n-th name (counted from 1) fails when n is in
    ``fail``."""

    version, cacheable = "1", True

    def __init__(self, fail: set[int], name: str = "flaky"):
        self.fail, self.asked, self.name = fail, [], name

    def label(self, texts, central, sizes):
        out = []
        for t, c, size in zip(texts, central, sizes, strict=True):
            self.asked.append(c)
            if len(self.asked) in self.fail:
                out.append(
                    ClusterLabel(
                        f"Unnamed cluster ({size} conversations)", "Naming failed: 429", error="429"
                    )
                )
            else:
                out.append(ClusterLabel(f"Name for {c[:12]}", "A description."))
        return out


def test_a_failed_llm_name_is_asked_for_again_on_the_next_build():
    """A cacheable (LLM) labeller whose naming failed: the cluster is shown as unnamed, with
    label_error, and the next build asks again instead of reusing the failure; good names are
    reused."""
    from kura_dbt.hierarchy import label_cache

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = np.repeat(np.arange(3), 20)
    texts = [f"text {i} of cluster {i // 20}" for i in range(60)]
    first = build_hierarchy(
        X, labels, texts, ["u"] * 60, max_top=8, labeller=FlakyLabeller(fail={2})
    )
    assert (first["name"].str.startswith("Unnamed")).sum() == 1
    # the failure is a column, from ClusterLabel.error, not guessed from the name or the key
    assert first["label_error"].tolist() == [False, True, False]
    assert first["label_key"].notna().all()  # a failed name keeps its key: attempts count by it
    again = FlakyLabeller(fail=set())
    second = build_hierarchy(
        X, labels, texts, ["u"] * 60, max_top=8, labeller=again, cache=label_cache(first)
    )
    assert len(again.asked) == 1  # only the failed cluster is asked again
    assert not second["name"].str.startswith("Unnamed").any()
    assert not second["label_error"].any()


@pytest.mark.parametrize("labeller_name", ["flaky", "local"])
def test_a_failed_name_is_a_label_error_in_the_state_rows(monkeypatch, labeller_name):
    """int_kura__cluster_state (read by kura__taxonomy and kura__llm_usage) takes label_error
    from the labeller's error, whatever the labeller is called (it used to be guessed from a
    missing label_key and a labeller other than 'local')."""
    from kura_dbt.labels import LABELLERS

    from .state_store import Store, _centres
    from .state_store import _blobs as state_blobs

    flaky = FlakyLabeller(fail={2}, name=labeller_name)
    monkeypatch.setitem(LABELLERS._factories, labeller_name, lambda settings: flaky)
    store = Store()
    texts = [f"t {i // 20} w{i}" for i in range(60)]
    store.add("c", state_blobs(_centres(3, d=16), 20, seed=0), texts)
    rows = store.build(labeller=labeller_name, n_base_clusters=3, max_top_clusters=8)
    clusters = rows[rows["record_type"] == "cluster"].sort_values("cluster_id")
    assert len(clusters) == 3 and len(flaky.asked) == 3
    failed = clusters[clusters["label_error"].astype(bool)]
    assert len(failed) == 1 and failed["name"].iloc[0].startswith("Unnamed cluster")
    assert clusters["label_error"].notna().all()


def test_the_llm_labellers_neighbourhoods_follow_kura__seed(monkeypatch):
    """The CLIO grouping's neighbourhoods (k-means on the children's centroids) are seeded
    with kura__seed, passed through the LABELLERS factory."""
    import sklearn.cluster

    from kura_dbt.labels import LABELLERS
    from kura_dbt.settings import Settings

    class Stop(Exception):
        pass

    seeds = []

    def spy(*args, random_state=None, **kwargs):
        seeds.append(random_state)
        raise Stop  # before any LLM call

    monkeypatch.setattr(sklearn.cluster, "KMeans", spy)
    X, _ = _blobs(12, 1)
    for seed in ("7", "8"):
        labeller = LABELLERS.build(
            "openai", Settings.from_config({"labeller": "openai", "seed": seed})
        )
        labeller.neighbourhood_size = 4  # 12 children: three neighbourhoods
        with pytest.raises(Stop):
            labeller.group([f"child {i}: about {i}" for i in range(12)], X, target=3)
    assert seeds == [7, 8]


class _GroupingLLM(Labeller):
    """A cacheable labeller that groups by itself, like the LLM one, and gets the number of
    groups wrong: one too few at the first level it groups, two too many after."""

    name, version, cacheable, names_from_children = "grouping-llm", "1", True, True

    def __init__(self):
        self.named, self.grouped = 0, 0

    def label(self, texts, central, sizes, contrast=None):
        self.named += len(texts)
        digest = [hashlib.md5("|".join(t).encode()).hexdigest()[:8] for t in texts]
        return [ClusterLabel(f"Topic {d}", f"{len(t)} items") for d, t in zip(digest, texts)]

    def group(self, child_texts, centroids, target):
        self.grouped += 1
        wrong = target - 1 if self.grouped == 1 else target + 2
        return group_clusters(centroids, max(1, min(wrong, len(child_texts))))


def test_an_llm_grouping_is_brought_to_the_exact_count_and_reused_on_a_rerun():
    """A labeller's own grouping with too few or too many groups still gives exactly max_top
    roots; the stored grouping (roots and children at different levels included) is reused on
    a rerun without asking again, and not reused when max_top changes."""
    from kura_dbt.hierarchy import label_cache

    X, labels = _random_clusters(30, seed=0)
    texts = [f"text {i}" for i in range(len(labels))]
    users = [None] * len(labels)
    llm = _GroupingLLM()
    first = build_hierarchy(X, labels, texts, users, max_top=6, branching=2, labeller=llm)
    assert _tree_problems(first, labels, 6) == []
    assert llm.grouped == 3  # one call per level of the schedule [14, 9, 6]
    # what the rerun must get right: roots below the top level, and a parent with two
    # children from further down (left alone at a level, grouped at a later one)
    roots = first[first["parent_id"].isna()]
    assert roots["level"].nunique() > 1
    level_of = dict(zip(first["cluster_id"], first["level"], strict=True))
    children = first[first["parent_id"].notna()]
    skipped = children[children["parent_id"].map(level_of) - children["level"] >= 2]
    assert skipped.groupby(["parent_id", "level"]).size().max() >= 2

    again = _GroupingLLM()
    second = build_hierarchy(
        X, labels, texts, users, max_top=6, branching=2, labeller=again, cache=label_cache(first)
    )
    assert (again.grouped, again.named) == (0, 0)
    assert second[["cluster_id", "parent_id", "name", "level"]].equals(
        first[["cluster_id", "parent_id", "name", "level"]]
    )

    other = _GroupingLLM()
    third = build_hierarchy(
        X, labels, texts, users, max_top=7, branching=2, labeller=other, cache=label_cache(first)
    )
    assert _tree_problems(third, labels, 7) == []
    assert other.grouped >= 1


class _ClashingLLM(_GroupingLLM):
    """Like _GroupingLLM, but every base cluster gets one of two names, so siblings clash and
    are renamed to be unique."""

    def label(self, texts, central, sizes, contrast=None):
        self.named += len(texts)
        out = []
        for t in texts:
            digest = hashlib.md5("|".join(t).encode()).hexdigest()
            name = (
                ("Billing" if int(digest, 16) % 2 else "Login")
                if t[0].startswith("text")
                else (f"Group {digest[:6]}")
            )
            out.append(ClusterLabel(name, f"{len(t)} items", keywords=[f"kw{digest[:4]}"]))
        return out


def test_siblings_renamed_for_uniqueness_are_not_asked_again_on_a_rerun():
    """Siblings whose names clash get unique names before their parent is named from them, so
    the parent's label key is the same on a rerun (where the children's names come back, already
    unique, from the cache): no labeller call, the same names."""
    from kura_dbt.hierarchy import label_cache

    X, labels = _random_clusters(24, seed=3)
    texts = [f"text {i}" for i in range(len(labels))]
    users = [None] * len(labels)
    first = build_hierarchy(
        X, labels, texts, users, max_top=4, branching=3, labeller=_ClashingLLM()
    )
    base = first[first["level"] == 0]
    assert base["name"].str.startswith(("Billing", "Login")).all()
    siblings = first.groupby(first["parent_id"].fillna("root"))["name"]
    assert all(names.is_unique for _, names in siblings)
    assert (base["name"] != base["name"].str.split(",").str[0]).any()  # some were renamed
    again = _ClashingLLM()
    second = build_hierarchy(
        X, labels, texts, users, max_top=4, branching=3, labeller=again, cache=label_cache(first)
    )
    assert (again.grouped, again.named) == (0, 0)
    assert second[["cluster_id", "parent_id", "name"]].equals(
        first[["cluster_id", "parent_id", "name"]]
    )


def _broad_region_and_activities(seed: int = 0, dim: int = 64):
    """Conversations of four tight, distinct activities (3 small base clusters each) and one
    broad region of 24 loosely related base clusters (a shared direction plus each its own),
    as real chat logs hold coding next to writing, advice, role-play and the rest."""
    rng = np.random.default_rng(seed)
    centres, sizes = [], []
    for a in range(4):
        axis = np.eye(dim)[a]
        centres += [_unit(axis + 0.35 * _unit(rng.normal(size=dim))) for _ in range(3)]
        sizes += [15] * 3
    shared = np.eye(dim)[10]
    centres += [_unit(0.55 * shared + _unit(rng.normal(size=dim))) for _ in range(24)]
    sizes += [40] * 24
    X = np.concatenate(
        [_unit(c + 0.5 * rng.normal(size=(n, dim)) / np.sqrt(dim)) for c, n in zip(centres, sizes)]
    )
    return X.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("max_top", [5, 6])
def test_no_parent_swallows_a_broad_region_of_loosely_related_clusters(max_top):
    """Parents are built from their conversations: grouping the children's centroids (each
    counting once) kept the four tight activities apart and put the broad region, 84 % of the
    conversations, under one top-level cluster; grouping by members splits it, and every
    conversation is nearer its own top-level cluster's centre than before, on average."""
    X, labels = _broad_region_and_activities()
    rows = build_hierarchy(X, labels, ["t"] * len(X), [None] * len(X), max_top=max_top)
    tops = rows[rows["parent_id"].isna()]
    assert len(tops) == max_top
    assert tops["size"].max() / len(X) <= 0.4
    top_of = dict(zip(rows["cluster_id"], rows["top_cluster_id"]))
    base_ids = rows[rows["level"] == 0].sort_values("cluster_id")["cluster_id"].tolist()
    top = np.array([top_of[base_ids[b]] for b in labels])
    centres = {t: _unit(X[top == t].sum(axis=0)) for t in set(top)}
    own = np.array([X[i] @ centres[t] for i, t in enumerate(top)])
    others = np.array(
        [[X[i] @ c for t, c in centres.items() if t != top[i]] for i in range(len(X))]
    )
    assert (own[:, None] >= others - 1e-6).mean() > 0.9  # siblings distinct
