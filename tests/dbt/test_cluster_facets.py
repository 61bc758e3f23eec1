"""kura__cluster_facets on the demo: every figure recomputed in pandas from kura__conversations
and kura__clusters, and the report shows the mart's figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scipy.stats import hypergeom

from kura_dbt.report import load_report_data

from .conftest import SEARCH_PATH

FIGURES = [
    "conversations",
    "distinct_users",
    "share_in_cluster",
    "share_overall",
    "lift",
    "z_score",
]


def _frame(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db)) as con:
        con.execute(f"set search_path = '{SEARCH_PATH}'")
        return con.execute(sql).df()


def _feedback(rate: float | None) -> str:
    if rate is None or math.isnan(rate):
        return "none"
    return {1.0: "thumbs up", 0.0: "thumbs down"}.get(rate, "mixed")


def _languages(languages: str | None) -> list[str]:
    return sorted(set(json.loads(languages) if languages else [])) or ["unknown"]


def expected_cells(db: Path) -> pd.DataFrame:
    """Each (cluster at any level, facet, value) from the row-level mart, with x, users, n, K, N,
    the shares, the lift, the pooled two-proportion z of the cluster against the rest and
    scipy's exact hypergeometric P(X >= x)."""
    conversations = _frame(
        db,
        "select conversation_id, user_id, base_cluster_id, languages, thumbs_up_rate, created_at "
        "from kura__conversations where base_cluster_id is not null",
    )
    parents = dict(_frame(db, "select cluster_id, parent_id from kura__clusters").values)
    values = pd.DataFrame(
        {
            "conversation_id": conversations["conversation_id"],
            "user_id": conversations["user_id"],
            "language": [_languages(v) for v in conversations["languages"]],
            "feedback": [_feedback(r) for r in conversations["thumbs_up_rate"]],
            "week": [
                (t.normalize() - pd.Timedelta(days=t.weekday())).strftime("%Y-%m-%d")
                for t in conversations["created_at"]
            ],
        }
    ).melt(id_vars=["conversation_id", "user_id"], var_name="facet", value_name="facet_value")
    values = values.explode("facet_value")  # a conversation counts once per language it uses
    chains = []
    for cid, base in zip(conversations["conversation_id"], conversations["base_cluster_id"]):
        while base is not None:
            chains.append((cid, base))
            base = parents.get(base)
    members = values.merge(pd.DataFrame(chains, columns=["conversation_id", "cluster_id"]))
    cells = (
        members.groupby(["cluster_id", "facet", "facet_value"])
        .agg(conversations=("conversation_id", "size"), distinct_users=("user_id", "nunique"))
        .reset_index()
    )
    n = members.groupby("cluster_id")["conversation_id"].nunique().rename("n").reset_index()
    k = values.groupby(["facet", "facet_value"]).size().rename("k").reset_index()
    cells = cells.merge(n).merge(k)
    total = len(conversations)
    cells["share_in_cluster"] = cells["conversations"] / cells["n"]
    cells["share_overall"] = cells["k"] / total
    cells["lift"] = cells["share_in_cluster"] / cells["share_overall"]
    rest_x, rest_n = cells["k"] - cells["conversations"], total - cells["n"]
    pooled = cells["k"] / total
    se = (pooled * (1 - pooled) * (1 / cells["n"] + 1 / rest_n)) ** 0.5
    z = (cells["share_in_cluster"] - rest_x / rest_n) / se
    cells["z_score"] = z.where((rest_n > 0) & (se > 0))
    cells["p_exact"] = hypergeom.sf(cells["conversations"] - 1, total, cells["k"], cells["n"])
    return cells


def test_shares_lifts_and_z_equal_pandas_from_kura_conversations(demo_db):
    expected = expected_cells(demo_db)
    mart = _frame(
        demo_db,
        "select * from kura__cluster_facets where facet in ('language', 'feedback', 'week')",
    )
    # the demo's thresholds are 1 and 1: every cell is shown, none folded
    assert mart["facet_value"].notna().all() and mart["meets_privacy_threshold"].all()
    keys = ["cluster_id", "facet", "facet_value"]
    both = expected.merge(mart, on=keys, how="outer", suffixes=("_pandas", "_mart"), indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"][keys]
    for figure in FIGURES:
        pd.testing.assert_series_equal(
            both[f"{figure}_mart"].astype(float),
            both[f"{figure}_pandas"].astype(float),
            check_names=False,
            # z: kura.two_proportion_z computes in dbt.type_float(), single precision on DuckDB
            rtol=1e-5 if figure == "z_score" else 1e-12,
        )
    # the p-value is scipy's exact hypergeometric tail where the count is the largest possible,
    # never below it elsewhere, and within 10% of it wherever it is significant
    p, exact = both["p_value"], both["p_exact"]
    extreme = both["conversations_mart"] >= both[["n", "k"]].min(axis=1)
    assert ((p - exact).abs() <= 1e-4 * exact)[extreme].all()
    assert (p >= exact * (1 - 1e-6)).all()
    assert (p <= exact * 1.1)[exact < 0.05].all()
    # the worked question of docs/marts.md: the coding cluster over-represents Python, beyond
    # chance (the demo is in English; its OpenAssistant chats bring the programming languages)
    python = mart[(mart["facet"] == "language") & (mart["facet_value"] == "python")]
    best = python.sort_values("lift").iloc[-1]
    assert best["lift"] > 5 and best["p_value_bonferroni"] < 0.001, best


def test_the_report_shows_the_marts_over_representation(demo_db):
    nodes = load_report_data(demo_db).payload["nodes"]
    mart = _frame(
        demo_db,
        "select * from kura__cluster_facets where meets_privacy_threshold and lift > 1",
    ).set_index(["cluster_id", "facet", "facet_value"])
    shown = [(cid, n["over_represented"]) for cid, n in nodes.items() if n.get("over_represented")]
    assert len(shown) == len(nodes)  # every cluster over-represents something (weeks at least)
    for cid, rows in shown:
        assert 0 < len(rows) <= 12
        assert [r["lift"] for r in rows] == sorted((r["lift"] for r in rows), reverse=True)
        for r in rows:
            m = mart.loc[(cid, r["facet"], r["value"])]
            assert (r["conversations"], r["share"], r["overall_share"], r["lift"]) == (
                m["conversations"],
                m["share_in_cluster"],
                m["share_overall"],
                m["lift"],
            )
            assert r["p_bonferroni"] == pytest.approx(m["p_value_bonferroni"], nan_ok=True)
        # the rows are the cluster's top values by lift in the mart
        top = mart.loc[cid].sort_values("lift", ascending=False).head(len(rows))["lift"].tolist()
        assert [r["lift"] for r in rows] == top
