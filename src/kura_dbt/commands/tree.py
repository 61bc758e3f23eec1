"""`kura tree`: the cluster hierarchy in the terminal, from DuckDB or Snowflake."""

from __future__ import annotations

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
from kura_dbt.report.text import visible_bidi

console = Console()


def _fmt_pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _fmt_revenue(value: Any) -> str:
    """Users' MRR; "–" when unknown (no users table or no revenue column), never a made-up $0."""
    return "MRR –" if value is None else f"${value:,.0f} MRR"


def tree(
    db: Annotated[Path, db_option("DuckDB file that `dbt build` wrote")] = DEFAULT_DB,
    schema: SchemaOption = None,
    depth: Annotated[int | None, typer.Option(help="Levels to show below the root(s)")] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Show only the subtree of this cluster id")
    ] = None,
    profile: ProfileOption = None,
    target: TargetOption = None,
    profiles_dir: ProfilesDirOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Print the cluster hierarchy with sizes, shares, satisfaction and revenue (from a DuckDB
    file, or from Snowflake with --profile / --target or --connection)."""
    source = marts_source(db, profile, target, profiles_dir, connection)
    con, schema = connect_marts(source, schema)
    try:
        rows = con.execute(
            f"""
            select cluster_id, level, parent_id, name, size, distinct_users,
                   share_of_conversations, thumbs_up_rate, avg_user_frustration, revenue,
                   meets_privacy_threshold, privacy_bucket_id
            from {schema}.kura__clusters
            order by level desc, size desc, cluster_id
            """
        ).fetchall()
        totals = con.execute(
            f"""select count(*), count(summary), sum(case when is_unclustered then 1 else 0 end)
                from {schema}.kura__conversations"""
        ).fetchone()
    finally:
        con.close()
    columns = [
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
    ]
    clusters = [dict(zip(columns, r, strict=True)) for r in rows]
    by_id = {c["cluster_id"]: c for c in clusters}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for c in clusters:
        children.setdefault(c["parent_id"], []).append(c)
    if cluster is not None and cluster not in by_id:
        raise typer.BadParameter(f"no cluster with id {cluster!r}", param_hint="--cluster")
    roots = [by_id[cluster]] if cluster else children.get(None, [])

    # whole numbers, whatever numeric type the warehouse returned (Snowflake: NUMBER)
    totals = [int(v or 0) for v in totals]
    title = (
        f"[bold]{totals[0]} conversations[/], {totals[1]} summarised, "
        f"{len([c for c in clusters if c['level'] == 0])} base clusters"
    )
    if totals[2]:
        title += f", {totals[2]} unclustered"
    root = Tree(title)

    def label(c: dict[str, Any]) -> str:
        if c["visible"]:
            # conversation text: never rich markup, never a bidi control that reorders the line
            name = escape(visible_bidi(c["name"] or c["cluster_id"]))
        else:
            name = "[dim](below privacy threshold)[/]"
        facts = [f"{int(c['size'])} conv", f"{int(c['users'])} users", _fmt_pct(c["share"])]
        if c["thumbs_up"] is not None:
            facts.append(f"👍 {_fmt_pct(c['thumbs_up'])}")
        if c["frustration"] is not None:
            facts.append(f"frustration {c['frustration']:.1f}")
        facts.append(_fmt_revenue(c["revenue"]))
        return f"[bold]{name}[/] [dim]{escape(c['cluster_id'])}[/]  " + " · ".join(facts)

    def add(node: Tree, c: dict[str, Any], remaining: int | None) -> None:
        branch = node.add(label(c))
        if remaining is not None and remaining <= 0:
            return
        add_all(branch, children.get(c["cluster_id"], []), remaining)

    def add_all(node: Tree, group: list[dict[str, Any]], remaining: int | None) -> None:
        """Visible clusters as branches; hidden siblings folded into one "other" line with
        counts only (their names, and everything below them, stay hidden)."""
        hidden: dict[str, list[dict[str, Any]]] = {}
        for c in group:
            if c["visible"]:
                add(node, c, None if remaining is None else remaining - 1)
            else:
                hidden.setdefault(c["bucket"], []).append(c)
        for members in hidden.values():
            size = int(sum(m["size"] for m in members))
            noun = "cluster" if len(members) == 1 else "clusters"
            node.add(
                f"[dim]Other ({len(members)} small {noun}, below the privacy threshold)[/]  "
                f"{size} conv"
            )

    if cluster is not None:
        if not by_id[cluster]["visible"]:
            raise typer.BadParameter(
                f"cluster {cluster!r} is below the privacy threshold", param_hint="--cluster"
            )
        add(root, by_id[cluster], None if depth is None else depth - 1)
    else:
        add_all(root, roots, None if depth is None else depth)
    console.print(root)


def register(app: typer.Typer) -> None:
    app.command(name="tree")(tree)
