"""The hierarchy: geometric schedule, no single-child parents, sizes add up, deterministic."""

import numpy as np
import pytest

from kura_dbt.hierarchy import build_hierarchy, group_clusters, level_schedule
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


@pytest.mark.parametrize("seed", range(5))
def test_group_clusters_never_leaves_a_parent_with_one_child(seed):
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(23, 8))
    centroids[0] += 50  # a far outlier would be a singleton group without the fix
    groups = group_clusters(centroids, 6)
    counts = np.bincount(groups)
    assert counts.min() >= 2
    assert len(counts) <= 6


def _check_tree(frame, n_conversations, max_top):
    by_id = frame.set_index("cluster_id")
    top = frame[frame["parent_id"].isna()]
    assert len(top) <= max_top
    assert top["level"].nunique() == 1
    assert frame["cluster_id"].is_unique
    for parent_id, children in frame[frame["parent_id"].notna()].groupby("parent_id"):
        assert len(children) >= 2, f"{parent_id} has a single child"
        assert by_id.loc[parent_id, "size"] == children["size"].sum()
        assert by_id.loc[parent_id, "child_count"] == len(children)
        assert (children["level"] == by_id.loc[parent_id, "level"] - 1).all()
    for level, rows in frame.groupby("level"):
        assert rows["size"].sum() == n_conversations, f"level {level} loses conversations"


def test_build_hierarchy_invariants_and_names():
    X, labels = _blobs(30, 10)
    texts = [
        f"book a {['bus', 'flight', 'hotel'][label % 3]} trip number{label}" for label in labels
    ]
    users = [f"u{i % 17}" for i in range(len(labels))]
    frame = build_hierarchy(X, labels, texts, users, max_top=4, branching=3)
    _check_tree(frame, len(labels), 4)
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
    assert first["label_key"].isna().tolist() == [False, True, False]
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
