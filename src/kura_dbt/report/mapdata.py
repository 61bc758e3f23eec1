"""The map's payload: every point in compact binary, the cluster labels, and one value per point
for each facet the map can be coloured by.

Encoding (``payload["map"]``): coordinates quantised to 16 bits in the map's bounds (``xy``,
Uint16 pairs: 4 bytes a point), the node each point is shown as (``node``, Uint16 index into
``nodes``), its summary (``text``, Int32 index into ``payload["search"]``, -1 for none), and per
facet its value codes (Uint8, or Uint16 past 255 values), each array base64 of little-endian
bytes. The page decodes them into typed arrays (report.js).

Privacy, as for the rest of the report: a point of a cluster below the thresholds carries its
position and its "other" node only (no summary, code 0 = "not shown" for every facet); content
facets (language, scores, feedback, revenue) are given only for points of visible clusters, where
the summary is shown too; a facet value seen in fewer conversations or distinct users than the
report's thresholds is folded into "other (rare values)". Labels are made for visible clusters
only, so a hidden cluster has no name on the map either.
"""

from __future__ import annotations

import base64
import statistics
import sys
from array import array
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

UNCLUSTERED = "__unclustered__"
NOT_SHOWN = "not shown (below the privacy thresholds)"
RARE = "other (rare values)"
UNKNOWN = "unknown"
# facets whose values say something about what was said: only where the summary is shown
CONTENT_FACETS = ("language", "frustration", "concerning", "feedback", "revenue")
STRUCTURE_FACETS = ("week", "status")
FACET_LABELS = {
    "language": "Language",
    "frustration": "User frustration (1-5)",
    "concerning": "Concerning score (1-5)",
    "feedback": "Feedback",
    "revenue": "Revenue (user's MRR)",
    "week": "Week",
    "status": "Assignment status",
}
# how the page colours a facet: categorical palette, ordered scale (low to high), or by status
FACET_SCALES = {
    "language": "category",
    "frustration": "ordinal",
    "concerning": "ordinal",
    "feedback": "category",
    "revenue": "ordinal",
    "week": "ordinal",
    "status": "category",
}


@dataclass(slots=True)
class MapPoint:
    """One conversation on the map: where, which node it is shown as, its summary's index in the
    search list (-1 when not shown), and whether its cluster is shown (its facets may be)."""

    x: float
    y: float
    node: str
    text: int
    in_visible: bool
    in_hidden: bool
    conv: dict[str, Any]


def b64(values: array) -> str:
    """base64 of the array's bytes, little-endian as typed arrays read them on every browser's
    platform."""
    if sys.byteorder == "big":  # pragma: no cover - no big-endian CI
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def unb64(text: str, typecode: str) -> list[int]:
    values = array(typecode)
    values.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":  # pragma: no cover
        values.byteswap()
    return list(values)


def map_payload(
    points: list[MapPoint],
    nodes: dict[str, dict[str, Any]],
    min_conversations: int = 1,
    min_users: int = 1,
    top_values: int = 12,
) -> dict[str, Any]:
    """The map: points, labels and facets (see the module)."""
    xs = [p.x for p in points] or [0.0]
    ys = [p.y for p in points] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = 65535 / (x1 - x0) if x1 > x0 else 0.0
    sy = 65535 / (y1 - y0) if y1 > y0 else 0.0
    xy = array("H")
    for p in points:
        xy.append(round((p.x - x0) * sx))
        xy.append(round((p.y - y0) * sy))
    node_ids = sorted({p.node for p in points})
    node_index = {n: i for i, n in enumerate(node_ids)}
    return {
        "n": len(points),
        "bounds": [x0, x1, y0, y1],
        "xy": b64(xy),
        "nodes": node_ids,
        "node": b64(array("H", (node_index[p.node] for p in points))),
        "text": b64(array("i", (p.text for p in points))),
        "labels": cluster_labels(points, nodes),
        "facets": [
            facet_payload(key, points, min_conversations, min_users, top_values)
            for key in (*CONTENT_FACETS, *STRUCTURE_FACETS)
        ],
    }


def decode_points(payload: dict[str, Any]) -> list[list[Any]]:
    """The map's points as ``[x, y, node, summary]`` (x, y to within 1/65535 of the bounds);
    for tests and for anyone reading a report's data."""
    m = payload["map"]
    x0, x1, y0, y1 = m["bounds"]
    xy = unb64(m["xy"], "H")
    node = unb64(m["node"], "H")
    text = unb64(m["text"], "i")
    search = payload["search"]
    return [
        [
            x0 + xy[2 * i] * (x1 - x0) / 65535,
            y0 + xy[2 * i + 1] * (y1 - y0) / 65535,
            m["nodes"][node[i]],
            search[text[i]][0] if text[i] >= 0 else None,
        ]
        for i in range(m["n"])
    ]


