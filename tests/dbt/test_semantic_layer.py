"""The dbt Semantic Layer over the marts, asked through MetricFlow's own CLI (`mf`, package
dbt-metricflow) against the demo's DuckDB file: its figures are the marts' figures, a query by
cluster name never shows a hidden cluster's name, and the marts are governed (groups, access
levels, enforced contracts).

One demo build (the session's `demo_db`) serves every query; `mf` reads the semantic manifest
that build wrote (target/semantic_manifest.json) from a project folder of its own."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from .conftest import PROFILES, PROJECT, run_dbt

# the `mf` console script's own entry point, run with this interpreter (the venv's `mf`)
MF = [sys.executable, "-c", "import sys; from dbt_metricflow.cli.main import cli; sys.exit(cli())"]

PUBLIC_MARTS = {
    "kura__clusters",
    "kura__conversations",
    "kura__cluster_weekly",
    "kura__alerts",
    "kura__llm_usage",
    "kura__conversation_categories",
    "kura__cluster_facets",
    "kura__privacy_audit",
}
METRICS = {
    "conversations",
    "distinct_users",
    "share_of_conversations",
    "thumbs_up_rate",
    "avg_rating",
    "revenue_per_conversation",
    "revenue_per_user",
    "novel_share",
    "user_frustration",
    "conversations_wow_growth",
    "cumulative_conversations",
    "revenue_at_risk",
}
SAVED_QUERIES = {
    "fastest_growing_clusters",
    "worst_feedback_clusters",
    "revenue_at_risk",
    "new_this_week",
}


def _mf_project(target: Path, root: Path) -> Path:
    """A folder `mf` reads as the demo project: integration_tests' dbt_project.yml and the
    semantic manifest of a build (mf reads <project>/target/semantic_manifest.json)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "dbt_project.yml", root / "dbt_project.yml")
    (root / "target").mkdir(exist_ok=True)
    shutil.copy(target / "semantic_manifest.json", root / "target" / "semantic_manifest.json")
    return root


def _snapshot(db: Path, folder: Path) -> Path:
    """A copy of a DuckDB file for `mf`: dbt-duckdb, run in this process by the fixtures, keeps
    its connection (and so the file's lock) open. A checkpoint first writes what is still in
    the write-ahead log into the file (this process may connect: it holds the lock). The copy
    keeps the file's name, which is the database name in the manifest's relations."""
    with duckdb.connect(str(db)) as con:
        con.execute("checkpoint")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / db.name
    shutil.copy(db, copy)
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        shutil.copy(wal, copy.with_name(copy.name + ".wal"))
    return copy


