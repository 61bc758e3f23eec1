"""The taxonomy that stays put: assignment within radii, the re-discovery policy, matching and
lineage, and the state table over several builds (a real DuckDB connection as the warehouse,
with delete+insert on state_key as dbt's incremental merge does)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kura_dbt.clustering.assign import assign_to_centroids, cluster_radii
from kura_dbt.clustering.lineage import match_clusters, new_cluster_id
from kura_dbt.settings import Settings
from kura_dbt.taxonomy.policy import Figures, decide

from .state_store import Store, _blobs, _centres


def _words(labels: list[int]) -> list[str]:
    topics = [
        "flights hotels travel",
        "python code error",
        "recipes cooking dinner",
        "music songs guitar",
        "taxes accounting invoices",
        "gardening plants soil",
    ]
    return [topics[t % len(topics)] for t in labels]


def test_radius_assignment_and_novelty():
    centres = _centres(3)
    X = _blobs(centres, 40, seed=1)
    labels = np.repeat(np.arange(3), 40)
    means = np.stack([X[labels == k].mean(axis=0) for k in range(3)])
    radii = cluster_radii(X, labels, means, quantile=0.95)
    assert (radii > 0).all() and (radii < 0.2).all()
    near = _blobs(centres, 5, seed=2)
    far = _blobs(_centres(2, seed=99), 5, seed=3)
    nearest, distance, within = assign_to_centroids(np.concatenate([near, far]), means, radii)
    assert list(nearest[:15]) == list(np.repeat(np.arange(3), 5))
    assert within[:15].mean() > 0.8  # most new points of known topics fall inside the radius
    assert not within[15:].any()  # unrelated points are novel, never forced in
    assert (distance[15:] > radii.max()).all()


def test_match_clusters_lineage_for_same_split_merge_new_and_retired():
    # old: A (20), B (20), C (10), D (10), E (6); new: A kept, B split in two, C+D merged, E gone,
    # and a new topic
    old = ["A"] * 20 + ["B"] * 20 + ["C"] * 10 + ["D"] * 10 + ["E"] * 6 + [None] * 8
    new = [0] * 20 + [1] * 12 + [2] * 8 + [3] * 20 + [-1] * 6 + [4] * 8
    match = match_clusters(old, new, old_clusters=["A", "B", "C", "D", "E"])
    assert match.inherited[0] == "A" and match.inherited[1] == "B"
    rows = {(o, n, r) for o, n, r, _, _ in match.lineage}
    assert ("A", 0, "same") in rows
    assert ("B", 1, "same") in rows and ("B", 2, "split") in rows
    merged = {r for o, n, r in rows if n == 3}
    assert merged <= {"same", "merge"} and "merge" in merged
    assert ("E", None, "retired") in rows
    assert (None, 4, "new") in rows
    assert "E" in match.retired


def test_new_ids_are_opaque_deterministic_and_unique():
    a = new_cluster_id(0, ["x", "y"], set())
    assert a == new_cluster_id(0, ["y", "x"], set()) and a.startswith("L0-") and len(a) == 11
    assert new_cluster_id(0, ["x", "y"], {a}) != a


def _figures(**overrides) -> Figures:
    values = dict(
        has_taxonomy=True,
        conversations=1000,
        new=10,
        novel=1,
        conversations_at_discovery=900,
        new_since_discovery=90,
        novel_since_discovery=5,
        embedding_model="m",
        previous_embedding_model="m",
        settings_key="k",
        previous_settings_key="k",
    )
    return Figures(**{**values, **overrides})


@pytest.mark.parametrize(
    ("policy", "figures", "discover", "reason"),
    [
        ("auto", {}, False, "assigned"),
        ("auto", {"has_taxonomy": False}, True, "first discovery"),
        ("never", {"has_taxonomy": False}, True, "first discovery"),
        ("auto", {"embedding_model": "other"}, True, "embedding model changed"),
        ("never", {"embedding_model": "other"}, True, "embedding model changed"),
        ("auto", {"settings_key": "new"}, True, "clustering settings changed"),
        ("auto", {"novel_since_discovery": 30}, True, "drift: novel share 0.310"),
        ("auto", {"conversations": 2000}, True, "growth 1.222"),
        ("never", {"conversations": 2000, "novel_since_discovery": 90}, False, "never"),
        ("always", {}, True, "always"),
        ("auto", {"new": 0}, False, "no new conversations"),
    ],
)
def test_rediscovery_policy(policy, figures, discover, reason):
    decision = decide(Settings(rediscover=policy), _figures(**figures))
    assert decision.discover is discover
    assert reason in decision.reason


def test_drift_needs_enough_conversations_and_unknown_policy_is_named():
    few = _figures(new=3, novel=3, new_since_discovery=0, novel_since_discovery=0)
    assert not decide(Settings(rediscover_min_conversations=50), few).discover
    assert decide(Settings(rediscover_min_conversations=2), few).discover
    with pytest.raises(ValueError, match="kura__rediscover"):
        decide(Settings(rediscover="sometimes"), few)


def test_builds_assign_new_conversations_and_keep_old_ones_put():
    centres = _centres(4)
    store = Store()
    day1 = store.add("a", _blobs(centres, 30, seed=1), _words(list(np.repeat(range(4), 30))))
    first = store.build(n_base_clusters=4)
    run = store.runs().iloc[-1]
    assert (run["decision"], run["epoch"]) == ("discover", 1)
    before = store.assignment()
    assert len(set(before.values())) == 4 and all(v.startswith("L0-") for v in before.values())
    names = store.clusters().set_index("cluster_id")["name"].to_dict()

    # day 2: new conversations of the same topics plus a few unrelated ones
    store.add("b", _blobs(centres, 5, seed=2), _words(list(np.repeat(range(4), 5))))
    store.add("n", _blobs(_centres(1, seed=50), 3, seed=3), ["knitting wool"] * 3)
    second = store.build(n_base_clusters=4, rediscover_novel_share=0.5)
    run = store.runs().iloc[-1]
    assert (run["decision"], run["new_conversations"]) == ("assign", 23)
    conversations = second[second["record_type"] == "conversation"]
    assert len(conversations) == 23  # only the new rows are written
    after = store.assignment()
    assert {c: after[c] for c in day1} == before  # old conversations keep their cluster
    novel = conversations[conversations["conversation_id"].str.startswith("n")]
    assert (novel["status"] == "novel").all() and novel["cluster_id"].isna().all()
    assert novel["nearest_cluster_id"].notna().all()
    assert int(run["novel_conversations"]) >= 3
    assert store.clusters().set_index("cluster_id")["name"].to_dict() == names
    assert len(first[first["record_type"] == "cluster"]) > 0
    assert (second["record_type"] != "cluster").all()  # the taxonomy is untouched

    # no new data: nothing but the run row
    third = store.build(n_base_clusters=4, rediscover_novel_share=0.5)
    assert list(third["record_type"]) == ["run"]
    assert store.runs().iloc[-1]["reason"] == "no new conversations"


def test_rediscovery_on_unchanged_data_keeps_ids_and_names():
    store = Store()
    store.add("a", _blobs(_centres(5), 25, seed=1), _words(list(np.repeat(range(5), 25))))
    store.build(n_base_clusters=5)
    before = store.assignment()
    taxonomy = {lvl: store.clusters(lvl)[["cluster_id", "name", "parent_id"]] for lvl in (0, 1)}
    store.build(n_base_clusters=5, rediscover="always")
    run = store.runs().iloc[-1]
    assert (run["decision"], run["epoch"]) == ("discover", 2)
    assert store.assignment() == before
    for lvl, frame in taxonomy.items():
        pd.testing.assert_frame_equal(
            store.clusters(lvl)[["cluster_id", "name", "parent_id"]], frame
        )
    lineage = store.lineage()
    assert set(lineage.loc[lineage["epoch"] == 2, "relation"]) == {"same"}


def test_constructed_split_and_merge_give_lineage_and_keep_ids_where_clusters_survive():
    centres = _centres(4)
    centres[1] = centres[0] + 0.5 * _centres(1, seed=5)[0]  # topics 0 and 1 are close
    store = Store()
    # epoch 1: asked for 3 clusters, topics 0 and 1 share one; 2 and 3 apart
    store.add("a", _blobs(centres, 20, seed=1), _words([0] * 40 + [2] * 20 + [3] * 20))
    store.build(n_base_clusters=3)
    one = store.assignment()
    merged_id = one["a0000"]
    assert one["a0025"] == merged_id  # topics 0 and 1 share a cluster
    kept = {one["a0045"], one["a0065"]}
    # epoch 2: asked for 4 clusters, the merged one splits; topics 2 and 3 stay
    store.build(n_base_clusters=4, rediscover="always")
    two = store.assignment()
    assert {two["a0045"], two["a0065"]} == kept  # surviving clusters keep their ids
    lineage = store.lineage()
    epoch2 = lineage[(lineage["epoch"] == 2) & (lineage["level"] == 0)]
    from_merged = epoch2[epoch2["old_cluster_id"] == merged_id]
    assert set(from_merged["relation"]) == {"same", "split"}
    assert set(from_merged["new_cluster_id"]) == {two["a0000"], two["a0025"]}
    # epoch 3: back to 3 clusters, the two halves merge again
    store.build(n_base_clusters=3, rediscover="always")
    three = store.assignment()
    lineage = store.lineage()
    epoch3 = lineage[(lineage["epoch"] == 3) & (lineage["level"] == 0)]
    into = epoch3[epoch3["new_cluster_id"] == three["a0000"]]
    assert set(into["relation"]) == {"same", "merge"}
    assert set(into["old_cluster_id"]) == {two["a0000"], two["a0025"]}


def test_a_rediscovery_with_more_data_starts_from_the_clusters_that_hold():
    """k-means is warm-started from the previous centroids: on overlapping topics with 15 % more
    conversations, a forced re-discovery keeps almost every conversation's id (a cold k-means++
    start kept 95 % here; on banking77 + 10 % it kept 61 %, the warm start 99 %)."""
    centres = _centres(40, d=32, seed=3)
    store = Store()
    store.add("a", _blobs(centres, 40, seed=1, noise=0.6), [f"t{i // 40}" for i in range(1600)])
    store.build()
    before = store.assignment()
    store.add("b", _blobs(centres, 6, seed=2, noise=0.6), [f"t{i // 6}" for i in range(240)])
    store.build(rediscover="always")
    after = store.assignment()
    kept = np.mean([after[c] == before[c] for c in before])
    assert kept >= 0.98, kept


def test_warm_start_drops_the_emptiest_centres_or_adds_new_ones_where_data_is_unexplained():
    from kura_dbt.clustering import KMeansClusterer

    centres = _centres(6, d=16, seed=4)
    X = _blobs(centres, 30, seed=5)
    old = np.asarray(centres[:4]) / np.linalg.norm(centres[:4], axis=1, keepdims=True)
    more = KMeansClusterer(n_clusters=6, init_centers=old, random_state=0)
    start = more._warm_start(X, 6, np.random.default_rng(0))
    np.testing.assert_allclose(start[:4], old)  # the old centres come first, as they were
    # the two new centres land in the two topics the old ones did not cover
    new_topics = {
        int(np.argmax(unit @ (centres / np.linalg.norm(centres, axis=1, keepdims=True)).T))
        for unit in start[4:] / np.linalg.norm(start[4:], axis=1, keepdims=True)
    }
    assert new_topics == {4, 5}
    fewer = KMeansClusterer(n_clusters=3, init_centers=old, random_state=0)
    X_three = _blobs(centres[:3], 30, seed=6)  # nothing near old centre 3: it is dropped
    np.testing.assert_allclose(fewer._warm_start(X_three, 3, np.random.default_rng(0)), old[:3])
    pair = np.vstack([old[:3], old[0] + 0.01])  # two old centres on one topic: merged
    merged = KMeansClusterer(n_clusters=3, init_centers=pair)._warm_start(
        _blobs(centres[:3], 30, seed=6), 3, np.random.default_rng(0)
    )
    assert len(merged) == 3 and np.allclose(merged[1:], old[1:3])
    with pytest.raises(ValueError, match="init_centers"):
        KMeansClusterer(n_clusters=2, init_centers=np.ones((2, 5))).fit(X)
