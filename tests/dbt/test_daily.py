"""A nightly job, replayed: the sample data arrives as four daily batches (by created_at) and
`dbt build` runs after each, with the LLM summariser, embedder and labeller against the local
OpenAI-compatible server so that every call is counted. Day 1 discovers; days 2 and 3 only
assign; day 4 forces a re-discovery; a re-discovery on unchanged data, a full refresh and a
wipe follow."""

from __future__ import annotations

import pandas as pd

from .conftest import REPO, run_dbt
from .test_build import _load_raw

SEEDS = REPO / "seeds"


def _calls(requests: list[dict]) -> dict[str, int]:
    """The server's requests by kind: summaries, embedded texts, cluster naming and grouping."""
    from kura_dbt.summaries.openai import SYSTEM_PROMPT

    embedding = [r for r in requests if "input" in r]
    chat = [r for r in requests if "input" not in r]
    summaries = [
        r
        for r in chat
        if any(
            str(m.get("content", "")).startswith(SYSTEM_PROMPT[:60]) for m in r.get("messages", [])
        )
    ]
    return {
        "summaries": len(summaries),
        "embedded_texts": sum(len(r["input"]) for r in embedding),
        "naming": len(chat) - len(summaries),
    }


def test_daily_builds_keep_ids_names_map_and_history(tmp_path, query, monkeypatch):
    from tests.python.fake_openai import FakeOpenAI

    monkeypatch.setenv("KURA_TEST_KEY", "sk-daily-test")
    conversations = pd.read_csv(SEEDS / "kura_sample_conversations.csv").sort_values("created_at")
    ids = conversations["conversation_id"].tolist()
    days = [ids[: 125 * (d + 1)] for d in range(4)]
    db = tmp_path / "daily.duckdb"

    def assignment() -> dict[str, str | None]:
        return dict(
            query(db, "select conversation_id, cluster_id from kura__conversation_clusters")
        )

    def points() -> dict[str, tuple[float, float]]:
        return {
            c: (x, y)
            for c, x, y in query(
                db, "select point_id, x, y from kura__projections where point_type = 'conversation'"
            )
        }

    def weekly(before: str) -> list[tuple]:
        """Level-0 weekly counts of the weeks that ended before ``before``."""
        return query(
            db,
            "select w.cluster_id, w.week_start, w.conversations from kura__cluster_weekly w "
            f"where w.level = 0 and w.week_start + interval 7 day <= date '{before}' order by 1, 2",
        )

    def runs() -> list[tuple]:
        return query(
            db,
            "select run_number, epoch, decision, reason, new_conversations from kura__cluster_runs "
            "order by run_number",
        )

    with FakeOpenAI() as server:
        base = (
            "kura__conversations: raw.conversations, kura__messages: raw.messages, "
            "kura__feedback: raw.feedback, kura__users: raw.users, kura__summariser: openai, "
            f"kura__llm_model: test-model, kura__llm_base_url: '{server.base_url}', "
            "kura__llm_api_key_env: KURA_TEST_KEY, kura__labeller: openai, kura__embedder: openai, "
            "kura__llm_embedding_model: embed-model, kura__n_base_clusters: 8, "
            "kura__max_top_clusters: 3, "
            # drift thresholds out of the way: days 2 and 3 must assign (the policy is tested apart)
            "kura__rediscover_growth: 10, kura__rediscover_novel_share: 0.95"
        )

        def build(day: int, *flags: str, extra: str = "") -> dict[str, int]:
            before = len(server.requests)
            run_dbt(["build", *flags, "--vars", "{" + base + extra + "}"], db, tmp_path / f"t{day}")
            return _calls(server.requests[before:])

        # day 1: the first build discovers
        _load_raw(db, days[0])
        first = build(1)
        assert first["summaries"] == 125 and first["embedded_texts"] == 125 and first["naming"] > 0
        assert runs() == [(1, 1, "discover", "first discovery: no taxonomy yet", 125)]
        day1 = assignment()
        assert len(day1) == 125 and all(c is None or c.startswith("L0-") for c in day1.values())
        names = dict(query(db, "select cluster_id, name from kura__cluster_hierarchy"))
        map1 = points()
        day2_starts = conversations.set_index("conversation_id").loc[ids[125], "created_at"][:10]
        history = weekly(day2_starts)
        assert history

        # days 2 and 3: only the new conversations are summarised, embedded and assigned
        seen = days[0]
        for day in (2, 3):
            _load_raw(db, days[day - 1])
            calls = build(day)
            new = len(days[day - 1]) - len(seen)
            assert calls == {"summaries": new, "embedded_texts": new, "naming": 0}, calls
            run = runs()[-1]
            assert run[1:3] == (1, "assign") and run[4] == new
            now = assignment()
            assert {c: now[c] for c in seen} == {c: day1.get(c, now[c]) for c in seen}
            assert {c: now[c] for c in days[0]} == day1  # day-1 conversations keep their cluster
            assert dict(query(db, "select cluster_id, name from kura__cluster_hierarchy")) == names
            moved = {c for c, xy in map1.items() if points()[c] != xy}
            assert not moved  # the map does not move
            assert weekly(day2_starts) == history  # past weeks' numbers do not change
            assert query(db, "select max(map_version) from int_kura__map_points")[0][0] == 1
            seen = days[day - 1]
        assert set(
            query(
                db,
                "select distinct status from kura__conversation_clusters where epoch = 1 "
                "and conversation_id not in (select conversation_id "
                "from kura__conversation_clusters where status = 'discovered')",
            )
        ) <= {("assigned",), ("novel",)}

        # day 4: a forced re-discovery on all data keeps the ids of the clusters that survive
        _load_raw(db, days[3])
        build(4, extra=", kura__rediscover: always")
        assert runs()[-1][1:3] == (2, "discover")
        after = assignment()
        kept = sum(after[c] == day1[c] for c in days[0] if day1[c] is not None)
        assert kept > 0
        lineage = query(
            db, "select relation, count(*) from kura__cluster_lineage where epoch = 2 group by 1"
        )
        assert "same" in dict(lineage)
        # an old cluster is retired exactly when no new cluster kept its id (its lineage says where
        # its conversations went: split, merge, or nowhere)
        retired = {
            r[0] for r in query(db, "select cluster_id from kura__taxonomy where retired_epoch = 2")
        }
        old = {
            r[0]
            for r in query(
                db,
                "select old_cluster_id from kura__cluster_lineage where epoch = 2 "
                "and old_cluster_id is not null",
            )
        }
        same = {
            r[0]
            for r in query(
                db,
                "select old_cluster_id from kura__cluster_lineage where epoch = 2 "
                "and relation = 'same'",
            )
        }
        assert retired == old - same

        # a re-discovery on unchanged data: same ids and names, and no LLM call at all
        taxonomy = query(
            db, "select cluster_id, level, parent_id, name from kura__cluster_hierarchy order by 1"
        )
        again = build(5, extra=", kura__rediscover: always")
        assert again == {"summaries": 0, "embedded_texts": 0, "naming": 0}
        assert runs()[-1][1:3] == (3, "discover")
        assert assignment() == after
        assert (
            query(
                db,
                "select cluster_id, level, parent_id, name from kura__cluster_hierarchy order by 1",
            )
            == taxonomy
        )

        # a full refresh keeps the paid state: no calls, same summaries, same taxonomy and runs
        stamps = query(db, "select max(summarised_at), count(*) from kura__summaries")
        refreshed = build(6, "--full-refresh")
        assert refreshed == {"summaries": 0, "embedded_texts": 0, "naming": 0}
        assert query(db, "select max(summarised_at), count(*) from kura__summaries") == stamps
        assert assignment() == after
        assert len(runs()) == 6

        # starting over on purpose: --full-refresh with kura__wipe_state
        wiped = build(7, "--full-refresh", extra=", kura__wipe_state: true")
        assert wiped["summaries"] == 500 and wiped["embedded_texts"] == 500
        assert runs() == [(1, 1, "discover", "first discovery: no taxonomy yet", 500)]