def _mf(project: Path, db: Path, *args: str) -> str:
    env = {**os.environ, "DBT_PROFILES_DIR": str(PROFILES), "KURA_DUCKDB_PATH": str(db)}
    done = subprocess.run(
        [*MF, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"mf {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _query(project: Path, db: Path, *args: str) -> list[dict[str, str]]:
    out = project / "query.csv"
    _mf(project, db, "query", *args, "--csv", str(out), "--quiet")
    with out.open(newline="") as f:
        return list(csv.DictReader(f))


def _num(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


@pytest.fixture(scope="module")
def semantic(demo_db: Path, tmp_path_factory) -> tuple[Path, Path]:
    """The demo's DuckDB file and an `mf` project folder with its semantic manifest."""
    project = _mf_project(demo_db.parent / "target", tmp_path_factory.mktemp("mf"))
    return _snapshot(demo_db, project / "db"), project


def test_semantic_manifest_is_valid_and_complete(semantic):
    """`dbt parse` (inside the demo build) wrote a semantic manifest that MetricFlow validates,
    the warehouse checks included (every measure, dimension and entity queried on DuckDB)."""
    db, project = semantic
    manifest = json.loads((project / "target" / "semantic_manifest.json").read_text())
    metrics = {m["name"]: m for m in manifest["metrics"]}
    assert METRICS <= set(metrics)
    assert all(len(metrics[name]["description"]) > 40 for name in METRICS)
    growth = metrics["conversations_wow_growth"]["type_params"]["metrics"]
    assert any(m.get("offset_window") for m in growth), "growth must be derived with an offset"
    assert metrics["share_of_conversations"]["type"] == "ratio"
    assert metrics["cumulative_conversations"]["type"] == "cumulative"
    assert SAVED_QUERIES <= {q["name"] for q in manifest["saved_queries"]}
    models = {m["name"] for m in manifest["semantic_models"]}
    assert {"conversations", "clusters", "cluster_weeks", "alerts"} <= models

    out = _mf(project, db, "validate-configs")
    assert "ERRORS: 0" in out and "against data warehouse" in out, out


def test_cluster_metrics_equal_the_marts(semantic, query: Callable):
    """By base cluster: conversations, users, thumbs-up rate, rating, revenue, revenue per user
    and revenue at risk from `mf query` equal kura__clusters' columns."""
    db, project = semantic
    rows = _query(
        project,
        db,
        "--metrics",
        "conversations,distinct_users,thumbs_up_rate,avg_rating,cluster_revenue,"
        "revenue_per_user,revenue_at_risk",
        "--group-by",
        "cluster",
    )
    mart = {
        r[0]: r[1:]
        for r in query(
            db,
            "select cluster_id, size, distinct_users, thumbs_up_rate, avg_rating, revenue, "
            "revenue / nullif(distinct_users, 0), revenue * (1 - thumbs_up_rate) "
            "from kura__clusters where level = 0",
        )
    }
    # the clusters above the base ones have rows too, with no base-cluster figures
    got = {r["cluster"]: r for r in rows if r["cluster"] in mart}
    assert got.keys() == mart.keys()
    for cluster_id, (size, users, thumbs, rating, revenue, per_user, at_risk) in mart.items():
        row = got[cluster_id]
        assert int(row["conversations"]) == size and int(row["distinct_users"]) == users
        for metric, expected in [
            ("thumbs_up_rate", thumbs),
            ("avg_rating", rating),
            ("cluster_revenue", revenue),
            ("revenue_per_user", per_user),
            ("revenue_at_risk", at_risk),
        ]:
            assert _close(_num(row[metric]), expected), (cluster_id, metric, row[metric], expected)


def test_top_level_share_and_users_equal_the_marts(semantic, query: Callable):
    """By top-level cluster: conversations, distinct users and the share of conversations (a
    ratio metric) equal kura__clusters' top-level rows; revenue per conversation equals the
    average over kura__conversations."""
    db, project = semantic
    rows = _query(
        project,
        db,
        "--metrics",
        "conversations,distinct_users,share_of_conversations,revenue_per_conversation",
        "--group-by",
        "top_cluster",
    )
    mart = {
        r[0]: r[1:]
        for r in query(
            db,
            "select c.cluster_id, c.size, c.distinct_users, c.share_of_conversations, "
            "avg(coalesce(v.revenue, 0)) from kura__clusters c "
            "join kura__conversations v on v.top_cluster_id = c.cluster_id "
            "where c.parent_id is null group by all",
        )
    }
    got = {r["top_cluster"]: r for r in rows if r["top_cluster"]}
    assert got.keys() == mart.keys() and len(mart) > 1
    for cluster_id, (size, users, share, per_conversation) in mart.items():
        row = got[cluster_id]
        assert int(row["conversations"]) == size and int(row["distinct_users"]) == users
        assert _close(_num(row["share_of_conversations"]), share)
        assert _close(_num(row["revenue_per_conversation"]), per_conversation)
    assert _close(sum(float(r["share_of_conversations"]) for r in got.values()), 1.0)


def test_weekly_growth_and_cumulative_equal_the_marts(semantic, query: Callable):
    """By week and base cluster: conversations and week-over-week growth (a derived metric with
    a one-week offset) equal kura__cluster_weekly; conversations to date (cumulative) equal a
    running sum of the weekly counts."""
    db, project = semantic
    rows = _query(
        project,
        db,
        "--metrics",
        "conversations,conversations_wow_growth,cumulative_conversations",
        "--group-by",
        "metric_time__week,cluster",
    )
    weekly = query(
        db,
        "select w.cluster_id, cast(w.week_start as varchar), w.conversations, w.growth_rate, "
        "sum(w.conversations) over (partition by w.cluster_id order by w.week_start) "
        "from kura__cluster_weekly w where w.level = 0",
    )
    got = {(r["cluster"], r["metric_time__week"][:10]): r for r in rows if r["cluster"]}
    compared = 0
    for cluster_id, week, conversations, growth, to_date in weekly:
        row = got.get((cluster_id, week))
        if conversations == 0:  # MetricFlow has no row for a week without conversations
            assert row is None or _num(row["conversations"]) in (None, 0.0)
            continue
        assert int(row["conversations"]) == conversations
        assert int(row["cumulative_conversations"]) == to_date
        assert _close(_num(row["conversations_wow_growth"]), growth), (cluster_id, week)
        compared += growth is not None
    assert compared > 20, "too few weeks with growth to compare"


def test_saved_query_answers_the_readme_question(semantic, query: Callable):
    """The saved query revenue_at_risk gives what docs/marts.md's SQL gives on kura__clusters."""
    db, project = semantic
    rows = _query(
        project,
        db,
        "--saved-query",
        "revenue_at_risk",
        "--order",
        "-revenue_at_risk",
        "--limit",
        "5",
    )
    sql = query(
        db,
        "select name, revenue * (1 - thumbs_up_rate) as revenue_at_risk from kura__clusters "
        "where level = 0 and meets_privacy_threshold and thumbs_up_rate is not null "
        "order by revenue_at_risk desc limit 5",
    )
    assert [r["cluster__name"] for r in rows] == [name for name, _ in sql]
    for row, (_, at_risk) in zip(rows, sql, strict=True):
        assert _close(float(row["revenue_at_risk"]), at_risk)


def test_grouping_by_cluster_name_never_shows_a_hidden_cluster(demo_db, tmp_path, query):
    """With privacy thresholds that hide most clusters, `conversations by cluster__name`
    returns only the names of clusters that meet them; the hidden clusters' conversations are
    counted under an empty name, and none of their real names (kura__cluster_hierarchy, private
    schema) comes out."""
    db = _snapshot(demo_db, tmp_path / "thresholded")
    target = tmp_path / "target"
    thresholds = "{kura__min_cluster_users: 30, kura__min_cluster_conversations: 35}"
    run_dbt(["build", "--select", "kura__clusters+", "--vars", thresholds], db, target)
    project = _mf_project(target, tmp_path / "mf")

    rows = _query(
        project,
        _snapshot(db, project / "db"),
        "--metrics",
        "conversations",
        "--group-by",
        "cluster__name,top_cluster__name",
    )
    hidden = {
        r[0]
        for r in query(
            db,
            "select h.name from kura__cluster_hierarchy h join kura__clusters c using (cluster_id) "
            "where not c.meets_privacy_threshold",
        )
    }
    shown_sql = "select name from kura__clusters where meets_privacy_threshold"
    shown = {r[0] for r in query(db, shown_sql)}
    assert hidden and shown, "the thresholds must hide some clusters and show others"
    names = {r[key] for r in rows for key in ("cluster__name", "top_cluster__name")} - {""}
    assert names <= shown
    assert not names & hidden
    unnamed = sum(int(r["conversations"]) for r in rows if not r["cluster__name"])
    hidden_size = query(
        db,
        "select sum(size) from kura__clusters where level = 0 and not meets_privacy_threshold",
    )[0][0]
    unclustered = "select count(*) from kura__conversations where base_cluster_id is null"
    assert unnamed == hidden_size + query(db, unclustered)[0][0]


def test_public_marts_are_governed(demo_db):
    """Public marts: access public, group kura_marts (or kura_pipeline for LLM spending), an
    enforced contract with a data type on every column; the staging views private; the rest
    of the pipeline protected; the exposure kept."""
    manifest = json.loads((demo_db.parent / "target" / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in PUBLIC_MARTS:
        node = nodes[name]
        assert node["access"] == "public", name
        assert node["group"] in {"kura_marts", "kura_pipeline"}, name
        assert node["contract"]["enforced"], name
        assert node["columns"] and all(c["data_type"] for c in node["columns"].values()), name
    public = {name for name, n in nodes.items() if n["access"] == "public"}
    assert public == PUBLIC_MARTS
    assert all(n["access"] == "private" for name, n in nodes.items() if name.startswith("stg_"))
    assert nodes["int_kura__conversation_facts"]["access"] == "protected"
    assert {g["name"] for g in manifest["groups"].values()} == {"kura_pipeline", "kura_marts"}
    assert all(g["owner"]["email"] for g in manifest["groups"].values())
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert "kura_assistant_usage_dashboard" in exposures
