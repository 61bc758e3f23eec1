"""Fast unit tests of discovery (ids, lineage and names kept across re-discoveries) and of the
report's privacy folding, on in-memory data: no warehouse, no server. `make mutation` runs them
for every mutant of kura_dbt.taxonomy.discover and of the privacy code of kura_dbt.report.data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from kura_dbt.report.data import (
    ReportOptions,
    _alerts_payload,
    _chain,
    _fold_clusters,
    _place_conversations,
    _samples,
)
from kura_dbt.settings import Settings
from kura_dbt.taxonomy.discover import Discovery, Previous, _centroids, _Identify, discover

TOPICS = ["flights hotels travel", "python code error", "recipes cooking dinner"]


def _data(n: int = 20, seed: int = 1) -> tuple[list[str], np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(3, 24))
    X = np.concatenate([c + 0.05 * rng.normal(size=(n, 24)) for c in centres])
    ids = [f"c{i:03d}" for i in range(3 * n)]
    return ids, X.astype(np.float32), [t for t in TOPICS for _ in range(n)]


def _previous(d: Discovery, ids: list[str], **column) -> Previous:
    clusters = d.hierarchy.copy()
    for name, value in column.items():
        clusters[name] = value
    assignment = {c: (d.base_ids[b] if b >= 0 else None) for c, b in zip(ids, d.labels)}
    return Previous(assignment, clusters, set(clusters["cluster_id"]))


SETTINGS = Settings(n_base_clusters=3)


@pytest.fixture(scope="module")
def first() -> tuple[list[str], np.ndarray, list[str], Discovery]:
    ids, X, texts = _data()
    return ids, X, texts, discover(ids, X, texts, SETTINGS)


def test_a_first_discovery_gives_new_ids_named_clusters_and_centroids(first):
    ids, X, _, d = first
    assert len(d.base_ids) == 3 and all(b.startswith("L0-") for b in d.base_ids)
    assert sorted(d.hierarchy["name"]) == sorted(t.capitalize() for t in TOPICS)
    assert [r["relation"] for r in d.lineage] == ["new"] * 3 and d.retired == []
    assert all(r["old_cluster_id"] is None for r in d.lineage)
    assert {r["new_cluster_id"] for r in d.lineage} == set(d.base_ids)
    for b, cid in enumerate(d.base_ids):
        members = X[d.labels == b] / np.linalg.norm(X[d.labels == b], axis=1, keepdims=True)
        centre = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
        np.testing.assert_allclose(d.centroid_of[cid], centre, atol=2e-6)
        assert np.linalg.norm(d.centroid_of[cid]) == pytest.approx(1.0, abs=1e-5)
    assert d.radii.shape == (3,) and (d.radii > 0).all()
    assert d.centroids.shape == (3, 24)  # the clusterer's, to assign to at the next build
    assert (d.nearest == d.labels).all() and (d.distance < 0.05).all()


def test_a_rediscovery_of_the_same_data_keeps_ids_and_names_without_the_labeller(first):
    ids, X, texts, d = first
    # stale names under label keys that match nothing: only inheritance can bring them back
    previous = _previous(d, ids, name=["OLD A", "OLD B", "OLD C"], label_key=["x", "y", "z"])
    again = discover(ids, X, texts, SETTINGS, previous)
    assert again.base_ids == d.base_ids
    assert list(again.hierarchy["name"]) == ["OLD A", "OLD B", "OLD C"]
    assert list(again.hierarchy["label_key"]) == ["x", "y", "z"]
    assert [(r["relation"], r["overlap"]) for r in again.lineage] == [("same", 1.0)] * 3
    assert [r["old_cluster_id"] for r in again.lineage] == d.base_ids
    assert again.retired == []


@pytest.mark.parametrize(
    "change",
    [
        {"label_error": [False, True, False]},  # its naming failed: asked again
        {"labeller": ["local", "openai", "local"]},  # another labeller named it
        {"name": ["OLD A", None, "OLD C"]},  # no name to keep
    ],
)
def test_a_name_is_kept_only_from_the_same_labeller_without_error(first, change):
    ids, X, texts, d = first
    columns = {"name": ["OLD A", "OLD B", "OLD C"], "label_key": ["x", "y", "z"], **change}
    again = discover(ids, X, texts, SETTINGS, _previous(d, ids, **columns))
    names = list(again.hierarchy["name"])
    assert names[0] == "OLD A" and names[2] == "OLD C"
    assert names[1] == d.hierarchy["name"].iloc[1]  # named again by the labeller
    assert again.base_ids == d.base_ids  # the id is kept all the same


def test_the_name_is_kept_from_keep_name_min_overlap_on(first):
    ids, X, texts, d = first
    # 6 of the first cluster's 20 were recorded under the second: overlap 14/20 = 0.7
    moved = [c for c, b in zip(ids, d.labels) if b == 0][:6]
    previous = _previous(d, ids, name=["OLD A", "OLD B", "OLD C"], label_key=["x", "y", "z"])
    for c in moved:
        previous.assignment[c] = d.base_ids[1]
    kept = discover(ids, X, texts, Settings(n_base_clusters=3, keep_name_min_overlap=0.7), previous)
    assert kept.base_ids[0] == d.base_ids[0] and kept.hierarchy["name"].iloc[0] == "OLD A"
    asked = discover(
        ids, X, texts, Settings(n_base_clusters=3, keep_name_min_overlap=0.71), previous
    )
    assert asked.base_ids[0] == d.base_ids[0] and asked.hierarchy["name"].iloc[0] != "OLD A"
    same = [r for r in asked.lineage if r["relation"] == "same"]
    assert [round(r["overlap"], 2) for r in same][:1] == [0.7]


def test_a_level_no_longer_built_retires_its_clusters(first):
    ids, X, texts, d = first
    previous = _previous(d, ids)
    top = pd.DataFrame([{"cluster_id": "L1-old", "level": 1, "parent_id": None, "name": "Old top"}])
    previous.clusters = pd.concat([previous.clusters, top], ignore_index=True)
    previous.clusters.loc[previous.clusters["level"] == 0, "parent_id"] = "L1-old"
    again = discover(ids, X, texts, SETTINGS, previous)
    assert again.retired == ["L1-old"]
    assert {
        "level": 1,
        "old_cluster_id": "L1-old",
        "new_cluster_id": None,
        "relation": "retired",
        "overlap": 0.0,
        "shared_conversations": 0,
    } in again.lineage


def test_noise_has_no_centroid_and_parents_average_all_their_conversations():
    X = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    hierarchy = pd.DataFrame({"cluster_id": ["B1", "B2", "T"], "parent_id": ["T", "T", None]})
    centroids = _centroids(
        X / np.linalg.norm(X, axis=1, keepdims=True), [0, 0, 1, -1], hierarchy, ["B1", "B2"]
    )
    assert set(centroids) == {"B1", "B2", "T"}
    assert centroids["B1"] == [1.0, 0.0] and centroids["B2"] == [0.0, 1.0]
    assert centroids["T"] == pytest.approx([2 / np.sqrt(5), 1 / np.sqrt(5)], abs=1e-6)


def test_previous_clusters_are_read_at_each_level():
    clusters = pd.DataFrame(
        {
            "cluster_id": ["B1", "B2", "T1", "R1"],
            "level": [0, 0, 1, 0],
            "parent_id": ["T1", None, None, None],
        }
    )
    previous = Previous(
        {"a": "B1", "b": "B2", "c": None, "r": "R1", "g": "GONE", "t": "T1"}, clusters
    )
    ids = ["a", "b", "c", "x", "g", "t"]
    assert previous.ancestors_at(0, ids) == ["B1", "B2", None, None, None, None]
    assert previous.ancestors_at(1, ids) == ["T1", None, None, None, None, "T1"]
    assert previous.ancestors_at(2, ids) == [None] * 6
    assert previous.ids_at(0) == ["B1", "B2", "R1"] and previous.ids_at(1) == ["T1"]
    assert Previous().ancestors_at(0, ids) == [None] * 6 and Previous().ids_at(0) == []


def test_member_means_are_the_current_base_clusters_centres_in_todays_space():
    clusters = pd.DataFrame(
        {"cluster_id": ["B1", "B2", "B3"], "level": [0, 0, 0], "parent_id": [None] * 3}
    )
    previous = Previous({"a": "B2", "b": "B1", "c": "B1", "d": "GONE"}, clusters)
    X = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 4.0], [9.0, 9.0]])
    means = previous.member_means(["a", "b", "c", "d"], X)
    np.testing.assert_allclose(means, [[0.0, 3.0], [1.0, 0.0]])  # by id; B3 has no member
    assert Previous(clusters=clusters).member_means(["a"], X[:1]) is None
    assert Previous({"a": "GONE"}, clusters).member_means(["a"], X[:1]) is None


# ---------------------------------------------------------------------------------------------
# privacy in the report: what is below the thresholds is folded, with counts only


def _cluster(cid, level, parent, size, users=5, flag=True, **kw):
    return {
        "cluster_id": cid,
        "level": level,
        "parent_id": parent,
        "size": size,
        "distinct_users": users,
        "meets_privacy_threshold": flag,
        "name": f"name of {cid}",
        **kw,
    }


CLUSTERS = [
    _cluster("T1", 1, None, 30),
    _cluster("T2", 1, None, 3, users=1, flag=False),
    _cluster("A", 0, "T1", 20),
    _cluster("B", 0, "T1", 6, users=2),
    _cluster("C", 0, "T1", 4, users=1, flag=False),
    _cluster("D", 0, "T2", 3, users=1, flag=False),
    _cluster("E", 0, "T1", 0, users=0, flag=True),  # a pinned category with no member yet
]


def test_the_marts_flag_and_the_reports_thresholds_decide_what_is_shown():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    assert tree.visible == {
        "T1": True,
        "T2": False,
        "A": True,
        "B": True,
        "C": False,
        "D": False,  # its parent is hidden
        "E": True,
    }
    strict = _fold_clusters(CLUSTERS, ReportOptions(min_cluster_conversations=6))
    assert strict.visible["B"] and strict.visible["E"] and not strict.visible["C"]
    strict = _fold_clusters(CLUSTERS, ReportOptions(min_cluster_conversations=7))
    assert not strict.visible["B"] and strict.visible["E"]  # zero members: nothing to hide
    strict = _fold_clusters(CLUSTERS, ReportOptions(min_cluster_users=2))
    assert strict.visible["B"]
    strict = _fold_clusters(CLUSTERS, ReportOptions(min_cluster_users=3))
    assert not strict.visible["B"] and strict.hidden == 4


def test_an_old_mart_without_the_flag_leaves_the_decision_to_the_report():
    clusters = [_cluster("T", 1, None, 9, flag=None), _cluster("X", 0, "T", 2, flag=None)]
    tree = _fold_clusters(clusters, ReportOptions(min_cluster_conversations=3))
    assert tree.visible == {"T": True, "X": False}
    orphan = [_cluster("Y", 0, "missing", 50)]
    assert _fold_clusters(orphan, ReportOptions()).visible == {"Y": False}


def test_hidden_clusters_fold_into_one_other_node_per_parent_and_level_with_counts_only():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    assert tree.node_of == {
        "T1": "T1",
        "T2": "other:top:L1",
        "A": "A",
        "B": "B",
        "C": "other:T1:L0",
        "D": "other:top:L1",  # under the hidden T2: the bucket of its highest hidden ancestor
        "E": "E",
    }
    top = tree.nodes["other:top:L1"]
    assert (top["name"], top["clusters"], top["size"], top["kind"]) == (
        "Other (1 small cluster)",
        1,
        3,
        "other",
    )
    assert "description" not in top and "keywords" not in top
    assert tree.nodes["T1"]["children"] == ["A", "B", "E", "other:T1:L0"]
    assert tree.roots == ["T1", "other:top:L1"] and tree.hidden == 3
    assert not any(k in tree.nodes for k in ("C", "D", "T2"))
    two = _fold_clusters(CLUSTERS + [_cluster("F", 0, "T1", 2, flag=False)], ReportOptions())
    assert two.nodes["other:T1:L0"]["name"] == "Other (2 small clusters)"
    assert two.nodes["other:T1:L0"]["size"] == 6


def _conversation(cid, base, user, summary="s", **kw):
    return {
        "conversation_id": cid,
        "base_cluster_id": base,
        "user_id": user,
        "summary": summary,
        "x": 1.0,
        "y": 2.0,
        **kw,
    }


def _rows(placed) -> list[list]:
    """What the report writes of each map point: x, y, the node it is shown as and its summary
    (through the search list's index; None when not shown)."""
    return [
        [p.x, p.y, p.node, placed.search[p.text][0] if p.text >= 0 else None]
        for p in placed.map_points
    ]


def test_no_summary_of_a_hidden_cluster_is_placed_and_its_users_are_counted():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    conversations = [
        _conversation("1", "A", "u1", "visible text", distance_to_centroid=0.2),
        _conversation("2", "C", "u2", "SECRET c"),
        _conversation("3", "C", None, "SECRET c2"),
        _conversation("4", "D", "u2", "SECRET d"),
        _conversation("5", None, "u3", None),
        _conversation("6", "A", "u4", None, x=None),
    ]
    placed = _place_conversations(conversations, tree)
    assert "SECRET" not in json.dumps([_rows(placed), placed.search])
    assert placed.search == [["visible text", "A"]]
    assert [p[2] for p in _rows(placed)] == [
        "A",
        "other:T1:L0",
        "other:T1:L0",
        "other:top:L1",
        "__unclustered__",
    ]
    assert (placed.summarised, placed.unclustered) == (4, 1)
    assert tree.nodes["other:T1:L0"]["users"] == 2  # u2, and conversation 3 on its own
    assert tree.nodes["other:top:L1"]["users"] == 1
    assert set(placed.facets) == {"A", "T1"}  # aggregates for visible clusters only
    assert list(placed.per_base) == ["A"]


def test_samples_come_only_from_visible_base_clusters_closest_first():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    per_base = {
        "A": [
            {"conversation_id": "a2", "summary": "a far", "distance_to_centroid": 0.5},
            {"conversation_id": "a1", "summary": "a near", "distance_to_centroid": 0.1},
            {"conversation_id": "a0", "summary": "a unknown", "distance_to_centroid": None},
        ],
        "B": [{"conversation_id": "b1", "summary": "b near", "distance_to_centroid": 0.3}],
        "C": [{"conversation_id": "c1", "summary": "SECRET", "distance_to_centroid": 0.0}],
    }
    assert _samples("T1", tree, per_base, 10) == ["a near", "b near", "a far", "a unknown"]
    assert _samples("T1", tree, per_base, 2) == ["a near", "b near"]
    assert _samples("C", tree, per_base, 10) == []


def test_an_alert_about_a_hidden_cluster_loses_its_name_and_points_at_its_other_node():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    alert = {
        "alert_id": 1,
        "alert_type": "cluster_surge",
        "cluster_id": "C",
        "message": "name of C surged",
        "week_start": "2026-01-05",
        "observed": 9,
        "expected": 2.5,
        "statistic": 3.25,
        "is_current": True,
    }
    hidden, shown = _alerts_payload(
        [alert, {**alert, "cluster_id": "A", "message": "A surged"}], tree.visible, tree.node_of
    )
    assert hidden["node"] == "other:T1:L0" and "name of C" not in hidden["message"]
    assert hidden["message"] == (
        "Surge in a cluster below the privacy thresholds (C) in the week of 2026-01-05: "
        "observed 9, expected 2.5; z = 3.2"
    )
    assert shown["node"] == "A" and shown["message"] == "A surged" and shown["current"]
    facet = {**alert, "alert_type": "facet_shift", "facet": "language", "direction": "up"}
    facet.update(expected=None, statistic=None)
    assert _alerts_payload([facet], tree.visible, tree.node_of)[0]["message"].startswith(
        "Facet shift (language, up) in a cluster below the privacy thresholds (C)"
    )
    assert _alerts_payload([facet], tree.visible, tree.node_of)[0]["message"].endswith(
        ": observed 9"
    )
    unknown = {**alert, "cluster_id": "gone"}
    assert _alerts_payload([unknown], tree.visible, tree.node_of)[0]["node"] is None
    assert "name of" not in _alerts_payload([unknown], tree.visible, tree.node_of)[0]["message"]


def test_a_cluster_whose_users_are_unknown_is_hidden():
    clusters = [_cluster("T", 1, None, 30), _cluster("U", 0, "T", 9, users=None)]
    assert _fold_clusters(clusters, ReportOptions()).visible == {"T": True, "U": False}


def test_a_cycle_of_parents_ends_the_chain():
    by_id = {"A": {"parent_id": "B"}, "B": {"parent_id": "A"}, "C": {"parent_id": "A"}}
    assert _chain(by_id, "C") == ["C", "A", "B"]


def test_an_other_node_is_exactly_its_counts():
    clusters = CLUSTERS + [
        _cluster("F", 0, "T1", 2, flag=False),
        _cluster("G", 0, "T1", None, flag=False),  # no size known: counts as none
    ]
    tree = _fold_clusters(clusters, ReportOptions())
    assert tree.nodes["other:T1:L0"] == {
        "id": "other:T1:L0",
        "kind": "other",
        "level": 0,
        "parent": "T1",
        "top": None,
        "clusters": 3,
        "size": 6,
        "users": 0,
        "children": [],
        "name": "Other (3 small clusters)",
    }


def test_every_conversation_is_placed_once_with_its_coordinates():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    conversations = [
        _conversation("1", "ZZ", "u1", None, x=0.5, y=-1.5),  # a cluster the marts lack
        _conversation("2", None, "u1", None, x=None),  # unclustered, off the map
        _conversation("3", "A", "u2", "text 3", x=3.25, y=4.5),
        _conversation("4", "C", "u3", "SECRET", x=-2.0, y=7.0),
        _conversation("5", "C", "u3", "SECRET", x=-1.0, y=8.0),  # the same user again
        _conversation("6", "C", "u4", "SECRET", x=0.0, y=0.0),
    ]
    placed = _place_conversations(conversations, tree)
    assert _rows(placed) == [
        [0.5, -1.5, "__unclustered__", None],
        [3.25, 4.5, "A", "text 3"],
        [-2.0, 7.0, "other:T1:L0", None],
        [-1.0, 8.0, "other:T1:L0", None],
        [0.0, 0.0, "other:T1:L0", None],
    ]
    assert placed.unclustered == 2 and placed.per_base == {"A": [conversations[2]]}
    assert tree.nodes["other:T1:L0"]["users"] == 2  # u3 once, u4
    assert tree.nodes["A"]["users"] == 5  # a visible cluster keeps the marts' count


def test_facets_aggregate_every_conversation_of_each_visible_cluster_and_its_parents():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    conversations = [
        _conversation("1", "A", "u", languages='["en", "fr"]', flags='["pii"]', turn_count=2),
        _conversation("2", "A", "u", languages='["en"]', flags="[]", turn_count=2),
        _conversation("3", "C", "u", languages='["de"]', flags='["pii"]', turn_count=30),
        _conversation("4", "B", "u", languages=None, flags=None, turn_count=None),
    ]
    facets = _place_conversations(conversations, tree).facets
    assert facets["A"] == {
        "languages": {"en": 2, "fr": 1},
        "flags": {"pii": 1},
        "turns": {"1-2": 2},
    }
    assert facets["T1"] == {
        "languages": {"en": 2, "fr": 1, "de": 1},  # the hidden C's conversation, counted only
        "flags": {"pii": 2},
        "turns": {"1-2": 2, "21+": 1},
    }
    assert facets["B"] == {"languages": {}, "flags": {}, "turns": {}}
    assert "C" not in facets


def test_samples_take_turns_from_the_largest_base_cluster_each_closest_first():
    clusters = [
        _cluster("T", 1, None, 15),
        _cluster("Y", 0, "T", 5),
        _cluster("Z", 0, "T", 10),  # larger, though later by id
    ]
    tree = _fold_clusters(clusters, ReportOptions())
    per_base = {
        "Z": [
            {"conversation_id": "z1", "summary": "z far", "distance_to_centroid": 0.5},
            {"conversation_id": "z2", "summary": "z near", "distance_to_centroid": 0.1},
        ],
        "Y": [{"conversation_id": "y1", "summary": "y", "distance_to_centroid": 0.3}],
    }
    assert _samples("T", tree, per_base, 8) == ["z near", "y", "z far"]
    assert _samples("T", tree, per_base, 1) == ["z near"]
    assert _samples("Y", tree, per_base, 8) == ["y"]


def test_an_alert_is_shown_with_every_field_the_page_reads():
    tree = _fold_clusters(CLUSTERS, ReportOptions())
    alert = {
        "alert_id": "a1",
        "alert_type": "unassigned_share_rising",
        "severity": "warning",
        "cluster_id": None,
        "message": None,
        "week_start": "2026-01-05",
        "is_current": 0,
        "facet": None,
        "direction": "up",
        "statistic": 2.5,
        "p_value": 0.01,
    }
    assert _alerts_payload([alert], tree.visible, tree.node_of) == [
        {
            "id": "a1",
            "type": "unassigned_share_rising",
            "label": "Unassigned share rising",
            "severity": "warning",
            "week": "2026-01-05",
            "current": False,
            "node": None,
            "facet": None,
            "direction": "up",
            "statistic": 2.5,
            "p_value": 0.01,
            "message": "",
        }
    ]
    facet = {**alert, "cluster_id": "A", "facet": "language", "message": "A shifted"}
    [shown] = _alerts_payload([facet], tree.visible, tree.node_of)
    assert (shown["node"], shown["facet"], shown["message"]) == ("A", "language", "A shifted")


# ---------------------------------------------------------------------------------------------
# one level's ids, names and lineage (what discovery asks for each level of the hierarchy)


def _old(rows: list[tuple], assignment: dict[str, str | None]) -> Previous:
    clusters = pd.DataFrame(
        rows,
        columns=["cluster_id", "level", "parent_id", "name", "description", "keywords"],
    )
    clusters["labeller"], clusters["label_key"], clusters["label_error"] = "local", "k", False
    return Previous(assignment, clusters, set(clusters["cluster_id"]))


def test_a_level_keeps_ids_and_names_and_records_every_lineage_row():
    ids = ["a", "b", "c", "d", "e", "f"]
    previous = _old(
        [
            ("A", 0, None, "Old A", "about A", '["ka"]'),
            ("Z", 0, None, "Old Z", None, None),  # no conversation left in it
        ],
        {"a": "A", "b": "A", "c": "A", "d": "A", "e": "A", "f": None},
    )
    identify = _Identify(ids, previous, Settings(), "local")
    # e is in no cluster of this level (noise): it does not count towards either side
    out = identify(0, [np.array([0, 1, 2, 3]), np.array([5])])
    (kept_id, label, key), (new_id, new_label, new_key) = out
    assert kept_id == "A" and key == "k"
    assert (label.name, label.description, label.keywords) == ("Old A", "about A", ["ka"])
    assert new_id.startswith("L0-") and new_label is None and new_key is None
    assert identify.retired == ["Z"]
    assert identify.lineage == [
        {
            "level": 0,
            "old_cluster_id": "A",
            "new_cluster_id": "A",
            "relation": "same",
            "overlap": 1.0,  # over what both runs clustered: e, now noise, does not dilute it
            "shared_conversations": 4,
        },
        {
            "level": 0,
            "old_cluster_id": "Z",
            "new_cluster_id": None,
            "relation": "retired",
            "overlap": 0.0,
            "shared_conversations": 0,
        },
        {
            "level": 0,
            "old_cluster_id": None,
            "new_cluster_id": new_id,
            "relation": "new",
            "overlap": 0.0,
            "shared_conversations": 0,
        },
    ]
    # ids are never reused: the new one is taken for the next level's clusters
    assert {"A", "Z", new_id} <= identify.taken


def test_a_kept_name_without_description_or_keywords_gets_empty_ones():
    previous = _old([("A", 0, None, "Old A", None, None)], {"a": "A", "b": "A"})
    [(cid, label, _)] = _Identify(["a", "b"], previous, Settings(), "local")(0, [np.arange(2)])
    assert cid == "A" and (label.name, label.description, label.keywords) == ("Old A", "", [])


def test_the_match_min_overlap_setting_decides_which_clusters_keep_their_id():
    previous = _old([("A", 0, None, "Old A", None, None)], {c: "A" for c in "abcd"})
    members = [np.array([0, 1, 2]), np.array([3])]  # 3 of A's 4: overlap 0.75
    loose = _Identify(list("abcd"), previous, Settings(match_min_overlap=0.75), "local")
    assert loose(0, members)[0][0] == "A"
    strict = _Identify(list("abcd"), previous, Settings(match_min_overlap=0.8), "local")
    assert strict(0, members)[0][0] != "A" and strict.retired == ["A"]


def test_a_rediscovery_starts_from_the_clusters_that_hold():
    # four groups on a circle: two clusters can pair them either way round at the same cost;
    # the previous pairing is kept (k-means starts from its clusters), not a fresh one's
    angles = np.repeat([0.0, 0.5, 1.0, 1.5], 15) * np.pi + np.tile(np.linspace(-0.1, 0.1, 15), 4)
    X = np.zeros((60, 8))
    X[:, 0], X[:, 1] = np.cos(angles), np.sin(angles)
    ids = [f"c{i:02d}" for i in range(60)]
    texts = ["east", "north", "west", "south"]
    texts = [t for t in texts for _ in range(15)]
    settings = Settings(n_base_clusters=2)
    cold = discover(ids, X, texts, settings)
    group = np.repeat([0, 1, 2, 3], 15)
    pairs = {frozenset(group[cold.labels == b].tolist()) for b in range(2)}
    other_way = [{0, 1}, {2, 3}] if frozenset({1, 2}) in pairs else [{1, 2}, {3, 0}]
    assignment = {c: ("P" if g in other_way[0] else "Q") for c, g in zip(ids, group)}
    previous = _old([("P", 0, None, "P", None, None), ("Q", 0, None, "Q", None, None)], assignment)
    warm = discover(ids, X, texts, settings, previous)
    assert sorted(warm.base_ids) == ["P", "Q"] and warm.retired == []
    assert {frozenset(group[warm.labels == b].tolist()) for b in range(2)} == {
        frozenset(other_way[0]),
        frozenset(other_way[1]),
    }


def test_a_zero_mean_centroid_stays_zero_and_centroids_keep_six_decimals():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.6, 0.8]])
    hierarchy = pd.DataFrame({"cluster_id": ["B1", "B2"], "parent_id": [None, None]})
    centroids = _centroids(X, np.array([0, 0, 1]), hierarchy, ["B1", "B2"])
    assert centroids["B1"] == [0.0, 0.0]  # members that cancel out: no direction, not NaN
    third = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]) / 1.0
    [(cid, values)] = _centroids(third, np.zeros(3, dtype=int), hierarchy[:1], ["B1"]).items()
    assert values == [round(1 / np.sqrt(5), 6), round(2 / np.sqrt(5), 6)]


