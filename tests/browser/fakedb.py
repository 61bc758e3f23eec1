"""A small DuckDB file shaped like the kura marts (kura__clusters, kura__conversations,
kura__cluster_weekly), for report tests that must not need a dbt build. Some summaries and
names carry HTML and script on purpose."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
QUOTES = '" onmouseover="alert(1)'
HOSTILE_SUMMARIES = [
    f"The user asks for a bus ticket {SCRIPT} to Leeds",
    f"The user pastes {IMG} and asks what it does",
    f"The user says {QUOTES} about bus times",
]
HIDDEN_NAME = "Secret tiny cluster"
HIDDEN_DESCRIPTION = "One person asking about a rare medical condition"
HIDDEN_SUMMARY = "HIDDEN-SECRET-SUMMARY about a rare condition"
HOSTILE_DESCRIPTION = f"Bus trips and tickets {SCRIPT}"
# bidi controls (make_kura_db(bidi=True)): obeyed, U+202E makes "gnp.exe" display as "exe.png"
RLO = "\u202e"
BIDI_NAME = f"Attachments {RLO}gnp.exe [bold]not markup[/bold]"
BIDI_DESCRIPTION = (
    "Files \u202aone\u202b two\u202c three\u202d four \u2066five\u2067six\u2068seven\u2069"
)
BIDI_SUMMARY = f"The user sends invoice_{RLO}fdp.exe and asks whether it is safe"

# cluster_id, level, parent, name, description, users per conversation pattern
CLUSTERS = [
    ("L1-0000", 1, None, "Travel planning", "Trips, tickets and hotels"),
    ("L1-0001", 1, None, "Coding help", "Scripts, shells and debugging"),
    ("L0-0000", 0, "L1-0000", "Bus tickets", HOSTILE_DESCRIPTION),
    ("L0-0001", 0, "L1-0000", "Hotel bookings", "Rooms, dates and prices"),
    ("L0-0002", 0, "L1-0001", "Python scripts", "Writing and fixing Python scripts"),
    ("L0-0003", 0, "L1-0001", "Shell questions", "Bash one-liners"),
    ("L0-0004", 0, "L1-0001", HIDDEN_NAME, HIDDEN_DESCRIPTION),
]
BASE_CONVERSATIONS = {"L0-0000": 9, "L0-0001": 8, "L0-0002": 10, "L0-0003": 6, "L0-0004": 2}
CENTRES = {
    "L0-0000": (0, 0),
    "L0-0001": (3, 1),
    "L0-0002": (10, 8),
    "L0-0003": (12, 5),
    "L0-0004": (9, 12),
}
WEEK0 = datetime(2026, 8, 3, 10, 0)


def make_kura_db(
    path: Path,
    hidden_in_marts: bool = True,
    blank_hidden_text: bool = True,
    bidi: bool = False,
    revenue_known: bool = True,
) -> Path:
    """Write the fake marts to `path`. With hidden_in_marts, L0-0004 (one user) is below the
    marts' privacy thresholds: its name and description are NULL, as dbt would write them.
    With blank_hidden_text=False they are kept, so that only the report's own reading of
    ``meets_privacy_threshold`` can hide them. With bidi, L0-0003 is named BIDI_NAME and
    described by BIDI_DESCRIPTION, and its first summary is BIDI_SUMMARY. Without
    revenue_known (no users table, `kura__users: ~`), plan, revenue and paying users are NULL."""
    path = Path(path)
    conversations = []
    n = 0
    for base, count in BASE_CONVERSATIONS.items():
        cx, cy = CENTRES[base]
        for i in range(count):
            n += 1
            if base == "L0-0000" and i < len(HOSTILE_SUMMARIES):
                summary = HOSTILE_SUMMARIES[i]
            elif base == "L0-0004":
                summary = f"{HIDDEN_SUMMARY} {i}"
            elif bidi and base == "L0-0003" and i == 0:
                summary = BIDI_SUMMARY
            else:
                topic = {c[0]: c[3] for c in CLUSTERS}[base].lower()
                summary = f"The user asks about {topic} number {i}"
            user = "u-secret" if base == "L0-0004" else f"u{(n * 7) % 13}"
            top = next(c[2] for c in CLUSTERS if c[0] == base)
            conversations.append(
                {
                    "conversation_id": f"c{n:03d}",
                    "user_id": user,
                    "created_at": WEEK0 + timedelta(days=(n * 3) % 21),
                    "turn_count": 2 + (n % 9),
                    "summary": summary,
                    "languages": json.dumps(
                        ["English", "python"] if base == "L0-0002" else ["English"]
                    ),
                    "flags": json.dumps(["truncated"] if n % 5 == 0 else []),
                    "base_cluster_id": base,
                    "top_cluster_id": top,
                    "distance_to_centroid": 0.01 * i,
                    "is_unclustered": False,
                    "x": cx + 0.1 * (i % 4),
                    "y": cy + 0.1 * (i // 4),
                    "feedback_count": 1,
                    "thumbs_up_rate": 1.0 if n % 3 else 0.0,
                    "avg_rating": 4.0,
                    "plan": ("pro" if n % 2 else "free") if revenue_known else None,
                    "revenue": (20.0 if n % 2 else 0.0) if revenue_known else None,
                }
            )
    # one unclustered conversation (HDBSCAN noise)
    conversations.append(
        {
            "conversation_id": "c999",
            "user_id": "u1",
            "created_at": WEEK0,
            "turn_count": 2,
            "summary": "An outlier nobody else asked",
            "languages": '["English"]',
            "flags": "[]",
            "base_cluster_id": None,
            "top_cluster_id": None,
            "distance_to_centroid": None,
            "is_unclustered": True,
            "x": 20.0,
            "y": 20.0,
            "feedback_count": 0,
            "thumbs_up_rate": None,
            "avg_rating": None,
            "plan": "free" if revenue_known else None,
            "revenue": 0.0 if revenue_known else None,
        }
    )
    conv = pd.DataFrame(conversations)
    rows = []
    total = int(conv["base_cluster_id"].notna().sum())
    for cid, level, parent, name, description in CLUSTERS:
        if bidi and cid == "L0-0003":
            name, description = BIDI_NAME, BIDI_DESCRIPTION
        members = conv[(conv["base_cluster_id"] == cid) | (conv["top_cluster_id"] == cid)]
        users = members.drop_duplicates("user_id")["revenue"]
        visible = not (hidden_in_marts and cid == "L0-0004")
        text = visible or not blank_hidden_text
        rows.append(
            {
                "cluster_id": cid,
                "level": level,
                "parent_id": parent,
                "top_cluster_id": parent or cid,
                "name": name if text else None,
                "description": description if text else None,
                "keywords": json.dumps(name.lower().split()[:3]) if text else None,
                "display_name": name if visible else "Other (1 small cluster)",
                "privacy_bucket_id": cid if visible else f"L{level}-other-{parent}",
                "size": len(members),
                "distinct_users": int(members["user_id"].nunique()),
                "child_count": sum(1 for c in CLUSTERS if c[2] == cid),
                "share_of_conversations": len(members) / total,
                "avg_concerning_score": None,
                "avg_user_frustration": None,
                "avg_turns": float(members["turn_count"].mean()),
                "feedback_count": int(members["feedback_count"].sum()),
                "thumbs_up_rate": float(members["thumbs_up_rate"].mean()),
                "avg_rating": 4.0,
                "revenue": float(users.sum()) if revenue_known else None,
                "paying_users": int((users > 0).sum()) if revenue_known else None,
                "first_seen_at": members["created_at"].min(),
                "last_seen_at": members["created_at"].max(),
                "meets_privacy_threshold": visible,
            }
        )
    clusters = pd.DataFrame(rows)
    conv["cluster_meets_privacy_threshold"] = (
        conv["base_cluster_id"]
        .map(dict(zip(clusters["cluster_id"], clusters["meets_privacy_threshold"], strict=True)))
        .fillna(False)
        .astype(bool)
    )
    conv["base_cluster_name"] = conv["base_cluster_id"].map(
        dict(zip(clusters["cluster_id"], clusters["name"], strict=True))
    )
    conv["top_cluster_name"] = conv["top_cluster_id"].map(
        dict(zip(clusters["cluster_id"], clusters["name"], strict=True))
    )
    weekly = []
    for cid, level, _parent, name, _d in CLUSTERS:
        members = conv[(conv["base_cluster_id"] == cid) | (conv["top_cluster_id"] == cid)]
        for w in range(3):
            start = (WEEK0 + timedelta(weeks=w)).date()
            count = int(
                (
                    (members["created_at"].dt.date >= start)
                    & (members["created_at"].dt.date < start + timedelta(weeks=1))
                ).sum()
            )
            hidden = hidden_in_marts and blank_hidden_text and cid == "L0-0004"
            weekly.append(
                {
                    "cluster_id": cid,
                    "level": level,
                    "name": None if hidden else name,
                    "week_start": start,
                    "conversations": count,
                }
            )
    return _write_marts(path, clusters, conv, pd.DataFrame(weekly))


# ---- a large synthetic report input (map tests at many clusters, benchmarks at 100,000) ------

_VERBS = [
    "Fixing",
    "Planning",
    "Writing",
    "Comparing",
    "Booking",
    "Explaining",
    "Translating",
    "Debugging",
    "Summarising",
    "Choosing",
    "Cancelling",
    "Reviewing",
]
_THINGS = [
    "bus tickets",
    "hotel rooms",
    "Python scripts",
    "shell one-liners",
    "SQL joins",
    "cover letters",
    "flight delays",
    "tax forms",
    "recipes",
    "wedding speeches",
    "React hooks",
    "insurance claims",
    "gym plans",
    "bank transfers",
    "poems",
    "Kubernetes pods",
    "lease contracts",
    "job interviews",
    "garden pests",
    "spreadsheets",
]
_WHERE = [
    "",
    " for a small team",
    " in Spanish",
    " on a budget",
    " with deadlines",
    " for beginners",
]
_LANGS = ["English", "English", "English", "Spanish", "German", "French", "Portuguese", "Japanese"]
_STATUS_OLD, _STATUS_NEW = "discovered", "assigned"


def _large_names(count: int, rng) -> list[str]:
    names: list[str] = []
    seen = set()
    while len(names) < count:
        name = (
            f"{_VERBS[rng.integers(len(_VERBS))]} {_THINGS[rng.integers(len(_THINGS))]}"
            f"{_WHERE[rng.integers(len(_WHERE))]}"
        )
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def large_clusters(tops: int, mids: int, bases: int, rng) -> list[dict]:
    """Three levels: `tops` top-level clusters, `mids` under each, `bases` under each of those;
    centres on nested circles so that siblings sit near each other on the map. Every 13th base
    cluster is small and below the privacy thresholds."""
    import numpy as np

    names = iter(_large_names(tops * (1 + mids * (1 + bases)), rng))
    out = []
    for t in range(tops):
        ta = 2 * np.pi * t / tops
        tc = (16 * np.cos(ta), 16 * np.sin(ta))
        top_id = f"L2-{t:04d}"
        out.append({"id": top_id, "level": 2, "parent": None, "name": next(names), "c": tc})
        for m in range(mids):
            ma = ta + 2 * np.pi * m / mids
            mc = (tc[0] + 3.2 * np.cos(ma), tc[1] + 3.2 * np.sin(ma))
            mid_id = f"L1-{t * mids + m:04d}"
            out.append({"id": mid_id, "level": 1, "parent": top_id, "name": next(names), "c": mc})
            for b in range(bases):
                ba = ma + 2 * np.pi * b / bases
                bc = (mc[0] + 1.2 * np.cos(ba), mc[1] + 1.2 * np.sin(ba))
                k = (t * mids + m) * bases + b
                out.append(
                    {
                        "id": f"L0-{k:04d}",
                        "level": 0,
                        "parent": mid_id,
                        "name": next(names),
                        "c": bc,
                        "hidden": k % 13 == 5,
                    }
                )
    return out


def make_large_kura_db(
    path: Path, conversations: int, seed: int = 0, tops: int = 8, mids: int = 4, bases: int = 6
) -> Path:
    """The report's input tables (kura__clusters, kura__conversations, kura__cluster_weekly) for
    `conversations` synthetic conversations in a three-level hierarchy (tops x mids x bases base
    clusters) over eight weeks: summaries of about 120 characters, languages, scores, feedback,
    plans and revenue, assignment status (assigned in the latest two weeks, 1% novel)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clusters = large_clusters(tops, mids, bases, rng)
    base = [c for c in clusters if c["level"] == 0]
    weights = np.array([0.08 if c.get("hidden") else 1.0 + rng.random() * 2 for c in base])
    pick = rng.choice(len(base), size=conversations, p=weights / weights.sum())
    novel = rng.random(conversations) < 0.01
    centre = np.array([base[i]["c"] for i in pick])
    xy = centre + rng.normal(0, 0.3, (conversations, 2))
    xy[novel] = rng.uniform(-24, 24, (int(novel.sum()), 2))
    day = rng.integers(0, 56, conversations)
    created = [WEEK0 + timedelta(days=int(d), minutes=int(i % 600)) for i, d in enumerate(day)]
    parent = {c["id"]: c["parent"] for c in clusters}
    users = rng.integers(0, max(10, conversations // 4), conversations)
    words = ["refund", "error", "deadline", "invoice", "schedule", "draft", "timeout", "ticket"]
    rows = []
    for i in range(conversations):
        b = base[pick[i]]
        top = parent[parent[b["id"]]]
        thumbs = rng.random()
        rows.append(
            {
                "conversation_id": f"c{i:07d}",
                "user_id": f"u{users[i]}",
                "created_at": created[i],
                "turn_count": int(2 + rng.integers(0, 14)),
                "summary": (
                    f"The user asks about {b['name'].lower()} and mentions "
                    f"{words[i % len(words)]} number {i}; the assistant walks them through "
                    "the steps and checks the result."
                ),
                "languages": json.dumps([_LANGS[rng.integers(len(_LANGS))]]),
                "flags": "[]",
                "concerning_score": int(1 + (rng.random() < 0.1) * rng.integers(1, 5)),
                "user_frustration": int(rng.integers(1, 6)),
                "base_cluster_id": None if novel[i] else b["id"],
                "top_cluster_id": None if novel[i] else top,
                "distance_to_centroid": float(rng.random()),
                "is_unclustered": bool(novel[i]),
                "assignment_status": "novel"
                if novel[i]
                else (_STATUS_NEW if day[i] >= 42 else _STATUS_OLD),
                "x": float(xy[i, 0]),
                "y": float(xy[i, 1]),
                "feedback_count": int(thumbs < 0.3),
                "thumbs_up_rate": (1.0 if thumbs < 0.22 else 0.0) if thumbs < 0.3 else None,
                "avg_rating": None,
                "plan": "pro" if users[i] % 3 == 0 else "free",
                "revenue": float(20 + users[i] % 7 * 15) if users[i] % 3 == 0 else 0.0,
            }
        )
    conv = pd.DataFrame(rows)
    _write_large(path, clusters, conv)
    return Path(path)


def _write_large(path: Path, clusters: list[dict], conv: pd.DataFrame) -> None:
    """kura__clusters with sizes and users rolled up the hierarchy, and the weekly counts."""
    parent = {c["id"]: c["parent"] for c in clusters}
    chain_rows = []
    for cid in conv["base_cluster_id"].dropna().unique():
        cur = cid
        while cur is not None:
            chain_rows.append({"base_cluster_id": cid, "cluster_id": cur})
            cur = parent[cur]
    chains = pd.DataFrame(chain_rows)
    members = conv.merge(chains, on="base_cluster_id")
    stats = members.groupby("cluster_id").agg(
        size=("conversation_id", "size"),
        distinct_users=("user_id", "nunique"),
        first_seen_at=("created_at", "min"),
        last_seen_at=("created_at", "max"),
    )
    total = int(conv["base_cluster_id"].notna().sum())
    rows = []
    for c in clusters:
        s = stats.loc[c["id"]] if c["id"] in stats.index else None
        visible = not c.get("hidden")
        top = c["id"]
        while parent[top] is not None:
            top = parent[top]
        rows.append(
            {
                "cluster_id": c["id"],
                "level": c["level"],
                "parent_id": c["parent"],
                "top_cluster_id": top,
                "name": c["name"] if visible else None,
                "description": f"Conversations about {c['name'].lower()}" if visible else None,
                "keywords": json.dumps(c["name"].lower().split()[:3]) if visible else None,
                "size": int(s["size"]) if s is not None else 0,
                "distinct_users": int(s["distinct_users"]) if s is not None else 0,
                "share_of_conversations": (int(s["size"]) / total) if s is not None else 0.0,
                "first_seen_at": s["first_seen_at"] if s is not None else None,
                "last_seen_at": s["last_seen_at"] if s is not None else None,
                "meets_privacy_threshold": visible,
            }
        )
    frame = pd.DataFrame(rows)
    members["week_start"] = members["created_at"].dt.to_period("W-SUN").dt.start_time.dt.date
    weekly = members.groupby(["cluster_id", "week_start"]).size().reset_index(name="conversations")
    _write_marts(Path(path), frame, conv, weekly)


def _write_marts(
    path: Path, clusters: pd.DataFrame, conversations: pd.DataFrame, weekly: pd.DataFrame
) -> Path:
    """A new DuckDB file at ``path`` with the three marts the report reads, from these frames
    (the weekly one's ``week_start`` as a DATE)."""
    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as con:
        con.register("clusters_frame", clusters)
        con.register("conversations_frame", conversations)
        con.register("weekly_frame", weekly)
        con.execute("create table main.kura__clusters as select * from clusters_frame")
        con.execute("create table main.kura__conversations as select * from conversations_frame")
        con.execute(
            "create table main.kura__cluster_weekly as "
            "select * replace (cast(week_start as date) as week_start) from weekly_frame"
        )
    return path
