"""`kura tree`: the cluster hierarchy in the terminal, from DuckDB or Snowflake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from kura_dbt.commands import (
    DEFAULT_DB,
    ConnectionOption,
    ProfileOption,
    ProfilesDirOption,
    SchemaOption,
    TargetOption,
    connect_marts,
    db_option,
    marts_source,
)
from kura_dbt.display import plural, visible, visible_all

console = Console()
PIPED_WIDTH = 1_000_000  # lines are not padded to it: each is as long as its text


def _fmt_pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _fmt_revenue(value: Any) -> str:
    """Users' MRR; "–" when unknown (no users table or no revenue column), never a made-up $0."""
    return "MRR –" if value is None else f"${value:,.0f} MRR"


def tree(
    db: Annotated[Path, db_option("DuckDB file that `dbt build` wrote")] = DEFAULT_DB,
    schema: SchemaOption = None,
    depth: Annotated[
        int | None, typer.Option(min=1, help="Levels to show below the root(s), 1 or more")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Show only the subtree of this cluster id")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the tree as JSON (one object) instead")
    ] = False,
    profile: ProfileOption = None,
    target: TargetOption = None,
    profiles_dir: ProfilesDirOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Print the cluster hierarchy with sizes, shares, satisfaction and revenue.

    Reads a DuckDB file, or Snowflake with --profile / --target or --connection. Lines are not
    wrapped when the output is piped (kura tree | grep works); --json prints the same tree for
    a program to read.
    """
    source = marts_source(db, profile, target, profiles_dir, connection)
    clusters, totals = _read(source, schema)
    nodes = _selected_nodes(clusters, cluster, depth)
    base = len([c for c in clusters if c["level"] == 0])
    if as_json:
        document = {
            "conversations": totals[0],
            "summarised": totals[1],
            "unclustered": totals[2],
            "base_clusters": base,
            "clusters": nodes,
        }
        typer.echo(json.dumps(visible_all(document, multiline=False), ensure_ascii=False))
        return
    _print_tree(nodes, totals, base)


def _selected_nodes(
    clusters: list[dict[str, Any]], cluster: str | None, depth: int | None
) -> list[dict[str, Any]]:
    """The nodes to show: the subtree of --cluster (a usage error when it is not there or
    below the privacy threshold), else the whole tree, down to --depth."""
    by_id = {c["cluster_id"]: c for c in clusters}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for c in clusters:
        children.setdefault(c["parent_id"], []).append(c)
    if cluster is None:
        return _group(children.get(None, []), children, depth)
    if cluster not in by_id:
        raise typer.BadParameter(f"no cluster with id {visible(cluster)!r}", param_hint="--cluster")
    if not by_id[cluster]["visible"]:
        raise typer.BadParameter(
            f"cluster {visible(cluster)!r} is below the privacy threshold", param_hint="--cluster"
        )
    return [_node(by_id[cluster], children, None if depth is None else depth - 1)]


def _print_tree(nodes: list[dict[str, Any]], totals: list[int], base: int) -> None:
    """The tree under a title of the totals; unwrapped when piped."""
    title = (
        f"[bold]{plural(totals[0], 'conversation')}[/], {totals[1]} summarised, "
        f"{plural(base, 'base cluster')}"
    )
    if totals[2]:
        title += f", {totals[2]} unclustered"
    root = Tree(title)
    _render(root, nodes)
    # piped: no wrapping or cropping at 80 columns, so that each cluster stays on one line
    (console if console.is_terminal else Console(width=PIPED_WIDTH)).print(root)


_COLUMNS = (
    "cluster_id",
    "level",
    "parent_id",
    "name",
    "size",
    "users",
    "share",
    "thumbs_up",
    "frustration",
    "revenue",
    "visible",
    "bucket",
)


def _read(source: Any, schema: str | None) -> tuple[list[dict[str, Any]], list[int]]:
    con, schema = connect_marts(source, schema)
    try:
        rows = con.execute(
            f"""
            select cluster_id, level, parent_id,
                   coalesce(name, case when meets_privacy_threshold then display_name end) as name,
                   size, distinct_users,
                   share_of_conversations, thumbs_up_rate, avg_user_frustration, revenue,
                   meets_privacy_threshold, privacy_bucket_id
            from {schema}.kura__clusters
            order by level desc, size desc, cluster_id
            """
        ).fetchall()
        conversations = f"{schema}.kura__conversations"
        columns = {
            d[0].lower() for d in con.execute(f"select * from {conversations} limit 0").description
        }
        # the mart hides the summaries below the privacy thresholds, not that they exist
        summarised = "is_summarised" if "is_summarised" in columns else "summary is not null"
        totals = con.execute(
            f"""select count(*), sum(case when {summarised} then 1 else 0 end),
                    sum(case when is_unclustered then 1 else 0 end)
                from {conversations}"""
        ).fetchone()
    finally:
        con.close()
    # whole numbers, whatever numeric type the warehouse returned (Snowflake: NUMBER)
    return [dict(zip(_COLUMNS, r, strict=True)) for r in rows], [int(v or 0) for v in totals]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _node(
    c: dict[str, Any], children: dict[str | None, list[dict[str, Any]]], remaining: int | None
) -> dict[str, Any]:
    """One visible cluster and, down to ``remaining`` more levels, what is below it."""
    below = children.get(c["cluster_id"], [])
    return {
        "cluster_id": c["cluster_id"],
        "name": c["name"] or c["cluster_id"],
        "level": int(c["level"]),
        "size": int(c["size"]),
        "users": int(c["users"]),
        "share": _number(c["share"]),
        "thumbs_up_rate": _number(c["thumbs_up"]),
        "frustration": _number(c["frustration"]),
        "revenue": _number(c["revenue"]),
        "children": []
        if remaining is not None and remaining <= 0
        else _group(below, children, remaining),
    }


def _group(
    group: list[dict[str, Any]],
    children: dict[str | None, list[dict[str, Any]]],
    remaining: int | None,
) -> list[dict[str, Any]]:
    """Visible clusters as nodes; hidden siblings folded into one "other" node per privacy
    bucket with counts only (their names, and everything below them, stay hidden)."""
    nodes: list[dict[str, Any]] = []
    hidden: dict[Any, list[dict[str, Any]]] = {}
    for c in group:
        if c["visible"]:
            nodes.append(_node(c, children, None if remaining is None else remaining - 1))
        else:
            hidden.setdefault(c["bucket"], []).append(c)
    for members in hidden.values():
        nodes.append(
            {
                "cluster_id": None,
                "name": f"Other ({plural(len(members), 'small cluster')}, below the privacy "
                "threshold)",
                "size": int(sum(m["size"] for m in members)),
                "children": [],
            }
        )
    return nodes


def _render(parent: Tree, nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        if node["cluster_id"] is None:
            parent.add(f"[dim]{escape(node['name'])}[/]  {node['size']} conv")
            continue
        _render(parent.add(_label(node)), node["children"])


def _label(node: dict[str, Any]) -> str:
    # text from users: never rich markup, never a control character that drives the terminal
    name, cid = escape(visible(node["name"])), escape(visible(node["cluster_id"]))
    facts = [
        f"{node['size']} conv",
        plural(node["users"], "user"),
        _fmt_pct(node["share"]),
    ]
    if node["thumbs_up_rate"] is not None:
        facts.append(f"👍 {_fmt_pct(node['thumbs_up_rate'])}")
    if node["frustration"] is not None:
        facts.append(f"frustration {node['frustration']:.1f}")
    facts.append(_fmt_revenue(node["revenue"]))
    return f"[bold]{name}[/] [dim]{cid}[/]  " + " · ".join(facts)


def register(app: typer.Typer) -> None:
    app.command(name="tree")(tree)
