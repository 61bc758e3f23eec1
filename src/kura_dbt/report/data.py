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

from .mapdata import MapPoint, map_payload
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
    max_points: int = 200_000
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
        where: object = db
        if isinstance(db, MartsSource):  # Snowflake: its label; a DuckDB file: its path
            where = db.label if db.is_snowflake else db.db
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


@dataclass
class _Marts:
    """The rows the report reads: clusters, conversations and (when built) alerts and weeks."""

    clusters: list[dict[str, Any]]
    conversations: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    weekly: list[dict[str, Any]]
    cluster_facets: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Tree:
    """The clusters as the page shows them: which are visible, the node each one is shown as
    (itself, or the "other" bucket it is folded into), and the page's nodes and roots."""

    by_id: dict[str, dict[str, Any]]
    visible: dict[str, bool]
    chains: dict[str, list[str]]
    node_of: dict[str, str]
    nodes: dict[str, dict[str, Any]]
    roots: list[str]
    hidden: int


@dataclass
class _Placed:
    """Where the conversations go: map points, search entries, shown samples per base
    cluster, facet counts per visible cluster, and counts for the totals."""

    map_points: list[MapPoint] = field(default_factory=list)
    search: list[list[Any]] = field(default_factory=list)
    per_base: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    facets: dict[str, dict[str, Counter]] = field(default_factory=dict)
    unclustered: int = 0
    summarised: int = 0
    withheld: int = 0  # conversations whose summary, request or task the privacy audit withheld


CONVERSATION_COLUMNS = (
    "conversation_id",
    "user_id",
    "turn_count",
    "summary",
    "is_summarised",
    "languages",
    "flags",
    "base_cluster_id",
    "top_cluster_id",
    "distance_to_centroid",
    "is_unclustered",
    "x",
    "y",
    # the map's facets (kura_dbt.report.mapdata)
    "created_at",
    "concerning_score",
    "user_frustration",
    "assignment_status",
    "feedback_count",
    "thumbs_up_rate",
    "avg_rating",
    "revenue",
    "privacy_withheld",
)


def load_report_data(
    db: Path | MartsSource,
    options: ReportOptions | None = None,
    step: Callable[[str], None] | None = None,
) -> ReportData:
    """Read kura__clusters, kura__conversations, kura__cluster_weekly and kura__alerts (when
    the build made them) and build the payload."""
    options = options or ReportOptions()
    step = step or (lambda _msg: None)
    marts = _read_marts(db, options, step)
    step("Folding clusters below the privacy thresholds")
    tree = _fold_clusters(marts.clusters, options)
    step("Computing facets and samples")
    shown, warnings = _sample(marts.conversations, options)
    placed = _place_conversations(marts.conversations, tree, shown)
    _add_facets_and_samples(tree, placed, options)
    for cid, rows in cluster_facets_payload(marts.cluster_facets, tree.visible, options).items():
        tree.nodes[cid]["over_represented"] = rows
    weeks = _add_weekly(tree.nodes, marts.weekly)
    _set_tops(tree)
    shown_alerts = _alerts_payload(marts.alerts, tree.visible, tree.node_of)
    visible_clusters = sum(tree.visible.values())
    # control characters and bidi controls in conversation text (and anywhere else) become
    # visible markers
    payload = visible_all(
        {
            "title": options.title,
            "generated_at": datetime.now().replace(microsecond=0).isoformat(sep=" "),
            "source": db.label if isinstance(db, MartsSource) else Path(db).name,
            "totals": {
                "conversations": len(marts.conversations),
                "summarised": placed.summarised,
                "privacy_withheld": placed.withheld,
                "unclustered": placed.unclustered,
                "clusters": len(marts.clusters),
                "visible_clusters": visible_clusters,
                "hidden_clusters": tree.hidden,
                "base_clusters": sum(1 for c in marts.clusters if c.get("level") == 0),
            },
            "thresholds": {
                "report_min_users": options.min_cluster_users,
                "report_min_conversations": options.min_cluster_conversations,
            },
            "weeks": weeks,
            "nodes": tree.nodes,
            "roots": tree.roots,
            "base_node": {
                cid: tree.node_of[cid] for cid in tree.by_id if tree.by_id[cid].get("level") == 0
            },
            "map": map_payload(
                placed.map_points,
                tree.nodes,
                options.min_cluster_conversations,
                options.min_cluster_users,
                options.facet_top,
            ),
            "search": placed.search,
            "alerts": shown_alerts,
            "warnings": warnings,
        }
    )
    return ReportData(
        payload=payload,
        hidden_clusters=tree.hidden,
        visible_clusters=visible_clusters,
        conversations=len(marts.conversations),
        current_alerts=sum(1 for a in shown_alerts if a["current"]),
        warnings=warnings,
    )