def test_max_top_clusters_groups_the_base_clusters_under_fewer_parents(first):
    ids, X, texts, d = first
    grouped = discover(ids, X, texts, Settings(n_base_clusters=3, max_top_clusters=2))
    top = grouped.hierarchy[grouped.hierarchy["parent_id"].isna()]
    assert len(top) <= 2 and set(grouped.hierarchy["level"]) == {0, 1}


class _Fixed(BaseEstimator):
    """A clusterer (the registry's interface) that returns the labels it is given: a member
    nearer another cluster's centre than its own, and noise."""

    def __init__(self, labels=None, centers=None):
        self.labels, self.centers = labels, centers

    def fit(self, X):
        self.labels_, self.cluster_centers_ = np.asarray(self.labels), np.asarray(self.centers)
        self.radii_ = np.full(len(self.centers), 0.5)
        return self


def test_a_member_is_measured_to_its_own_centroid_and_noise_to_the_nearest(monkeypatch):
    import sys

    from kura_dbt.registry import Registry

    discovery = sys.modules["kura_dbt.taxonomy.discover"]

    X = np.array([[1.0, 0.1], [1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [0.1, 1.0], [0.2, 1.0]])
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # embeddings are unit vectors
    labels = [-1, 1, 0, 1, 1, 0]  # rows 1 and 5 are in the cluster of the other centre
    fixed: Registry = Registry("clusterer")
    fixed.register("kmeans")(lambda s: _Fixed(labels, [[1.0, 0.0], [0.0, 1.0]]))
    monkeypatch.setattr(discovery, "CLUSTERERS", fixed)
    d = discover([f"c{i}" for i in range(6)], X, ["a"] * 6, SETTINGS)
    to_first, to_second = 1 - X[:, 0], 1 - X[:, 1]
    assert d.nearest[:2].tolist() == [0, 0]
    assert d.distance[0] == pytest.approx(to_first[0], abs=1e-6)  # noise: its nearest centroid
    assert d.distance[1] == pytest.approx(to_second[1], abs=1e-6)  # its own, not the nearest
    assert d.distance[5] == pytest.approx(to_first[5], abs=1e-6)  # label 0 is a member too
