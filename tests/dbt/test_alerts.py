"""kura__alerts, built by dbt on DuckDB.

The fast tests write the marts that kura__alerts reads (kura__conversations, kura__clusters,
kura__cluster_runs, kura__cluster_lineage) as fixed tables with constructed weekly series, and
run `dbt build --select kura__alerts` (the model, its data tests and the warn-level tests that
report the current alerts). The last test runs the whole pipeline on the sample conversations,
arranged so that one kind of conversation surges in the last week and conversations unlike any
cluster arrive after the discovery.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from .conftest import REPO, run_dbt

SEEDS = REPO / "seeds"

WEEK0 = pd.Timestamp("2026-08-03")  # a Monday
WEEKS = 8
LATEST = (WEEK0 + pd.Timedelta(weeks=WEEKS - 1)).date()

# two top-level clusters of three base clusters each, and a base cluster with no parent
HIERARCHY = {
    "L1-top1": None,
    "L1-top2": None,
    "L0-a": "L1-top1",
    "L0-b1": "L1-top1",
    "L0-b2": "L1-top1",
    "L0-b3": "L1-top2",
    "L0-b4": "L1-top2",
    "L0-c": "L1-top2",
    "L0-solo": None,
}
HIDDEN = {"L0-c"}  # below the privacy thresholds: no name anywhere in the alerts
RATES = {"L0-a": 10, "L0-b1": 40, "L0-b2": 40, "L0-b3": 40, "L0-b4": 40, "L0-c": 60, "L0-solo": 30}
NOVEL_SHARE = 0.05  # = 1 - kura__assign_radius_quantile: what fits no cluster on a quiet week
ALERT_VARS = "{kura__alerts_baseline_weeks: 4, kura__alerts_false_alarm_rate: 0.05}"


def _top(cluster_id: str) -> str:
    parent = HIERARCHY[cluster_id]
    return cluster_id if parent is None else _top(parent)


def _write_marts(
    db: Path,
    seed: int,
    weeks: int = WEEKS,
    last_week_rates: dict[str, int] | None = None,
    last_week_novel_share: float = NOVEL_SHARE,
    frustrated: str | None = None,
    rediscovered: str | None = None,
) -> None:
    """``weeks`` weeks of Poisson counts per base cluster at RATES (the last week at
    ``last_week_rates``), weeks 1-3 discovered and the later ones assigned with novel conversations
    at NOVEL_SHARE (the last week at ``last_week_novel_share``); ``frustrated``'s conversations
    are frustrated in the last week; ``rediscovered`` is new at a re-discovery in the last week.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for week in range(weeks):
        last = week == weeks - 1
        rates = {**RATES, **(last_week_rates or {})} if last else RATES
        start = WEEK0 + pd.Timedelta(weeks=week)
        for base, rate in rates.items():
            for _ in range(rng.poisson(rate)):
                rows.append((start, base, week))
        assessed = week >= 3
        if assessed:  # conversations that fit no cluster, among those assigned after discovery
            clustered = sum(1 for r in rows if r[2] == week)
            share = last_week_novel_share if last else NOVEL_SHARE
            novel = rng.binomial(round(clustered / (1 - share)), share)
            rows.extend((start, None, week) for _ in range(novel))
    records = []
    for i, (start, base, week) in enumerate(rows):
        frustration = float(rng.integers(1, 4))  # 1-3 on an ordinary week
        if frustrated is not None and base == frustrated and week == weeks - 1:
            frustration = float(rng.integers(3, 6))
        thumbs = float(rng.random() < 0.7) if rng.random() < 0.5 else None
        records.append(
            {
                "conversation_id": f"c{i:05d}",
                "created_at": start + pd.Timedelta(seconds=int(rng.integers(0, 7 * 86400))),
                "base_cluster_id": base,
                "top_cluster_id": _top(base) if base else None,
                "is_unclustered": base is None,
                "assignment_status": (
                    ("assigned" if base else "novel") if week >= 3 else "discovered"
                ),
                "user_frustration": frustration if base else None,
                "concerning_score": None,  # a facet the summariser does not judge
                "thumbs_up_rate": thumbs,
                "avg_rating": None,
            }
        )
    conversations = pd.DataFrame(records)
    for column in ("user_frustration", "concerning_score", "thumbs_up_rate", "avg_rating"):
        conversations[column] = conversations[column].astype("Float64")

    sizes = conversations["base_cluster_id"].value_counts().to_dict()
    tops = conversations["top_cluster_id"].value_counts().to_dict()
    clusters = pd.DataFrame(
        [
            {
                "cluster_id": cid,
                "level": 0 if cid.startswith("L0") else 1,
                "parent_id": parent,
                "top_cluster_id": _top(cid),
                "name": None if cid in HIDDEN else f"Cluster {cid[3:]}",
                "display_name": "Other (1 small cluster)"
                if cid in HIDDEN
                else f"Cluster {cid[3:]}",
                "size": int(sizes.get(cid, tops.get(cid, 0))),
                "meets_privacy_threshold": cid not in HIDDEN,
            }
            for cid, parent in HIERARCHY.items()
        ]
    )
    first = WEEK0 + pd.Timedelta(weeks=3)
    again = WEEK0 + pd.Timedelta(weeks=weeks - 1, days=2)
    runs = [(1, 1, first, "discover", "first discovery: no taxonomy yet")]
    lineage = [(1, first, 0, None, cid, "new", 0.0, 0) for cid in HIERARCHY if cid[1] == "0"]
    if rediscovered is not None:
        runs.append((2, 2, again, "discover", "novel share 0.300 > 0.2"))
        lineage.append((2, again, 0, None, rediscovered, "new", 0.0, 0))
    with duckdb.connect(str(db)) as con:
        con.register("conversations_frame", conversations)
        con.register("clusters_frame", clusters)
        con.execute("create table main.kura__conversations as select * from conversations_frame")
        con.execute("create table main.kura__clusters as select * from clusters_frame")
        con.execute(
            "create table main.kura__cluster_runs (run_number bigint, epoch bigint, "
            "run_at timestamp, decision varchar, reason varchar)"
        )
        con.executemany("insert into main.kura__cluster_runs values (?, ?, ?, ?, ?)", runs)
        con.execute(
            "create table main.kura__cluster_lineage (epoch bigint, discovered_at timestamp, "
            "level bigint, old_cluster_id varchar, new_cluster_id varchar, relation varchar, "
            "overlap double, shared_conversations bigint)"
        )
        con.executemany(
            "insert into main.kura__cluster_lineage values (?, ?, ?, ?, ?, ?, ?, ?)", lineage
        )