def decode_facet(payload: dict[str, Any], key: str) -> list[str]:
    """Each point's value of one facet, as the legend names it."""
    facet = next(f for f in payload["map"]["facets"] if f["key"] == key)
    codes = unb64(facet["codes"], "B" if facet["dtype"] == "u8" else "H")
    return [facet["values"][c] for c in codes]


# ---- labels ----------------------------------------------------------------------------------


def _ancestors(nodes: dict[str, dict[str, Any]], node_id: str) -> list[str]:
    """The node and its ancestors that the page shows as clusters (never an "other" node)."""
    out: list[str] = []
    cur = nodes.get(node_id)
    while cur is not None and cur["id"] not in out:
        if cur["kind"] == "cluster":
            out.append(cur["id"])
        cur = nodes.get(cur.get("parent") or "")
    return out


def cluster_labels(points: list[MapPoint], nodes: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One label anchor per visible cluster with points: ``[id, x, y, radius, level, count]``.
    Largest first. See :func:`anchor` for where."""
    members: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    chains: dict[str, list[str]] = {}
    for p in points:
        if p.node not in chains:
            chains[p.node] = _ancestors(nodes, p.node)
        for cid in chains[p.node]:
            xs, ys = members[cid]
            xs.append(p.x)
            ys.append(p.y)
    if not points:
        return []
    x0, x1 = min(p.x for p in points), max(p.x for p in points)
    bounds = (x0, x1, min(p.y for p in points), max(p.y for p in points))
    labels: list[tuple[str, float, float, float, int, int]] = []
    for cid, (xs, ys) in members.items():
        mx, my, radius = anchor(xs, ys, bounds)
        labels.append((cid, mx, my, radius, int(nodes[cid].get("level") or 0), len(xs)))
    labels.sort(key=lambda lab: (-lab[4], -lab[5], lab[0]))
    return [list(lab) for lab in labels]


def anchor(
    xs: list[float], ys: list[float], bounds: tuple[float, ...], grid: int = 40
) -> tuple[float, float, float]:
    """Where a cluster's name goes: in its densest part, not at its mean (a top-level cluster
    can be several blobs apart on the map, its mean in the empty space between). The points
    are counted on a `grid` x `grid` grid over the map, each cell with its 8 neighbours; the
    anchor is the median of the points around the fullest cell, the radius their median
    distance to it (how big that part of the cluster is: the page shows a name once it is big
    enough on screen)."""
    x0, x1, y0, y1 = bounds
    sx = grid / (x1 - x0) if x1 > x0 else 0.0
    sy = grid / (y1 - y0) if y1 > y0 else 0.0
    cells = [
        (min(grid - 1, int((x - x0) * sx)), min(grid - 1, int((y - y0) * sy)))
        for x, y in zip(xs, ys)
    ]
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for cx, cy in cells:
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                counts[(cx + dx, cy + dy)] += 1
    best = max(counts, key=lambda c: (counts[c], -c[0], -c[1]))
    near = [
        i for i, (cx, cy) in enumerate(cells) if abs(cx - best[0]) <= 1 and abs(cy - best[1]) <= 1
    ]
    mx = statistics.median(xs[i] for i in near)
    my = statistics.median(ys[i] for i in near)
    radius = statistics.median(((xs[i] - mx) ** 2 + (ys[i] - my) ** 2) ** 0.5 for i in near)
    return mx, my, radius


# ---- facets ----------------------------------------------------------------------------------


def _week(value: Any) -> str | None:
    if value is None:
        return None
    day = value.date() if isinstance(value, datetime) else value
    if not isinstance(day, date):
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
    return (day - timedelta(days=day.weekday())).isoformat()


def _score(value: Any) -> str | None:
    try:
        return None if value is None else str(int(round(float(value))))
    except (TypeError, ValueError):
        return None


def _language(conv: dict[str, Any]) -> str | None:
    from .data import _json_list

    langs = _json_list(conv.get("languages"))
    return langs[0] if langs else None


def _feedback(conv: dict[str, Any]) -> str:
    if not conv.get("feedback_count"):
        return "no feedback"
    rate = conv.get("thumbs_up_rate")
    if rate is not None:
        return "thumbs up" if float(rate) >= 0.5 else "thumbs down"
    return "rated, no thumbs" if conv.get("avg_rating") is not None else "no feedback"


def raw_value(key: str, conv: dict[str, Any]) -> str | None:
    """One conversation's value of a facet, before folding (None: unknown)."""
    if key == "language":
        return _language(conv)
    if key == "frustration":
        return _score(conv.get("user_frustration"))
    if key == "concerning":
        return _score(conv.get("concerning_score"))
    if key == "feedback":
        return _feedback(conv)
    if key == "week":
        return _week(conv.get("created_at"))
    if key == "status":
        return conv.get("assignment_status") or ("noise" if conv.get("is_unclustered") else None)
    raise KeyError(key)