def _read_marts(
    db: Path | MartsSource, options: ReportOptions, step: Callable[[str], None]
) -> _Marts:
    """The marts' rows; kura__alerts and kura__cluster_weekly are optional (older builds)."""
    schema = options.schema
    con = connect(db)
    try:
        step("Reading the marts")
        require_tables(con, db, schema)
        clusters = _records(con, f"select * from {schema}.kura__clusters")
        conv_cols = _columns(con, schema, "kura__conversations")
        select = ", ".join(c if c in conv_cols else f"null as {c}" for c in CONVERSATION_COLUMNS)
        conversations = _records(con, f"select {select} from {schema}.kura__conversations")
        alerts: list[dict[str, Any]] = []
        if ALERT_COLUMNS <= _columns(con, schema, "kura__alerts"):
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
        cluster_facets = _read_cluster_facets(con, schema)
    finally:
        con.close()
    return _Marts(clusters, conversations, alerts, weekly, cluster_facets)


def _children(clusters: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """Each cluster's children (the top level under None), largest first."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for c in clusters:
        children.setdefault(c.get("parent_id"), []).append(c)
    for kids in children.values():
        kids.sort(key=lambda c: (-(c.get("size") or 0), c["cluster_id"]))
    return children


def _meets_thresholds(c: dict[str, Any], options: ReportOptions) -> bool:
    """Whether a cluster meets the marts' privacy flag and the report's own thresholds."""
    flag = c.get("meets_privacy_threshold")
    size = c.get("size") or 0
    return flag is not False and (  # an old mart without the column: the report decides
        size == 0  # a pinned category with no member yet: nothing to hide
        or (
            size >= options.min_cluster_conversations
            and (c.get("distinct_users") or 0) >= options.min_cluster_users
        )
    )


def _visibility(
    clusters: list[dict[str, Any]],
    children: dict[str | None, list[dict[str, Any]]],
    options: ReportOptions,
) -> dict[str, bool]:
    """A cluster is shown when it meets the thresholds and its parent is shown."""
    visible: dict[str, bool] = {}

    def decide(c: dict[str, Any], parent_visible: bool) -> None:
        visible[c["cluster_id"]] = parent_visible and _meets_thresholds(c, options)
        for kid in children.get(c["cluster_id"], []):
            decide(kid, visible[c["cluster_id"]])

    for root in children.get(None, []):
        decide(root, True)
    for c in clusters:  # orphans (should not happen): hidden
        visible.setdefault(c["cluster_id"], False)
    return visible


def _chain(by_id: dict[str, dict[str, Any]], cluster_id: str) -> list[str]:
    """The cluster and its ancestors, the cluster first."""
    out = []
    seen = set()
    cur: str | None = cluster_id
    while cur is not None and cur in by_id and cur not in seen:
        seen.add(cur)
        out.append(cur)
        cur = by_id[cur].get("parent_id")
    return out


def _bucket_id(parent_id: str | None, level: Any) -> str:
    """The id of the "other" node that folds a parent's hidden children at one level."""
    return f"other:{parent_id or 'top'}:L{level}"


def _cluster_node(c: dict[str, Any]) -> dict[str, Any]:
    """The page's node for a visible cluster (children filled in later)."""
    return {
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


def _add_buckets(
    nodes: dict[str, dict[str, Any]], folded: list[dict[str, Any]], node_of: dict[str, str]
) -> None:
    """One "other" node per parent and level for the hidden clusters folded into it: counts
    only, no name, description or samples of what it holds."""
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


def _shown_ids(
    kids: list[dict[str, Any]], visible: dict[str, bool], node_of: dict[str, str]
) -> list[str]:
    """The visible clusters among `kids` in size order, then the "other" buckets."""
    ids = [k["cluster_id"] for k in kids if visible[k["cluster_id"]]]
    buckets = sorted({node_of[k["cluster_id"]] for k in kids if not visible[k["cluster_id"]]})
    return ids + buckets


def _fold_clusters(clusters: list[dict[str, Any]], options: ReportOptions) -> _Tree:
    """Decide which clusters are shown and fold the rest into "other" nodes."""
    by_id = {c["cluster_id"]: c for c in clusters}
    children = _children(clusters)
    visible = _visibility(clusters, children, options)
    chains = {cid: _chain(by_id, cid) for cid in by_id}
    # the node a hidden cluster is shown as: its parent's "other" bucket at its level, or the
    # bucket of its highest hidden ancestor (a hidden cluster's descendants are hidden too)
    node_of: dict[str, str] = {}
    for c in clusters:
        shown = c["cluster_id"]
        for cid in chains[c["cluster_id"]]:  # from the cluster up: the highest hidden wins
            if not visible[cid]:
                shown = _bucket_id(by_id[cid].get("parent_id"), by_id[cid].get("level"))
        node_of[c["cluster_id"]] = shown
    nodes = {c["cluster_id"]: _cluster_node(c) for c in clusters if visible[c["cluster_id"]]}
    hidden = [c for c in clusters if not visible[c["cluster_id"]]]
    folded = [
        c
        for c in hidden
        if node_of[c["cluster_id"]] == _bucket_id(c.get("parent_id"), c.get("level"))
    ]
    _add_buckets(nodes, folded, node_of)
    for c in clusters:  # children in size order, the "other" bucket last
        if visible[c["cluster_id"]]:
            kids = children.get(c["cluster_id"], [])
            nodes[c["cluster_id"]]["children"] = _shown_ids(kids, visible, node_of)
    roots = _shown_ids(children.get(None, []), visible, node_of)
    return _Tree(by_id, visible, chains, node_of, nodes, roots, len(hidden))


def _place_conversations(
    conversations: list[dict[str, Any]], tree: _Tree, on_map: set[int] | None = None
) -> _Placed:
    """Put each conversation on the map and in search (those in `on_map`, all when None), and
    in its clusters' facets and samples; only the summaries of visible clusters are kept. The
    users of each "other" node are counted."""
    placed = _Placed()
    bucket_users: dict[str, set] = {}
    for i, conv in enumerate(conversations):
        base = conv.get("base_cluster_id")
        # the mart hides the summaries below the privacy thresholds, not that they exist
        summarised = conv.get("is_summarised")
        if summarised is None:  # a mart without the column: a summary shown or withheld
            summarised = conv.get("summary") is not None or bool(conv.get("privacy_withheld"))
        if summarised:
            placed.summarised += 1
        if conv.get("privacy_withheld"):
            placed.withheld += 1
        drawn = on_map is None or i in on_map
        has_point = drawn and conv.get("x") is not None and conv.get("y") is not None
        if base is None or base not in tree.by_id:
            placed.unclustered += 1
            if has_point:
                placed.map_points.append(_point(conv, UNCLUSTERED, -1, False, False))
            continue
        shown = tree.node_of[base]
        show_text = tree.visible[base] and conv.get("summary") is not None
        text = -1
        if show_text:
            placed.per_base.setdefault(base, []).append(conv)
            if drawn:
                text = len(placed.search)
                placed.search.append([conv["summary"], base])
        if has_point:
            visible = tree.visible[base]
            placed.map_points.append(_point(conv, shown, text, visible, not visible))
        _count_facets(placed.facets, conv, tree.chains[base], tree.visible)
        if shown in tree.nodes and tree.nodes[shown]["kind"] == "other":
            bucket_users.setdefault(shown, set()).add(
                conv.get("user_id") or f"conv:{conv['conversation_id']}"
            )
    for bid, users in bucket_users.items():
        tree.nodes[bid]["users"] = len(users)
    return placed


def _point(conv: dict[str, Any], node: str, text: int, visible: bool, hidden: bool) -> MapPoint:
    return MapPoint(
        _num(conv["x"]) or 0.0, _num(conv["y"]) or 0.0, node, text, visible, hidden, conv
    )


def _empty_facets() -> dict[str, Counter]:
    return {"languages": Counter(), "flags": Counter(), "turns": Counter()}


def _count_facets(
    facets: dict[str, dict[str, Counter]],
    conv: dict[str, Any],
    path: list[str],
    visible: dict[str, bool],
) -> None:
    """Add a conversation to the facets of every visible cluster it is in (aggregates, not
    samples)."""
    langs = _json_list(conv.get("languages"))
    flags = _json_list(conv.get("flags"))
    turns = _turn_bin(conv.get("turn_count"))
    for cid in path:
        if visible[cid]:
            f = facets.setdefault(cid, _empty_facets())
            f["languages"].update(langs)
            f["flags"].update(flags)
            if turns:
                f["turns"][turns] += 1


def _add_facets_and_samples(tree: _Tree, placed: _Placed, options: ReportOptions) -> None:
    """Each visible cluster's top facets and sample summaries."""
    order = {label: i for i, (label, _, _) in enumerate(TURN_BINS)}
    for cid, node in tree.nodes.items():
        if node["kind"] != "cluster":
            continue
        f = placed.facets.get(cid, _empty_facets())
        node["facets"] = {
            "languages": _top(f["languages"], options.facet_top),
            "flags": _top(f["flags"], options.facet_top),
            "turns": sorted(([k, v] for k, v in f["turns"].items()), key=lambda kv: order[kv[0]]),
        }
        node["samples"] = _samples(cid, tree, placed.per_base, options.samples)


CLUSTER_FACET_COLUMNS = (
    "cluster_id",
    "facet",
    "facet_value",
    "conversations",
    "distinct_users",
    "share_in_cluster",
    "share_overall",
    "lift",
    "z_score",
    "p_value",
    "p_value_bonferroni",
    "meets_privacy_threshold",
)


def _read_cluster_facets(con, schema: str) -> list[dict[str, Any]]:
    """The shown cells of kura__cluster_facets that over-represent their value (lift above 1);
    none when the build made no such mart (older builds)."""
    if not set(CLUSTER_FACET_COLUMNS) <= _columns(con, schema, "kura__cluster_facets"):
        return []
    return _records(
        con,
        f"""select {", ".join(CLUSTER_FACET_COLUMNS)} from {schema}.kura__cluster_facets
            where meets_privacy_threshold and facet_value is not null and lift > 1
            order by cluster_id, lift desc, z_score desc, facet, facet_value""",
    )


def cluster_facets_payload(
    rows: list[dict[str, Any]], visible: dict[str, bool], options: ReportOptions
) -> dict[str, list[dict[str, Any]]]:
    """Per cluster the report shows, the facet values it over-represents most (CLIO's Fig. 7),
    as kura__cluster_facets has them: at most ``options.facet_top``, by lift. Only the mart's
    shown cells, of clusters the report shows, that also meet the report's own thresholds
    (--min-cluster-users / --min-cluster-conversations, per cell): a hidden cluster has none."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cid = r["cluster_id"]
        if (
            not visible.get(cid, False)
            or not r.get("meets_privacy_threshold")
            or r.get("facet_value") is None
            or (r.get("conversations") or 0) < options.min_cluster_conversations
            or (r.get("distinct_users") or 0) < options.min_cluster_users
        ):
            continue
        out.setdefault(cid, []).append(
            {
                "facet": r["facet"],
                "value": r["facet_value"],
                "conversations": _num(r.get("conversations")),
                "share": _num(r.get("share_in_cluster")),
                "overall_share": _num(r.get("share_overall")),
                "lift": _num(r.get("lift")),
                "z": _num(r.get("z_score")),
                "p": _num(r.get("p_value")),
                "p_bonferroni": _num(r.get("p_value_bonferroni")),
            }
        )
    for cid, cells in out.items():
        cells.sort(key=lambda c: (-(c["lift"] or 0), -(c["z"] or 0), c["facet"], c["value"]))
        out[cid] = cells[: options.facet_top]
    return out


def _samples(
    cid: str, tree: _Tree, per_base: dict[str, list[dict[str, Any]]], limit: int
) -> list[str]:
    """The summaries closest to their centroid, taken in turn from each visible base cluster
    underneath (largest first), so that a parent's samples cover its children."""
    by_id = tree.by_id
    bases = [
        b for b in by_id if by_id[b].get("level") == 0 and cid in tree.chains[b] and tree.visible[b]
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
    while len(samples) < limit and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(samples) < limit:
                samples.append(q[depth]["summary"])
        depth += 1
    return samples


def _add_weekly(nodes: dict[str, dict[str, Any]], weekly: list[dict[str, Any]]) -> list[str | None]:
    """Each visible cluster's conversations per week; returns the weeks, oldest first."""
    weeks = sorted({_iso(w["week_start"]) for w in weekly}, key=str)
    week_index = {w: i for i, w in enumerate(weeks)}
    for w in weekly:
        node = nodes.get(w["cluster_id"])
        if node is None or node["kind"] != "cluster":
            continue
        series = node.setdefault("weekly", [0] * len(weeks))
        series[week_index[_iso(w["week_start"])]] = int(w["conversations"] or 0)
    return weeks


def _sample(
    conversations: list[dict[str, Any]], options: ReportOptions
) -> tuple[set[int] | None, list[str]]:
    """Which conversations go on the map and into search: all, or a seeded random
    `max_points` of them (counts, facets and samples still cover all); and the warnings
    saying so."""
    import random

    if len(conversations) <= options.max_points:
        return None, []
    rng = random.Random(options.seed)
    chosen = set(rng.sample(range(len(conversations)), options.max_points))
    n = len(conversations)
    return chosen, [
        f"the map shows a random {options.max_points} of {n} conversations",
        f"search covers the summaries of the same {options.max_points}",
    ]


def _set_tops(tree: _Tree) -> None:
    """Each node's top-level node (as shown: a hidden top cluster is its "other" node)."""
    top_of = {cid: tree.node_of[tree.chains[cid][-1]] for cid in tree.by_id}
    for node in tree.nodes.values():
        if node["kind"] == "cluster":
            node["top"] = top_of.get(node["id"], node["id"])
        else:
            node["top"] = top_of.get(node["parent"], node["id"]) if node["parent"] else node["id"]


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
                label = _alert_label(a.get("alert_type"))
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
                "label": _alert_label(a.get("alert_type")),
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


def _alert_label(alert_type: Any) -> str:
    return ALERT_LABELS.get(str(alert_type), str(alert_type))


def _fmt(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "?"
    return f"{number:.1f}" if isinstance(number, float) else str(number)