def _build_alerts(db: Path, target: Path) -> str:
    """`dbt build --select kura__alerts` on the fixed marts; the dbt output."""
    result = run_dbt(["build", "--select", "kura__alerts", "--vars", ALERT_VARS], db, target)
    return result.output


def _alerts(db: Path, where: str = "true") -> list[dict]:
    with duckdb.connect(str(db)) as con:
        cursor = con.execute(f"select * from main.kura__alerts where {where} order by alert_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def events_db(tmp_path_factory) -> tuple[Path, str]:
    """The last week: cluster a surges (10 -> 60 a week), the hidden cluster c collapses
    (60 -> 10, so that the week's volume stays put), 30 % of the assigned conversations fit no
    cluster (5 % before), b3's users are frustrated, and a re-discovery finds solo new."""
    work = tmp_path_factory.mktemp("alerts_events")
    db = work / "alerts.duckdb"
    _write_marts(
        db,
        seed=7,
        last_week_rates={"L0-a": 60, "L0-c": 10},
        last_week_novel_share=0.30,
        frustrated="L0-b3",
        rediscovered="L0-solo",
    )
    return db, _build_alerts(db, work / "target")


def test_a_surge_against_the_trailing_baseline_is_alerted(events_db):
    db, _ = events_db
    current = _alerts(db, "is_current and alert_type in ('cluster_surge', 'cluster_collapse')")
    by_cluster = {a["cluster_id"]: a for a in current}
    # the surging base cluster and its top-level cluster; the collapsing one and its top
    assert {cid: a["alert_type"] for cid, a in by_cluster.items()} == {
        "L0-a": "cluster_surge",
        "L1-top1": "cluster_surge",
        "L0-c": "cluster_collapse",
        "L1-top2": "cluster_collapse",
    }
    surge = by_cluster["L0-a"]
    assert surge["week_start"] == LATEST and surge["direction"] == "up"
    assert surge["statistic"] >= 5 and surge["severity"] == "critical" and surge["p_value"] < 1e-6
    # observed: this week's count; expected: the week's clustered conversations at the share
    # the cluster had over the four weeks before (about 10 of 260)
    assert 40 <= surge["observed"] <= 80 and 5 <= surge["expected"] <= 20
    assert surge["observed_share"] > 3 * surge["expected_share"]
    assert surge["cluster_name"] == "Cluster a" and surge["cluster_level"] == 0
    assert surge["message"].startswith('Surge in base cluster "Cluster a" (L0-a): ')
    assert "in the week of 2026-09-21" in surge["message"] and "z = " in surge["message"]
    assert by_cluster["L1-top1"]["is_top_level"] and by_cluster["L1-top1"]["cluster_level"] == 1

    # the hidden cluster is alerted by its display name and id, never its name
    collapse = by_cluster["L0-c"]
    assert collapse["cluster_name"] is None and collapse["statistic"] <= -3
    assert 'Collapse of base cluster "Other (1 small cluster)" (L0-c)' in collapse["message"]
    # before the last week nothing moved: no surge or collapse in the history
    assert (
        _alerts(db, "not is_current and alert_type in ('cluster_surge', 'cluster_collapse')") == []
    )


def test_the_unassigned_share_rising_is_alerted(events_db):
    db, _ = events_db
    rising = _alerts(db, "alert_type = 'unassigned_share_rising'")
    assert len(rising) == 1
    alert = rising[0]
    assert alert["is_current"] and alert["cluster_id"] is None and alert["statistic"] >= 5
    assert 0.2 < alert["observed_share"] < 0.4 and alert["expected_share"] < 0.1
    assert "fit no cluster" in alert["message"] and "re-discovery" in alert["message"]


def test_a_facet_shift_and_a_new_cluster_are_alerted(events_db):
    db, _ = events_db
    facets = _alerts(db, "alert_type = 'facet_shift'")
    assert {(a["cluster_id"], a["facet"], a["direction"]) for a in facets} >= {
        ("L0-b3", "user_frustration", "up")
    }
    assert all(a["is_current"] and a["facet"] == "user_frustration" for a in facets)
    assert {a["cluster_id"] for a in facets} <= {"L0-b3", "L1-top2"}
    b3 = next(a for a in facets if a["cluster_id"] == "L0-b3")
    assert b3["observed"] > 3.5 and b3["expected"] < 2.5
    assert "average user frustration (1-5) rose to" in b3["message"]

    new = _alerts(db, "alert_type = 'new_cluster'")  # epoch 1's clusters are not news
    assert [(a["cluster_id"], a["epoch"], a["severity"], a["is_current"]) for a in new] == [
        ("L0-solo", 2, "info", True)
    ]
    assert "re-discovery 2" in new[0]["message"] and "novel share 0.300" in new[0]["message"]


def test_dbt_build_warns_with_the_current_alerts(events_db):
    _, output = events_db
    warned = {
        name
        for name in (
            "kura_alerts_cluster_surge",
            "kura_alerts_cluster_collapse",
            "kura_alerts_unassigned_share_rising",
            "kura_alerts_facet_shift",
            "kura_alerts_new_cluster",
        )
        if any("WARN" in line and name in line for line in output.splitlines())
    }
    assert warned == {
        "kura_alerts_cluster_surge",
        "kura_alerts_cluster_collapse",
        "kura_alerts_unassigned_share_rising",
        "kura_alerts_facet_shift",
        "kura_alerts_new_cluster",
    }, output[-3000:]


def test_a_steady_series_is_not_alerted(tmp_path):
    """Poisson noise around constant rates, novel conversations at the nominal share, steady
    facets, for 30 weeks: the latest week raises nothing, and over the 29 weeks tested (each
    about 50 one-sided tests) the weeks with a false alert stay within the promised rate
    (kura__alerts_false_alarm_rate 0.05 a week: 1.45 expected at most)."""
    db = tmp_path / "steady.duckdb"
    _write_marts(db, seed=11, weeks=30)
    output = _build_alerts(db, tmp_path / "target")
    alerts = _alerts(db)
    assert not [a for a in alerts if a["is_current"]]
    assert not any("WARN" in line and "kura_alerts_" in line for line in output.splitlines())
    noisy_weeks = {a["week_start"] for a in alerts}
    assert len(noisy_weeks) <= 4, [(a["week_start"], a["message"]) for a in alerts]


def test_a_real_build_alerts_on_a_surging_kind_of_conversation(tmp_path, query):
    """The whole pipeline on the sample conversations, dated so that flight bookings are rare
    for five weeks (5 of 400) and half of the sixth week (20 of 40): the cluster the flights
    landed in is alerted as surging in the latest week, with a one-line message."""
    frames = {
        name: pd.read_csv(SEEDS / f"kura_sample_{name}.csv", keep_default_na=False, na_values=[""])
        for name in ("conversations", "messages")
    }
    conversations = frames["conversations"]
    flights = conversations[conversations["sample_domain"] == "Flights"]
    others = conversations[conversations["sample_domain"] != "Flights"].sample(
        n=420, random_state=3
    )
    order = pd.concat([flights.iloc[:5], others.iloc[:395]]).sample(frac=1, random_state=4)
    last_week = pd.concat([flights.iloc[5:], others.iloc[395:415]])
    dated = []
    for i, cid in enumerate(order["conversation_id"]):  # 80 a week, spread over the weeks
        dated.append((cid, WEEK0 + pd.Timedelta(minutes=int(i * 7 * 24 * 60 / 80))))
    last_start = WEEK0 + pd.Timedelta(weeks=5)
    for i, cid in enumerate(last_week["conversation_id"]):
        dated.append((cid, last_start + pd.Timedelta(hours=3 * i)))
    when = dict(dated)
    kept = conversations[conversations["conversation_id"].isin(when)].copy()
    kept["created_at"] = kept["conversation_id"].map(when)
    messages = frames["messages"][frames["messages"]["conversation_id"].isin(when)]
    db = tmp_path / "real.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw")
        for name, frame in (("conversations", kept), ("messages", messages)):
            con.register("frame", frame)
            con.execute(f"create table raw.{name} as select * from frame")
            con.unregister("frame")

    variables = (
        "{kura__conversations: raw.conversations, kura__messages: raw.messages, "
        "kura__feedback: ~, kura__users: ~, kura__max_top_clusters: 4}"
    )
    result = run_dbt(["build", "--vars", variables], db, tmp_path / "target")

    surges = query(
        db,
        "select cluster_id, cluster_level, observed, expected, statistic, message "
        "from kura__alerts where is_current and alert_type = 'cluster_surge' "
        "and cluster_level = 0",
    )
    assert surges, query(db, "select message from kura__alerts")
    flight_ids = set(flights["conversation_id"])
    in_cluster = {
        cid: {
            r[0]
            for r in query(
                db,
                "select conversation_id from kura__conversations "
                f"where base_cluster_id = '{cid}' and created_at >= '{last_start}'",
            )
        }
        for cid, *_ in surges
    }
    # the surge is the flights: most of what the alerted clusters got in the last week
    alerted = set().union(*in_cluster.values())
    assert len(alerted & flight_ids) >= 0.6 * len(alerted) and len(alerted & flight_ids) >= 10
    for _, _, observed, expected, statistic, message in surges:
        assert observed > 2 * expected and statistic > 3 and message.startswith("Surge in base")
    assert any(
        "WARN" in line and "kura_alerts_cluster_surge" in line
        for line in result.output.splitlines()
    )
