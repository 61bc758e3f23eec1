"""`kura taxonomy`: export the discovered taxonomy for an analyst to edit and pin, and validate
an edited file (see kura_dbt.taxonomy.pinned for the format)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

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
    output_file,
)

# kura_dbt.taxonomy.pinned is imported inside the commands: the taxonomy package brings
# scikit-learn and pandas, which `kura --help` and the other commands do not need

console = Console(stderr=True)
taxonomy_app = typer.Typer(
    help="Export the discovered taxonomy to pin it (var kura__pinned_taxonomy), or validate one.",
    no_args_is_help=True,
)


def _relation(con: Any, table: str, schemas: list[str]) -> str:
    """The schema-qualified table, looked up in ``schemas`` in order, or a usage error. Names
    compare case-insensitively (Snowflake stores unquoted names in upper case) and are quoted
    as the warehouse stores them."""
    for schema in schemas:
        found = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where upper(table_schema) = upper(?) and upper(table_name) = upper(?)",
            [schema, table],
        ).fetchone()
        if found:
            return f'"{found[0]}"."{found[1]}"'
    raise typer.BadParameter(
        f"no table {table} in schema {' or '.join(schemas)}; run `dbt build` first, or pass "
        "--schema / --private-schema",
        param_hint="--db / --schema",
    )


def export_rows(
    con: Any, schema: str = "main", private_schema: str | None = None, examples: int = 5
) -> list[dict[str, Any]]:
    """The current discovered taxonomy as rows of a taxonomy file: one per current cluster at
    every level (``category_id`` = ``cluster_id`` = the stable id), its parent, name and
    description, and up to ``examples`` redacted example texts (the embedded text of the
    members nearest the centroid; a parent's are taken in turn from its children's)."""
    from kura_dbt.redact import redact

    schemas = [private_schema or f"{schema}_kura_private", schema]
    hierarchy = _relation(con, "kura__cluster_hierarchy", schemas)
    assignments = _relation(con, "kura__conversation_clusters", [schema, *schemas])
    summaries = _relation(con, "kura__summaries", schemas)
    embeddings = _relation(con, "kura__embeddings", schemas)
    clusters = con.execute(
        f"select cluster_id, level, parent_id, name, description from {hierarchy} "
        "order by level desc, size desc, cluster_id"
    ).fetchall()
    texts = _member_texts(con, assignments, summaries, embeddings, examples)
    children: dict[str, list[str]] = {}
    for cluster_id, _, parent_id, _, _ in clusters:
        if parent_id is not None:
            children.setdefault(parent_id, []).append(cluster_id)

    return [
        {
            "category_id": cluster_id,
            "name": name or cluster_id,
            "description": without_count(description or ""),
            "parent_id": parent_id,
            "cluster_id": cluster_id,
            "examples": [redact(t) for t in _examples_of(cluster_id, texts, children, examples)],
        }
        for cluster_id, _, parent_id, name, description in clusters
    ]


# the local labeller's descriptions open with the cluster's size at discovery ("177
# conversations about ..."), true of the discovered taxonomy and stale once the file is pinned
_COUNT = re.compile(r"^\s*\d[\d,]*\s+conversations?\b\s*(?:about\s+)?", re.IGNORECASE)


def without_count(description: str) -> str:
    """A description to pin: the leading conversation count dropped ("177 conversations about
    bus, flight. ..." -> "Conversations about bus, flight. ...")."""
    rest = _COUNT.sub("", description, count=1)
    if rest == description:
        return description
    return f"Conversations about {rest}" if rest and not rest.startswith(".") else rest.lstrip(". ")


def _member_texts(
    con: Any, assignments: str, summaries: str, embeddings: str, examples: int
) -> dict[str, list[str]]:
    """Up to `examples` distinct embedded texts per base cluster, nearest the centroid first."""
    request = "coalesce(nullif(trim(s.request), ''), s.summary)"
    members = con.execute(
        f"""
        select c.cluster_id,
               case when md5({request}) = e.text_hash then {request} else s.summary end as text
        from {assignments} as c
        inner join {summaries} as s on s.conversation_id = c.conversation_id
        inner join {embeddings} as e on e.conversation_id = c.conversation_id
        where c.cluster_id is not null and s.summary is not null
        order by c.cluster_id, c.distance, c.conversation_id
        """
    ).fetchall()
    texts: dict[str, list[str]] = {}
    for cluster_id, text in members:
        shown = texts.setdefault(cluster_id, [])
        if len(shown) < examples and text and text not in shown:
            shown.append(text)
    return texts


def _examples_of(
    cluster_id: str, texts: dict[str, list[str]], children: dict[str, list[str]], examples: int
) -> list[str]:
    """A cluster's example texts: its members' for a base cluster, else taken in turn from its
    children's (kept in `texts` once worked out)."""
    if cluster_id in texts:
        return texts[cluster_id]
    pools = [_examples_of(c, texts, children, examples) for c in children.get(cluster_id, [])]
    out: list[str] = []
    for i in range(examples):
        for pool in pools:
            if i < len(pool) and len(out) < examples and pool[i] not in out:
                out.append(pool[i])
    texts[cluster_id] = out
    return out


@taxonomy_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="File to write: .csv (a dbt seed) or .yml")] = Path(
        "kura_taxonomy.csv"
    ),
    db: Annotated[Path, db_option("DuckDB file that `dbt build` wrote")] = DEFAULT_DB,
    schema: SchemaOption = None,
    private_schema: Annotated[
        str | None,
        typer.Option(help="Schema of the pipeline tables (default: <schema>_kura_private)"),
    ] = None,
    examples: Annotated[int, typer.Option(help="Example texts per category")] = 5,
    profile: ProfileOption = None,
    target: TargetOption = None,
    profiles_dir: ProfilesDirOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Write the discovered taxonomy (id, name, description, parent, cluster id, redacted
    examples) to a file to edit and commit as a seed, then pin with var kura__pinned_taxonomy. Reads
    a DuckDB file, or Snowflake with --profile / --target or --connection."""
    from kura_dbt.taxonomy.pinned import read_file, write_file

    if not out.is_dir() and out.suffix.lower() not in (".csv", ".yml", ".yaml"):
        raise typer.BadParameter(
            f"{out.name}: write a .csv (a dbt seed) or a .yml file", param_hint="--out"
        )
    out = output_file(out)  # a folder is refused; a missing parent folder is created
    source = marts_source(db, profile, target, profiles_dir, connection)
    con, schema = connect_marts(source, schema, ("kura__conversation_clusters",))
    try:
        rows = export_rows(con, schema, private_schema, examples)
    finally:
        con.close()
    if not rows:
        raise typer.BadParameter("the taxonomy is empty: run `dbt build` first", param_hint="--db")
    write_file(rows, out)
    read_file(out)  # what was written validates as it is
    console.print(f"wrote {len(rows)} categories to {out}")


@taxonomy_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="The edited taxonomy file (.csv or .yml)")],
) -> None:
    """Check an edited taxonomy file; every problem is printed with its row and field."""
    from kura_dbt.display import plural
    from kura_dbt.taxonomy.pinned import TaxonomyError, read_file

    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    try:
        taxonomy = read_file(path)
    except TaxonomyError as exc:
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    leaves = taxonomy.leaves()
    console.print(
        f"{path}: {plural(len(taxonomy.categories), 'category', 'categories')} "
        f"({len(leaves)} to classify into), "
        f"version {taxonomy.version}",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(taxonomy_app, name="taxonomy")
