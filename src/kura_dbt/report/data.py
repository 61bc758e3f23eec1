"""Read the kura marts from DuckDB and shape what the HTML report shows.

Privacy is decided here, before anything reaches the page: a cluster is shown only when the
marts say it meets the privacy thresholds (kura__clusters.meets_privacy_threshold), when it
also meets the report's own (optional, stricter) thresholds, and when its parent is shown.
The clusters that are not shown are folded, per parent and level, into one "other" node with
counts only: no name, description, keywords, facets or samples, and none of their
conversations' summaries is written into the file (not even hidden). The alerts of
kura__alerts about a cluster that is not shown point at its "other" node, with a message
rewritten without the cluster's name.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kura_dbt.display import visible_all

from .source import MartsSource

TURN_BINS: list[tuple[str, int, int | None]] = [
    ("1-2", 1, 2),
    ("3-4", 3, 4),
    ("5-6", 5, 6),
    ("7-10", 7, 10),
    ("11-20", 11, 20),
    ("21+", 21, None),
]
UNCLUSTERED = "__unclustered__"


@dataclass
class ReportOptions:
    schema: str = "main"
    title: str = "Kura report"
    min_cluster_users: int = 1
    min_cluster_conversations: int = 1
    samples: int = 8
    max_points: int = 50_000
    seed: int = 42
    facet_top: int = 12
    max_alerts: int = 500


@dataclass
class ReportData:
    """Everything the page needs, as JSON-ready Python objects."""

    payload: dict[str, Any]
    hidden_clusters: int = 0
    visible_clusters: int = 0
    conversations: int = 0
    current_alerts: int = 0
    warnings: list[str] = field(default_factory=list)


REQUIRED_TABLES = ("kura__clusters", "kura__conversations")
ALERT_COLUMNS = {
    "alert_id",
    "alert_type",
    "severity",
    "week_start",
    "is_current",
    "cluster_id",
    "facet",
    "direction",
    "observed",
    "expected",
    "statistic",
    "p_value",
    "message",
}
ALERT_LABELS = {
    "cluster_surge": "Surge",
    "cluster_collapse": "Collapse",
    "unassigned_share_rising": "Unassigned share rising",
    "facet_shift": "Facet shift",
    "new_cluster": "New cluster",
}


class MissingTableError(ValueError):
    """The warehouse lacks a table that `dbt build` makes (no build yet, or another schema)."""

    def __init__(self, db: Path | MartsSource, schema: str, table: str) -> None:
        self.db, self.schema, self.table = db, schema, table
        where = db.label if isinstance(db, MartsSource) and db.is_snowflake else db
        if isinstance(where, MartsSource):  # a DuckDB file: its path, as given
            where = where.db
        super().__init__(
            f"{where} has no table {schema}.{table}: run `dbt build` (or `make demo`) to make it, "
            "or point --db and --schema at the database it wrote"
        )


def require_tables(
    con, db: Path | MartsSource, schema: str, tables: tuple[str, ...] = REQUIRED_TABLES
) -> None:
    """Raise MissingTableError for the first of `tables` (tables or views) not in `schema`."""
    # upper(): Snowflake stores unquoted names in upper case, DuckDB as written
    present = {
        r[0].lower()
        for r in con.execute(
            "select table_name from information_schema.tables where upper(table_schema) = upper(?)",
            [schema],
        ).fetchall()
    }
    for table in tables:
        if table.lower() not in present:
            raise MissingTableError(db, schema, table)


def connect(db: Path | MartsSource):
    """A connection to the marts: a DuckDB file (read-only), or the warehouse of a
    :class:`~kura_dbt.report.source.MartsSource` (DuckDB or Snowflake)."""
    if isinstance(db, MartsSource):
        return db.connect()
    import duckdb

    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.ConnectionException:
        # this process already holds the file open (e.g. dbt ran in-process): share that
        return duckdb.connect(str(db))


def _columns(con, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where upper(table_schema) = upper(?) and upper(table_name) = upper(?)",
        [schema, table],
    ).fetchall()
    return {r[0].lower() for r in rows}


def _records(con, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [str(d[0]).lower() for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _num(value: Any) -> float | int | None:
    """A JSON-safe number (NaN, inf and HUGEINT/Decimal become plain floats or None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if abs(value) < 2**53 else float(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return [str(value)]
    if isinstance(parsed, list):
        return [str(v) for v in parsed if v is not None]
    return [str(parsed)]


def _turn_bin(turns: Any) -> str | None:
    if turns is None:
        return None
    t = int(turns)
    for label, low, high in TURN_BINS:
        if t >= low and (high is None or t <= high):
            return label
    return None


def _top(counter: Counter, n: int) -> list[list[Any]]:
    return [[k, v] for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def load_report_data(
    db: Path | MartsSource,
    options: ReportOptions | None = None,
    step: Callable[[str], None] | None = None,
) -> ReportData:
    """Read kura__clusters, kura__conversations, kura__cluster_weekly and kura__alerts (when
    the build made them) and build the payload."""
    options = options or ReportOptions()
    step = step or (lambda _msg: None)
    schema = options.schema
    con = connect(db)
    try:
        step("Reading the marts")
        require_tables(con, db, schema)
        clusters = _records(con, f"select * from {schema}.kura__clusters")
        conv_cols = _columns(con, schema, "kura__conversations")
        wanted = [
            "conversation_id",
            "user_id",
            "turn_count",
            "summary",
            "languages",
            "flags",
            "base_cluster_id",
            "top_cluster_id",
            "distance_to_centroid",
            "is_unclustered",
            "x",
            "y",
        ]
        select = ", ".join(c if c in conv_cols else f"null as {c}" for c in wanted)
        conversations = _records(con, f"select {select} from {schema}.kura__conversations")
        alerts: list[dict[str, Any]] = []
        if ALERT_COLUMNS <= _columns(con, schema, "kura__alerts"):  # optional: older builds
            alerts = _records(
                con,
                f"""select {", ".join(sorted(ALERT_COLUMNS))} from {schema}.kura__alerts
                    order by is_current desc, week_start desc, abs(coalesce(statistic, 0)) desc
                    limit {int(options.max_alerts)}""",
            )
        weekly: list[dict[str, Any]] = []
        if _columns(con, schema, "kura__cluster_weekly"):
            weekly = _records(
                con,
                f"""select cluster_id, cast(week_start as date) as week_start, conversations
                    from {schema}.kura__cluster_weekly order by week_start""",
            )
    finally:
        con.close()

    step("Folding clusters below the privacy thresholds")
    by_id = {c["cluster_id"]: c for c in clusters}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for c in clusters:
        children.setdefault(c.get("parent_id"), []).append(c)
    for kids in children.values():
        kids.sort(key=lambda c: (-(c.get("size") or 0), c["cluster_id"]))

    def meets(c: dict[str, Any]) -> bool:
        flag = c.get("meets_privacy_threshold")
        size = c.get("size") or 0
        return flag is not False and (  # an old mart without the column: the report decides
            size == 0  # a pinned category with no member yet: nothing to hide
            or (
                size >= options.min_cluster_conversations
                and (c.get("distinct_users") or 0) >= options.min_cluster_users
            )
        )

    visible: dict[str, bool] = {}

    def decide(c: dict[str, Any], parent_visible: bool) -> None:
        visible[c["cluster_id"]] = parent_visible and meets(c)
        for kid in children.get(c["cluster_id"], []):
            decide(kid, visible[c["cluster_id"]])

    for root in children.get(None, []):
        decide(root, True)
    for c in clusters:  # orphans (should not happen): hidden
        visible.setdefault(c["cluster_id"], False)

    # ancestors of every cluster, base first
    def chain(cluster_id: str) -> list[str]:
        out = []
        seen = set()
        cur: str | None = cluster_id
        while cur is not None and cur in by_id and cur not in seen:
            seen.add(cur)
            out.append(cur)
            cur = by_id[cur].get("parent_id")
        return out

    # the node a hidden cluster is shown as: its parent's "other" bucket at its level, or the
    # bucket of its highest hidden ancestor (a hidden cluster's descendants are hidden too)
    def bucket_id(parent_id: str | None, level: Any) -> str:
        return f"other:{parent_id or 'top'}:L{level}"

    node_of: dict[str, str] = {}
    for c in clusters:
        path = chain(c["cluster_id"])
        shown = c["cluster_id"]
        for cid in path:  # from the cluster up: the highest hidden ancestor wins
            if not visible[cid]:
                shown = bucket_id(by_id[cid].get("parent_id"), by_id[cid].get("level"))
        node_of[c["cluster_id"]] = shown

    nodes: dict[str, dict[str, Any]] = {}
    for c in clusters:
        if not visible[c["cluster_id"]]:
            continue
        nodes[c["cluster_id"]] = {
            "id": c["cluster_id"],
            "kind": "cluster",
            "level": _num(c.get("level")),
            "parent": c.get("parent_id"),
            "top": c.get("top_cluster_id"),
            "name": c.get("name") or c.get("display_name") or c["cluster_id"],
            "description": c.get("description"),
            "keywords": _json_list(c.get("keywords")),
            "size": _num(c.get("size")),
            "users": _num(c.get("distinct_users")),
            "share": _num(c.get("share_of_conversations")),
            "thumbs_up_rate": _num(c.get("thumbs_up_rate")),
            "avg_rating": _num(c.get("avg_rating")),
            "feedback_count": _num(c.get("feedback_count")),
            "revenue": _num(c.get("revenue")),
            "paying_users": _num(c.get("paying_users")),
            "avg_turns": _num(c.get("avg_turns")),
            "avg_user_frustration": _num(c.get("avg_user_frustration")),
            "avg_concerning_score": _num(c.get("avg_concerning_score")),
            "first_seen": _iso(c.get("first_seen_at")),
            "last_seen": _iso(c.get("last_seen_at")),
            "children": [],
        }
    hidden = [c for c in clusters if not visible[c["cluster_id"]]]
    folded = [
        c
        for c in hidden
        if node_of[c["cluster_id"]] == bucket_id(c.get("parent_id"), c.get("level"))
    ]
    for c in folded:
        bid = node_of[c["cluster_id"]]
        node = nodes.setdefault(
            bid,
            {
                "id": bid,
                "kind": "other",
                "level": _num(c.get("level")),
                "parent": c.get("parent_id"),
                "top": None,
                "clusters": 0,
                "size": 0,
                "users": 0,
                "children": [],
            },
        )
        node["clusters"] += 1
        node["size"] += int(c.get("size") or 0)
    for node in nodes.values():
        if node["kind"] == "other":
            n = node["clusters"]
            node["name"] = f"Other ({n} small cluster{'s' if n != 1 else ''})"

    for c in clusters:  # children in size order, the "other" bucket last
        if visible[c["cluster_id"]]:
            kids = children.get(c["cluster_id"], [])
            ids = [k["cluster_id"] for k in kids if visible[k["cluster_id"]]]
            buckets = sorted(
                {node_of[k["cluster_id"]] for k in kids if not visible[k["cluster_id"]]}
            )
            nodes[c["cluster_id"]]["children"] = ids + buckets
    roots = [c["cluster_id"] for c in children.get(None, []) if visible[c["cluster_id"]]]
    roots += sorted(
        {node_of[c["cluster_id"]] for c in children.get(None, []) if not visible[c["cluster_id"]]}
    )

    step("Computing facets and samples")
    base_chain = {cid: chain(cid) for cid in by_id}
    facets: dict[str, dict[str, Counter]] = {}
    bucket_users: dict[str, set] = {}
    per_base: dict[str, list[dict[str, Any]]] = {}
    map_points: list[list[Any]] = []
    search: list[list[Any]] = []
    n_unclustered = 0
    n_summarised = 0
    for conv in conversations:
        base = conv.get("base_cluster_id")
        if conv.get("summary") is not None:
            n_summarised += 1
        if base is None or base not in by_id:
            n_unclustered += 1
            if conv.get("x") is not None and conv.get("y") is not None:
                map_points.append([_num(conv["x"]), _num(conv["y"]), UNCLUSTERED, None])
            continue
        path = base_chain[base]
        shown_base = node_of[base]
        show_text = visible[base] and conv.get("summary") is not None
        summary = conv["summary"] if show_text else None
        if conv.get("x") is not None and conv.get("y") is not None:
            map_points.append([_num(conv["x"]), _num(conv["y"]), shown_base, summary])
        if show_text:
            per_base.setdefault(base, []).append(conv)
            search.append([summary, base])
        langs = _json_list(conv.get("languages"))
        flags = _json_list(conv.get("flags"))
        turns = _turn_bin(conv.get("turn_count"))
        # facets of every visible cluster the conversation is in (aggregates, not samples)
        for cid in path:
            if visible[cid]:
                f = facets.setdefault(
                    cid, {"languages": Counter(), "flags": Counter(), "turns": Counter()}
                )
                f["languages"].update(langs)
                f["flags"].update(flags)
                if turns:
                    f["turns"][turns] += 1
        shown = shown_base
        if shown in nodes and nodes[shown]["kind"] == "other":
            bucket_users.setdefault(shown, set()).add(
                conv.get("user_id") or f"conv:{conv['conversation_id']}"
            )

    for bid, users in bucket_users.items():
        nodes[bid]["users"] = len(users)

    for cid, node in nodes.items():
        if node["kind"] != "cluster":
            continue
        f = facets.get(cid, {"languages": Counter(), "flags": Counter(), "turns": Counter()})
        order = {label: i for i, (label, _, _) in enumerate(TURN_BINS)}
        node["facets"] = {
            "languages": _top(f["languages"], options.facet_top),
            "flags": _top(f["flags"], options.facet_top),
            "turns": sorted(([k, v] for k, v in f["turns"].items()), key=lambda kv: order[kv[0]]),
        }
        # samples: the summaries closest to their centroid, taken in turn from each visible base
        # cluster underneath (largest first), so that a parent's samples cover its children
        bases = [
            b for b in by_id if by_id[b].get("level") == 0 and cid in base_chain[b] and visible[b]
        ]
        bases.sort(key=lambda b: (-(by_id[b].get("size") or 0), b))
        queues = [
            sorted(
                per_base.get(b, []),
                key=lambda conv: (
                    conv.get("distance_to_centroid") is None,
                    conv.get("distance_to_centroid") or 0.0,
                    conv["conversation_id"],
                ),
            )
            for b in bases
        ]
        samples: list[str] = []
        depth = 0
        while len(samples) < options.samples and any(depth < len(q) for q in queues):
            for q in queues:
                if depth < len(q) and len(samples) < options.samples:
                    samples.append(q[depth]["summary"])
            depth += 1
        node["samples"] = samples

    weeks = sorted({_iso(w["week_start"]) for w in weekly})
    week_index = {w: i for i, w in enumerate(weeks)}
    for w in weekly:
        node = nodes.get(w["cluster_id"])
        if node is None or node["kind"] != "cluster":
            continue
        series = node.setdefault("weekly", [0] * len(weeks))
        series[week_index[_iso(w["week_start"])]] = int(w["conversations"] or 0)

    warnings: list[str] = []
    if len(map_points) > options.max_points:
        import random

        rng = random.Random(options.seed)
        map_points = rng.sample(map_points, options.max_points)
        warnings.append(
            f"the map shows a random {options.max_points} of {len(conversations)} conversations"
        )
    if len(search) > options.max_points:
        import random

        search = random.Random(options.seed).sample(search, options.max_points)
        warnings.append(f"search covers a random {options.max_points} of the summaries")

    top_of: dict[str, str] = {}
    for cid in by_id:
        path = base_chain[cid]
        top_of[cid] = node_of[path[-1]]
    for node in nodes.values():
        if node["kind"] == "cluster":
            node["top"] = top_of.get(node["id"], node["id"])
        else:
            node["top"] = top_of.get(node["parent"], node["id"]) if node["parent"] else node["id"]

    shown_alerts = _alerts_payload(alerts, visible, node_of)

    # control characters and bidi controls in conversation text (and anywhere else) become
    # visible markers
    payload = visible_all(
        {
            "title": options.title,
            "generated_at": datetime.now().replace(microsecond=0).isoformat(sep=" "),
            "source": db.label if isinstance(db, MartsSource) else Path(db).name,
            "totals": {
                "conversations": len(conversations),
                "summarised": n_summarised,
                "unclustered": n_unclustered,
                "clusters": len(clusters),
                "visible_clusters": sum(visible.values()),
                "hidden_clusters": len(hidden),
                "base_clusters": sum(1 for c in clusters if c.get("level") == 0),
            },
            "thresholds": {
                "report_min_users": options.min_cluster_users,
                "report_min_conversations": options.min_cluster_conversations,
            },
            "weeks": weeks,
            "nodes": nodes,
            "roots": roots,
            "base_node": {cid: node_of[cid] for cid in by_id if by_id[cid].get("level") == 0},
            "points": map_points,
            "search": search,
            "alerts": shown_alerts,
            "warnings": warnings,
        }
    )
    return ReportData(
        payload=payload,
        hidden_clusters=len(hidden),
        visible_clusters=sum(visible.values()),
        conversations=len(conversations),
        current_alerts=sum(1 for a in shown_alerts if a["current"]),
        warnings=warnings,
    )


def _alerts_payload(
    alerts: list[dict[str, Any]], visible: dict[str, bool], node_of: dict[str, str]
) -> list[dict[str, Any]]:
    """The alerts as the page shows them (current first, then the latest weeks). An alert about
    a cluster the report does not show (below the marts' or the report's own thresholds) points
    at the "other" node it is folded into, and its message is rewritten without the name."""
    out = []
    for a in alerts:
        cluster = a.get("cluster_id")
        message = a.get("message") or ""
        node = None
        if cluster is not None:
            node = node_of.get(cluster)
            if not visible.get(cluster, False):
                label = ALERT_LABELS.get(a.get("alert_type"), str(a.get("alert_type")))
                facet = f" ({a['facet']}, {a.get('direction')})" if a.get("facet") else ""
                figures = f"observed {_fmt(a.get('observed'))}"
                if a.get("expected") is not None:
                    figures += f", expected {_fmt(a.get('expected'))}"
                if a.get("statistic") is not None:
                    figures += f"; z = {_fmt(a.get('statistic'))}"
                message = (
                    f"{label}{facet} in a cluster below the privacy thresholds ({cluster}) in "
                    f"the week of {_iso(a.get('week_start'))}: {figures}"
                )
        out.append(
            {
                "id": a.get("alert_id"),
                "type": a.get("alert_type"),
                "label": ALERT_LABELS.get(a.get("alert_type"), str(a.get("alert_type"))),
                "severity": a.get("severity"),
                "week": _iso(a.get("week_start")),
                "current": bool(a.get("is_current")),
                "node": node,
                "facet": a.get("facet"),
                "direction": a.get("direction"),
                "statistic": _num(a.get("statistic")),
                "p_value": _num(a.get("p_value")),
                "message": message,
            }
        )
    return out


def _fmt(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "?"
    return f"{number:.1f}" if isinstance(number, float) else str(number)