def _revenue_buckets(points: list[MapPoint]) -> tuple[dict[int, str | None], list[str]]:
    """Revenue in buckets: $0, then the quartiles of the paying users' revenue; returns each
    point's bucket and the buckets in order."""
    paying = sorted(
        float(p.conv["revenue"])
        for p in points
        if p.in_visible and p.conv.get("revenue") is not None and float(p.conv["revenue"]) > 0
    )
    edges = (
        sorted({paying[int(q * (len(paying) - 1))] for q in (0.25, 0.5, 0.75)}) if paying else []
    )
    names = ["$0"] + [
        f"up to ${edges[0]:,.0f}" if k == 0 else f"${edges[k - 1]:,.0f} to ${edges[k]:,.0f}"
        for k in range(len(edges))
    ]
    names.append(f"over ${edges[-1]:,.0f}" if edges else "over $0")
    out: dict[int, str | None] = {}
    for i, p in enumerate(points):
        rev = p.conv.get("revenue")
        if rev is None:
            out[i] = None
        else:
            out[i] = "$0" if float(rev) <= 0 else names[1 + sum(1 for e in edges if float(rev) > e)]
    return out, names


def _order(key: str, counts: dict[str, int], order: list[str]) -> list[str]:
    """The values in legend order: ordered facets low to high, the others most frequent first."""
    if order:
        return [v for v in order if v in counts]
    if FACET_SCALES[key] == "ordinal":
        return sorted(counts)
    return sorted(counts, key=lambda v: (-counts[v], v))


def _raw_values(key: str, points: list[MapPoint]) -> tuple[list[str], list[str]]:
    """Each point's value of one facet before folding (NOT_SHOWN where the thresholds say so,
    UNKNOWN where the marts have none), and the values' fixed order (revenue only)."""
    revenue, order = _revenue_buckets(points) if key == "revenue" else ({}, [])
    raw: list[str] = []
    for i, p in enumerate(points):
        shown = p.in_visible if key in CONTENT_FACETS else not p.in_hidden
        if not shown:
            raw.append(NOT_SHOWN)
            continue
        value = revenue[i] if key == "revenue" else raw_value(key, p.conv)
        raw.append(UNKNOWN if value is None else str(value))
    return raw, order


def _kept_values(
    key: str, raw: list[str], points: list[MapPoint], limits: tuple[int, int, int]
) -> dict[str, int]:
    """The values shown on their own, with their counts: seen in at least `min_conversations`
    conversations of `min_users` distinct users; categories: the `top_values` most frequent."""
    min_conversations, min_users, top_values = limits
    counts: dict[str, int] = defaultdict(int)
    users: dict[str, set] = defaultdict(set)
    for v, p in zip(raw, points, strict=True):
        if v not in (NOT_SHOWN, UNKNOWN):
            counts[v] += 1
            users[v].add(p.conv.get("user_id") or p.conv.get("conversation_id"))
    kept = [v for v in counts if counts[v] >= min_conversations and len(users[v]) >= min_users]
    if FACET_SCALES[key] == "category":  # the most frequent few, the rest folded
        kept = sorted(kept, key=lambda v: (-counts[v], v))[:top_values]
    return {v: counts[v] for v in kept}


def facet_payload(
    key: str,
    points: list[MapPoint],
    min_conversations: int,
    min_users: int,
    top_values: int,
) -> dict[str, Any]:
    """One facet: its values (index 0: not shown) and each point's code."""
    raw, order = _raw_values(key, points)
    kept = _kept_values(key, raw, points, (min_conversations, min_users, top_values))
    values = [NOT_SHOWN, *_order(key, kept, order)]
    index = {v: i for i, v in enumerate(values)}
    codes = []
    for v in raw:
        if v not in index:
            v = UNKNOWN if v == UNKNOWN else RARE
            if v not in index:
                index[v] = len(values)
                values.append(v)
        codes.append(index[v])
    dtype = "u8" if len(values) <= 256 else "u16"
    return {
        "key": key,
        "label": FACET_LABELS[key],
        "scale": FACET_SCALES[key],
        "values": values,
        "emphasis": _emphasis(key, values),
        "dtype": dtype,
        "codes": b64(array("B" if dtype == "u8" else "H", codes)),
    }


def _emphasis(key: str, values: list[str]) -> list[int]:
    """The values that stand out on the map: the latest week (new this week), novel points."""
    if key == "week":
        weeks = [i for i, v in enumerate(values) if v[:1].isdigit()]
        return weeks[-1:] if weeks else []
    if key == "status":
        return [i for i, v in enumerate(values) if v == "novel"]
    return []
