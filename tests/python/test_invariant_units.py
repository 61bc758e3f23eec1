"""Fast unit tests of the critical invariants, one section per module: assignment, the
re-discovery policy, lineage, the budget, the failure policy. They run in well under a second
each, without a server or a warehouse, so that `make mutation` can run them for every mutant.
Each asserts a behaviour a build relies on (named in the test), not the lines that make it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from kura_dbt.budget import (
    BUDGET_SKIP,
    StageMonitor,
    budgeted,
    current_monitor,
    is_skipped,
    llm_of,
    monitoring,
    skipped_result,
)
from kura_dbt.clustering.assign import (
    _radii,
    assign_to_centroids,
    calibration_scale,
    cluster_radii,
    leave_one_out_distances,
    unit_rows,
)
from kura_dbt.clustering.lineage import match_clusters, new_cluster_id
from kura_dbt.failures import StageFailed, check_failures
from kura_dbt.llm import CallResult, LLMSettings
from kura_dbt.progress import Progress
from kura_dbt.settings import Settings
from kura_dbt.taxonomy.policy import Figures, clustering_settings_key, decide

# ---------------------------------------------------------------------------------------------
# assignment: nearest centroid by cosine, within its radius; radii from held-out members


def test_unit_rows_are_unit_length_and_a_zero_row_stays_zero():
    U = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]]))
    assert U.dtype == np.float32
    np.testing.assert_allclose(U, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], rtol=1e-6)


def test_assignment_is_by_direction_not_by_length():
    centroids = np.array([[1.0, 0.0], [0.0, 10.0]])
    # a long vector along the first axis is nearer the second centroid in Euclidean terms
    nearest, distance, within = assign_to_centroids(np.array([[9.0, 1.0], [0.1, 0.2]]), centroids)
    assert nearest.tolist() == [0, 1] and nearest.dtype == np.int64
    expected = [1 - 9 / np.hypot(9, 1), 1 - 2 / np.hypot(1, 2)]
    np.testing.assert_allclose(distance, expected, atol=1e-6)
    assert within.tolist() == [True, True]  # without radii every row is within
    assert within.dtype == bool  # a mask that selects rows


def test_opposite_rows_are_at_distance_two_and_beyond_any_smaller_radius():
    nearest, distance, within = assign_to_centroids(
        np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([1.99])
    )
    assert distance.tolist() == pytest.approx([2.0, 0.0]) and within.tolist() == [False, True]


def test_each_row_is_judged_against_its_own_nearest_centroid_radius():
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    X = np.array([[1.0, 0.3], [0.3, 1.0]])  # the same distance from their nearest centroids
    _, _, within = assign_to_centroids(X, centroids, np.array([0.1, 0.01]))
    assert within.tolist() == [True, False]


def test_no_rows_or_no_centroids_assign_nothing():
    nearest, distance, within = assign_to_centroids(np.zeros((2, 3)), np.zeros((0, 3)))
    assert nearest.tolist() == [-1, -1] and np.isnan(distance).all() and not within.any()
    assert within.dtype == bool
    nearest, distance, within = assign_to_centroids(np.zeros((0, 3)), np.eye(3))
    assert len(nearest) == len(distance) == len(within) == 0


def test_leave_one_out_measures_each_member_against_the_others_only():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [5.0, 5.0], [1.0, 0.0]])
    labels = np.array([0, 0, 0, 1, -1])  # cluster 1 has one member; the last row is noise
    d = leave_one_out_distances(X, labels)
    others_of_first = unit_rows(X[1:2]) + unit_rows(X[2:3])
    expected = 1 - float((unit_rows(X[:1]) @ unit_rows(others_of_first).T)[0, 0])
    assert d[0] == pytest.approx(expected)
    assert d[1] == pytest.approx(expected)  # the mirror image
    assert d[2] == pytest.approx(0.0, abs=1e-7)  # the others' mean points its way
    assert np.isnan(d[3]) and np.isnan(d[4])  # a cluster of one, and noise
    # a pair: each member against the other; a cluster of one first does not end the count
    pair = leave_one_out_distances(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), [0, 1, 1])
    assert np.isnan(pair[0]) and pair[1:].tolist() == pytest.approx([1.0, 1.0])
    # the others cancel out (no direction): orthogonal, distance 1, not an error
    cancel = leave_one_out_distances(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]), [0, 0, 0])
    assert cancel[0] == pytest.approx(1.0)
    # the others' mean is shorter than 1: its direction counts, not its length
    short = leave_one_out_distances(np.array([[1.0, 0.0], [0.0, 1.0], [-0.8, -0.6]]), [0, 0, 0])
    assert short[0] == pytest.approx(1 + 0.8 / np.hypot(0.8, 0.4))


def test_radii_reject_a_quantile_outside_zero_to_one():
    X, labels = np.eye(3), np.array([0, 0, 0])
    for q in (0.0, -0.1, 1.01):
        with pytest.raises(ValueError, match="kura__assign_radius_quantile must be in"):
            _radii(X, labels, 1, q)
    assert _radii(X, labels, 1, 1.0).shape == (1,)


def _ring(n: int, spread: float, axis: int, d: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, d))
    X[:, axis] = 1.0
    X[:, (axis + 1) % d] = spread * rng.uniform(0.0, 1.0, n)
    return X


def test_a_radius_is_the_quantile_of_its_members_floored_at_the_median_of_all():
    tight = np.tile([[0.0, 0.0, 1.0, 0.0]], (20, 1))  # all the same: distances 0
    X = np.vstack([_ring(40, 1.0, 0), tight])
    labels = np.array([0] * 40 + [1] * 20)
    loo = leave_one_out_distances(X, labels)
    radii = _radii(X, labels, 3, 0.9)
    floor = np.median(loo)
    assert radii[0] == pytest.approx(np.quantile(loo[:40], 0.9))
    assert radii[1] == pytest.approx(floor) and floor > 0  # the tight cluster is floored
    assert radii[2] == pytest.approx(floor)  # a cluster with no measured member
    # only clusters of one: no distance measured at all, radii 0 (everything new is novel)
    assert _radii(np.eye(3), np.array([0, 1, 2]), 3, 0.9).tolist() == [0.0, 0.0, 0.0]
    lone = np.vstack([X, [[0.0, 0.0, 0.0, 1.0]]])  # a cluster of one: no distance to count
    lone_radii = _radii(lone, np.append(labels, 2), 3, 0.9)
    assert lone_radii.tolist() == pytest.approx([radii[0], floor, floor])
    assert _radii(X, labels, 1, 1.0)[0] == pytest.approx(loo[:40].max())


def test_calibration_grows_radii_that_under_cover_held_out_members_and_never_shrinks():
    X = np.vstack([_ring(60, 2.0, 0, seed=1), _ring(60, 2.0, 2, seed=2)])
    labels = np.repeat([0, 1], 60)
    scale = calibration_scale(X, labels, 2, 0.95)
    plain = cluster_radii(X, labels, np.eye(4)[[0, 2]], 0.95, calibrate=False)
    calibrated = cluster_radii(X, labels, np.eye(4)[[0, 2]], 0.95)
    np.testing.assert_allclose(plain, _radii(X, labels, 2, 0.95))
    np.testing.assert_allclose(calibrated, plain * scale)
    assert scale == calibration_scale(X, labels, 2, 0.95)  # seeded: the same each build
    # the calibrated radii let in the promised share of each fold's held-out members
    assert scale >= 1.0
    same = np.vstack([np.tile([[1.0, 0, 0, 0]], (60, 1)), np.tile([[0, 0, 1.0, 0]], (60, 1))])
    assert calibration_scale(same, labels, 2, 0.95) == 1.0  # nothing to grow: never shrunk


def _blobs(n: int, d: int = 40, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, d))
    return np.vstack([c + noise * rng.normal(size=(n, d)) for c in centres])


def test_calibration_scale_matches_the_held_out_ratios_it_promises():
    X, labels = _blobs(40), np.repeat([0, 1], 40)
    scale = calibration_scale(X, labels, 2, 0.95, folds=5, seed=3)
    # recompute the promise: per fold, members against the other folds' centroids and radii
    rng = np.random.default_rng(3)
    fold = rng.permutation(80) % 5
    U = unit_rows(X)
    ratios = []
    for f in range(5):
        train = fold != f
        cents = np.stack([U[train][labels[train] == c].mean(axis=0) for c in (0, 1)])
        radii = _radii(U[train], labels[train], 2, 0.95)
        near, dist, _ = assign_to_centroids(U[fold == f], cents)
        ratios.append(dist / radii[near])
    assert scale == pytest.approx(max(1.0, np.quantile(np.concatenate(ratios), 0.95)))
    assert scale > 1.04


def test_the_radii_default_to_the_095_quantile_and_calibrate_with_the_given_seed():
    X, labels = _blobs(40), np.repeat([0, 1], 40)
    centres = np.stack([X[labels == c].mean(axis=0) for c in (0, 1)])
    np.testing.assert_array_equal(
        cluster_radii(X, labels, centres), cluster_radii(X, labels, centres, quantile=0.95)
    )
    seeded = cluster_radii(X, labels, centres, seed=5)
    np.testing.assert_allclose(
        seeded, _radii(X, labels, 2, 0.95) * calibration_scale(X, labels, 2, 0.95, seed=5)
    )
    assert not np.allclose(seeded, cluster_radii(X, labels, centres, seed=0))


def test_calibration_needs_ten_members_per_fold_and_a_cluster():
    X, labels = _blobs(25), np.repeat([0, 1], 25)
    assert calibration_scale(X, labels, 2, 0.95, folds=5, seed=3) > 1.0  # 50 rows: enough
    labels[0] = -1  # 49 members: too few to tell
    assert calibration_scale(X, labels, 2, 0.95, folds=5, seed=3) == 1.0
    assert calibration_scale(X, np.repeat([0, 1], 25), 0, 0.95, seed=3) == 1.0  # no cluster
    one = _blobs(50)[:50]  # a taxonomy of a single cluster is calibrated too
    assert calibration_scale(one, np.zeros(50, dtype=int), 1, 0.95, seed=3) > 1.05


def test_calibration_reads_a_seeded_sample_of_a_large_input(monkeypatch):
    import kura_dbt.clustering.assign as assign

    X, labels = _blobs(80), np.repeat([0, 1], 80)
    full = calibration_scale(X, labels, 2, 0.95)
    monkeypatch.setattr(assign, "CALIBRATION_MAX_ROWS", 159)
    sampled = calibration_scale(X, labels, 2, 0.95)
    assert sampled != full and sampled == calibration_scale(X, labels, 2, 0.95)  # seeded
    monkeypatch.setattr(assign, "CALIBRATION_MAX_ROWS", 160)  # exactly the limit: all rows
    assert calibration_scale(X, labels, 2, 0.95) == full


# ---------------------------------------------------------------------------------------------
# the re-discovery policy


def _figures(**changes) -> Figures:
    base = dict(
        has_taxonomy=True,
        conversations=100,
        new=10,
        novel=0,
        conversations_at_discovery=100,
        new_since_discovery=0,
        novel_since_discovery=0,
        embedding_model="m",
        previous_embedding_model="m",
        settings_key="k",
        previous_settings_key="k",
    )
    return Figures(**{**base, **changes})


def _decide(figures: Figures, **settings) -> tuple[bool, str]:
    d = decide(Settings(**settings), figures)
    return d.discover, d.reason


def test_the_novel_share_counts_every_night_since_the_discovery():
    f = _figures(new=4, novel=1, new_since_discovery=6, novel_since_discovery=2)
    assert f.novel_share == pytest.approx(0.3)
    assert _figures(new=0, new_since_discovery=0).novel_share is None  # nothing seen
    assert _figures(has_taxonomy=False, new=5, novel=5).novel_share is None


def test_growth_is_measured_against_the_conversations_at_discovery():
    assert _figures(conversations=150, conversations_at_discovery=100).growth == 0.5
    assert _figures(conversations_at_discovery=0).growth is None
    assert _figures(conversations_at_discovery=-1).growth is None


def test_an_unknown_policy_is_refused_and_a_known_one_read_loosely():
    with pytest.raises(ValueError, match=r"kura__rediscover is 'sometimes'; valid: auto, always"):
        decide(Settings(rediscover="sometimes"), _figures())
    assert _decide(_figures(new=0), rediscover=" Always ") == (True, "kura__rediscover: always")


def test_no_taxonomy_and_a_new_embedding_model_rediscover_under_every_policy():
    for policy in ("auto", "always", "never"):
        assert _decide(_figures(has_taxonomy=False), rediscover=policy) == (
            True,
            "first discovery: no taxonomy yet",
        )
        assert _decide(_figures(embedding_model="n"), rediscover=policy) == (
            True,
            "embedding model changed (m -> n)",
        )
    # a taxonomy from before models were recorded: no change to judge
    assert not _decide(_figures(previous_embedding_model=None, embedding_model="n"))[0]


def test_never_keeps_the_taxonomy_whatever_the_drift_growth_or_settings():
    drifted = _figures(new=100, novel=100, conversations=1000, previous_settings_key="old")
    assert _decide(drifted, rediscover="never") == (False, "kura__rediscover: never")
    assert _decide(_figures(new=0), rediscover="always")[0]


def test_changed_clustering_settings_rediscover_unless_none_were_recorded():
    assert _decide(_figures(previous_settings_key="old")) == (True, "clustering settings changed")
    assert _decide(_figures(previous_settings_key=None)) == (
        False,
        "assigned to the existing taxonomy",
    )


def test_drift_needs_more_than_the_novel_share_and_enough_conversations():
    at_share = _figures(new=10, novel=3)  # exactly 0.3
    assert not _decide(at_share, rediscover_novel_share=0.3, rediscover_min_conversations=10)[0]
    above = _figures(new=10, novel=4)
    assert _decide(above, rediscover_novel_share=0.3, rediscover_min_conversations=10) == (
        True,
        "drift: novel share 0.400 > kura__rediscover_novel_share 0.3",
    )
    assert not _decide(above, rediscover_novel_share=0.3, rediscover_min_conversations=11)[0]


def test_growth_beyond_the_limit_rediscovers_and_at_the_limit_does_not():
    assert _decide(_figures(conversations=201), rediscover_growth=1.0) == (
        True,
        "growth 1.010 > kura__rediscover_growth 1.0",
    )
    assert not _decide(_figures(conversations=200), rediscover_growth=1.0)[0]


def test_a_quiet_night_says_so():
    assert _decide(_figures(new=0)) == (False, "no new conversations")
    assert _decide(_figures(new=3, novel=0)) == (False, "assigned to the existing taxonomy")


def test_the_settings_key_changes_with_a_rediscover_setting_only():
    key = clustering_settings_key(Settings())
    assert len(key) == 12 and key == clustering_settings_key(Settings())
    assert clustering_settings_key(Settings(n_base_clusters=7)) != key
    assert clustering_settings_key(Settings(rediscover_growth=3.0)) == key
    # auto embeds the request with the local summariser: naming it changes nothing clustered
    assert clustering_settings_key(Settings(embedding_text="request")) == key
    assert clustering_settings_key(Settings(embedding_text="summary")) != key


# ---------------------------------------------------------------------------------------------
# lineage: one-to-one matching by shared members


def _relations(match) -> set[tuple]:
    return {(o, n, r) for o, n, r, _, _ in match.lineage}


def test_unchanged_clusters_keep_their_ids_with_full_overlap():
    m = match_clusters(["A"] * 3 + ["B"] * 2, [1, 1, 1, 0, 0])
    assert m.inherited == {1: "A", 0: "B"} and m.overlap == {1: 1.0, 0: 1.0}
    assert sorted(m.lineage) == [("A", 1, "same", 1.0, 3), ("B", 0, "same", 1.0, 2)]
    assert m.retired == []


def test_no_new_cluster_retires_every_old_one():
    m = match_clusters(["A", "B", None], [-1, -1, -1], old_clusters=["C"])
    assert m.retired == ["A", "B", "C"] and m.inherited == {}
    assert m.lineage == [(o, None, "retired", 0.0, 0) for o in ("A", "B", "C")]


def test_a_split_keeps_the_id_on_the_larger_part():
    m = match_clusters(["A"] * 10, [0] * 7 + [1] * 3)
    assert m.inherited == {0: "A"} and m.overlap == {0: 0.7}
    assert sorted(m.lineage) == [("A", 0, "same", 0.7, 7), ("A", 1, "split", 0.3, 3)]


def test_a_merge_keeps_the_id_of_the_larger_source():
    m = match_clusters(["A"] * 6 + ["B"] * 4, [0] * 10)
    assert m.inherited == {0: "A"} and m.retired == ["B"]
    assert sorted(m.lineage) == [("A", 0, "same", 0.6, 6), ("B", 0, "merge", 0.4, 4)]


def test_a_minor_share_is_not_lineage_and_a_cluster_from_nowhere_is_new():
    m = match_clusters(["A"] * 10 + [None] * 4, [0] * 9 + [1] + [1] * 4)
    # the only member of cluster 1 both runs saw came from A: 100 % of it, so significant
    assert _relations(m) == {("A", 0, "same"), ("A", 1, "split")}
    m = match_clusters(["A"] * 10 + ["B"] * 9, [0] * 9 + [1] + [1] * 9)
    assert _relations(m) == {("A", 0, "same"), ("B", 1, "same")}  # 10 % of A, 10 % of 1
    m = match_clusters(["A"] * 4 + [None] * 3, [0] * 4 + [1] * 3)
    assert ("None", 1, "new") not in _relations(m) and (None, 1, "new") in _relations(m)


def test_min_share_decides_what_is_significant():
    old, new = ["A"] * 10 + ["B"] * 10, [0] * 8 + [1] * 2 + [1] * 10
    m = match_clusters(old, new, min_share=0.2)
    assert ("A", 1, "split") in _relations(m)  # 2 of A's 10: 20 %
    m = match_clusters(old, new, min_share=0.21)
    assert ("A", 1, "split") not in _relations(m)


def test_an_old_cluster_absorbed_into_a_larger_new_one_is_a_merge_into_it():
    # A (one conversation) went into cluster 0, which is mostly B: A keeps no id but its row
    # says where its conversation went
    m = match_clusters(["A"] + ["B"] * 9, [0] * 10)
    assert m.inherited == {0: "B"} and m.retired == ["A"]
    assert sorted(m.lineage) == [("A", 0, "merge", 0.1, 1), ("B", 0, "same", 0.9, 9)]


def test_the_only_significant_source_of_a_new_cluster_it_did_not_keep_is_a_merge():
    # cluster 0: 2 of A's 2, plus one each of C1..C8 (10 % of them and of it): A is its only
    # significant source but too small a part of it to keep its id
    old = ["A", "A"] + [f"C{k}" for k in range(1, 9) for _ in range(10)]
    new = [0, 0] + [n for k in range(1, 9) for n in [0] + [k] * 9]
    m = match_clusters(old, new)
    assert "A" in m.retired and 0 not in m.inherited
    assert ("A", 0, "merge") in _relations(m) and ("A", None, "retired") not in _relations(m)


def test_a_share_of_exactly_min_share_of_the_new_cluster_is_significant():
    # 2 of A's 20 (10 %) make up 2 of cluster 1's 10 (20 %)
    old, new = ["A"] * 20 + ["B"] * 8, [0] * 18 + [1] * 2 + [1] * 8
    assert ("A", 1, "split") in _relations(match_clusters(old, new, min_share=0.2))
    assert ("A", 1, "split") not in _relations(match_clusters(old, new, min_share=0.21))


def test_an_old_cluster_with_no_member_left_is_retired():
    m = match_clusters(["A", "A"], [0, 0], old_clusters=["A", "Z"])
    assert m.retired == ["Z"] and ("Z", None, "retired") in _relations(m)


def test_a_cluster_matched_elsewhere_is_retired_with_its_pairs_kept():
    # A and B both went wholly into cluster 0: B keeps nothing and is retired, its row a merge
    m = match_clusters(["A"] * 5 + ["B"] * 5, [0] * 10, min_overlap=0.5)
    assert m.retired == ["B"]
    assert ("B", None, "retired") not in _relations(m) and ("B", 0, "merge") in _relations(m)


def test_a_cluster_of_one_conversation_keeps_its_id():
    m = match_clusters(["A", "B", "B"], [0, 1, 1])
    assert m.inherited == {0: "A", 1: "B"} and m.overlap == {0: 1.0, 1: 1.0}


def test_points_outside_either_run_do_not_count():
    m = match_clusters(["A", "A", None, "A"], [0, 0, 0, -1])
    assert m.lineage == [("A", 0, "same", 1.0, 2)]  # 2 shared: the new-only and noise dropped


def test_the_min_overlap_is_inclusive_and_needs_a_shared_member():
    m = match_clusters(["A"] * 4, [0] * 2 + [1] * 2, min_overlap=0.5)
    assert list(m.inherited.values()) == ["A"]
    m = match_clusters(["A"] * 4, [0] * 2 + [1] * 2, min_overlap=0.51)
    assert m.inherited == {} and m.retired == ["A"]
    m = match_clusters(["A", None], [-1, 0], old_clusters=["A"], min_overlap=0.0)
    assert m.inherited == {}  # nothing shared: no match even at overlap 0


def test_new_ids_hash_the_members_and_never_collide():
    a = new_cluster_id(0, ["c2", "c1"], set())
    assert a == new_cluster_id(0, ["c1", "c2"], set()) and a.startswith("L0-") and len(a) == 11
    assert new_cluster_id(1, ["c1", "c2"], set()) == "L1-" + a[3:]
    longer = new_cluster_id(0, ["c1", "c2"], {a})
    assert longer.startswith(a) and len(longer) == 12
    assert new_cluster_id(0, ["c3"], set()) != a
    # each collision lengthens the id by one hex digit, up to the whole md5 digest (32)
    taken, made = set(), []
    with pytest.raises(ValueError, match="cannot make a unique id for a level-0 cluster"):
        while True:
            made.append(new_cluster_id(0, ["c1", "c2"], taken))
            taken.add(made[-1])
    assert [len(m) - 3 for m in made] == list(range(8, 33))
    assert all(longer.startswith(shorter) for shorter, longer in zip(made, made[1:]))


# ---------------------------------------------------------------------------------------------
# the budget: calls and cost capped per stage, calls in flight counted


PRICES = LLMSettings(model="m", input_cost_per_mtok=1.0, output_cost_per_mtok=2.0)


def _monitor(**kw) -> StageMonitor:
    return StageMonitor(Progress("s", enabled=False), **kw)


def test_the_call_cap_starts_exactly_that_many_calls_and_refuses_the_rest():
    m = _monitor(max_calls=2)
    assert [m.admit()[0] for _ in range(4)] == [True, True, False, False]
    assert (m.started, m.refused, m.capped) == (2, 2, True)
    assert m.cap_text() == "kura__llm_max_calls=2"


def test_once_refused_every_later_call_is_refused_even_a_cheap_one():
    m = _monitor(max_cost_usd=0.001, llm=PRICES, completion_guess=0)
    assert m.admit(prompt_tokens=2000) == (False, 0.0)  # 0.002 > 0.001
    assert m.admit(prompt_tokens=1) == (False, 0.0) and m.refused == 2 and m.started == 0


def test_a_call_that_fits_the_cost_cap_exactly_is_started():
    m = _monitor(max_cost_usd=PRICES.cost(1000, 200), llm=PRICES)
    assert m.admit(prompt_tokens=1000) == (True, PRICES.cost(1000, 200))
    assert m.admit(prompt_tokens=1) == (False, 0.0)  # the first one is in flight


def test_calls_in_flight_count_against_the_cost_cap_and_hand_back_their_estimate():
    per_call = PRICES.cost(1000, 200)
    m = _monitor(max_cost_usd=per_call * 2.5, llm=PRICES)
    assert m.admit(1000)[0] and m.admit(1000)[0]
    assert m.in_flight_cost == pytest.approx(2 * per_call)
    assert m.admit(1000) == (False, 0.0) and m.progress.total == 2  # the stage ends with them
    m.finished(CallResult(attempts=1, prompt_tokens=1000, completion_tokens=200), per_call)
    assert m.in_flight_cost == pytest.approx(per_call)
    m.finished(CallResult(attempts=1, prompt_tokens=1000, completion_tokens=200), per_call * 5)
    assert m.in_flight_cost == 0.0  # never below zero
    fresh = _monitor(max_cost_usd=1.0, llm=PRICES)
    fresh.admit(1)
    fresh.finished(CallResult(attempts=1))  # no estimate handed back: it stays in flight
    assert fresh.in_flight_cost == PRICES.cost(1, 200)


def test_concurrent_admissions_never_overshoot_the_cap():
    per_call = PRICES.cost(1000, 200)
    m = _monitor(max_cost_usd=per_call * 3.5, llm=PRICES)
    admitted: list[bool] = []
    threads = [threading.Thread(target=lambda: admitted.append(m.admit(1000)[0])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(admitted) == [False] * 5 + [True] * 3 and m.started == 3


def test_without_a_prompt_size_a_call_is_estimated_from_the_means_of_the_calls_so_far():
    m = _monitor(max_cost_usd=1.0, llm=PRICES, completion_guess=300)
    assert m.admit() == (True, PRICES.cost(0, 300))  # nothing known yet: the guess alone
    m.finished(CallResult(attempts=1, prompt_tokens=1000, completion_tokens=100))
    m.finished(CallResult(attempts=1, prompt_tokens=3000, completion_tokens=300))
    assert m.admit()[1] == PRICES.cost(2000, 200)  # the means of the two, not their sums
    assert m.admit(prompt_tokens=50)[1] == PRICES.cost(50, 200)


def test_finished_calls_add_up_usage_and_errors_and_advance_the_progress():
    m = _monitor(llm=PRICES)
    m.progress.set_total(3)
    m.finished(CallResult(attempts=2, prompt_tokens=10, completion_tokens=5))
    m.finished(CallResult(error="boom", attempts=3))
    m.finished(object())  # no usage at all: counts as a finished call without tokens
    assert (m.finished_calls, m.requests, m.errors) == (3, 5, 1)
    assert (m.prompt_tokens, m.completion_tokens) == (10, 5)
    assert m.cost_usd == PRICES.cost(10, 5) and m.progress.done == 3
    assert m.progress.errors == 1  # the stage's progress line counts the failed call
    assert _monitor().cost_usd is None  # no prices: no cost


def test_expected_calls_count_up_to_what_the_cap_still_allows():
    m = _monitor(max_calls=5)
    m.expect(3)
    m.expect(4)
    m.expect(1)
    assert m.progress.total == 5
    free = _monitor()
    free.expect(7)
    assert free.progress.total == 7


def test_the_cap_text_names_every_cap_set():
    assert _monitor(max_calls=3, max_cost_usd=0.5).cap_text() == (
        "kura__llm_max_calls=3, kura__llm_max_cost_usd=0.5"
    )
    assert _monitor(max_cost_usd=1e-05).cap_text() == "kura__llm_max_cost_usd=1e-05"
    assert _monitor().cap_text() == ""


def test_monitoring_is_scoped_to_its_context():
    m = _monitor()
    assert current_monitor() is None
    with monitoring(m) as inside:
        assert inside is m and current_monitor() is m
        with monitoring(None):
            assert current_monitor() is None
        assert current_monitor() is m
    assert current_monitor() is None


def test_a_budgeted_stage_holds_an_llm_backends_calls_to_its_caps():
    """Every stage on the user's budget (summaries, audit, public labels, relabel) builds its
    monitor here: the backend's caps and prices, the stage's progress and completion guess."""
    capped = LLMSettings(model="m", max_calls=1, max_cost_usd=0.5, input_cost_per_mtok=1.0)
    progress = Progress("s", enabled=False)
    with budgeted(progress, capped, completion_guess=7) as m:
        assert m is not None and current_monitor() is m
        assert (m.progress, m.llm, m.max_calls, m.max_cost_usd) == (progress, capped, 1, 0.5)
        assert m.completion_guess == 7
        assert [m.admit()[0], m.admit()[0]] == [True, False] and m.capped
    assert current_monitor() is None
    with budgeted(progress, LLMSettings(model="m")) as free:
        assert free is not None and free.completion_guess == 200
        assert free.max_calls is None and free.max_cost_usd is None
    with budgeted(progress, None) as none:  # a local backend: nothing to cap
        assert none is None and current_monitor() is None


def test_only_a_backend_with_llm_settings_calls_an_llm():
    class Remote:
        settings = PRICES

    class Local:
        settings = Settings()  # the run's settings, not an LLM's

    assert llm_of(Remote()) is PRICES
    assert llm_of(Local()) is None and llm_of(object()) is None


def test_the_cap_warning_is_always_said_with_the_caps_and_what_was_left(caplog):
    import logging

    m = _monitor(max_calls=2)
    with caplog.at_level(logging.INFO):
        m.say_capped("3 texts left pending")
    line = "s: stopped at the LLM budget cap (kura__llm_max_calls=2): 3 texts left pending"
    assert m.progress.lines == [line]  # progress lines are off: the warning is still said
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.WARNING, line)]


def test_a_sub_stages_spending_counts_in_its_parents_summary():
    outer, inner = _monitor(), _monitor()
    outer.finished_calls, outer.requests, outer.prompt_tokens, outer.completion_tokens = 1, 2, 30, 4
    inner.finished_calls, inner.requests, inner.prompt_tokens, inner.completion_tokens = 2, 3, 5, 6
    inner.started, inner.errors, inner.refused = 9, 1, 4
    outer.add_spent(inner)
    spent = (outer.finished_calls, outer.requests, outer.prompt_tokens, outer.completion_tokens)
    assert spent == (3, 5, 35, 10)
    assert (outer.started, outer.errors, outer.refused) == (0, 0, 0)  # its own calls only


def test_a_skipped_call_is_an_error_without_a_request():
    r = skipped_result()
    assert r.error == BUDGET_SKIP and r.attempts == 0 and is_skipped(r.error)
    assert is_skipped(BUDGET_SKIP + " (3 of 5)") and not is_skipped("timeout " + BUDGET_SKIP)
    assert not is_skipped(None)


# ---------------------------------------------------------------------------------------------
# the failure policy: a stage fails only when every row it attempted failed


def test_some_failed_rows_are_counted_not_raised():
    assert check_failures("summaries", [None, "boom", None, "bang"]) == 2
    assert check_failures("summaries", []) == 0  # nothing to do is no failure
    assert check_failures("summaries", (e for e in [None])) == 0


def test_every_row_failing_fails_the_stage_with_the_first_error():
    with pytest.raises(StageFailed) as info:
        check_failures("embeddings", ["wrong key", "down"], where="openai, m")
    e = info.value
    assert (e.stage, e.attempted, e.first_error) == ("embeddings", 2, "wrong key")
    assert str(e) == (
        "kura: 2 of 2 embeddings attempted in this run failed (openai, m); "
        "the first error: wrong key"
    )
    assert "()" not in str(StageFailed("summaries", 1, "x")) and str(
        StageFailed("summaries", 1, "x")
    ).endswith("failed; the first error: x")


def test_the_stage_failure_names_its_backend_only_when_given():
    with pytest.raises(
        StageFailed, match=r"^kura: 1 of 1 summaries attempted in this run failed; "
    ):
        check_failures("summaries", ["boom"])


def test_only_retries_failing_again_do_not_fail_the_stage():
    assert check_failures("summaries", ["a", "b"], retries=[True, True]) == 2
    with pytest.raises(StageFailed):
        check_failures("summaries", ["a", "b"], retries=[True, False])  # a new row failed too
    with pytest.raises(StageFailed):
        check_failures("summaries", ["a"], retries=None)
    assert check_failures("summaries", ["a", None], retries=[False, False]) == 1
