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


def _optional_relation(con: Any, table: str, schemas: list[str]) -> str | None:
    try:
        return _relation(con, table, schemas)
    except typer.BadParameter:
        return None


def export_rows(
    con: Any,
    schema: str = "main",
    private_schema: str | None = None,
    examples: int = 5,
    thresholds: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The current discovered taxonomy as rows of a taxonomy file: one per current cluster at
    every level (``category_id`` = ``cluster_id`` = the stable id), its parent, name and
    description, and up to ``examples`` redacted example texts (the embedded text of the
    members nearest the centroid; a parent's are taken in turn from its visible children's).

    A cluster below the privacy thresholds is not written by name: the hidden clusters under
    one parent fold into one ``Other (n small clusters)`` category (id ``L<level>-other-<parent
    or top>``, as ``kura__clusters.privacy_bucket_id``) that lists their cluster ids (so their
    conversations stay its labelled members when the file is pinned) with no example, keyword
    or word of theirs; what lies under a hidden cluster is in its fold. Hidden is what the
    marts say (``kura__clusters.meets_privacy_threshold``, the thresholds of the last build)
    and, where ``thresholds`` is given, also below those; a discovered cluster the marts do not
    list (a pinned taxonomy's build, an old warehouse) is held to ``thresholds`` or, with none
    given, to the package's defaults."""
    from kura_dbt.redact import redact

    schemas = [private_schema or f"{schema}_kura_private", schema]
    hierarchy = _relation(con, "kura__cluster_hierarchy", schemas)
    assignments = _relation(con, "kura__conversation_clusters", [schema, *schemas])
    summaries = _relation(con, "kura__summaries", schemas)
    embeddings = _relation(con, "kura__embeddings", schemas)
    clusters = con.execute(
        f"select cluster_id, level, parent_id, name, description, size, distinct_users "
        f"from {hierarchy} order by level desc, size desc, cluster_id"
    ).fetchall()
    visible = _visible(con, schema, clusters, thresholds)
    texts = _member_texts(con, assignments, summaries, embeddings, examples)
    children: dict[str, list[str]] = {}
    for cluster_id, _, parent_id, *_ in clusters:
        if parent_id is not None and cluster_id in visible:
            children.setdefault(parent_id, []).append(cluster_id)
    shown = {cid: (lvl, pid) for cid, lvl, pid, *_ in clusters}
    rows = [
        {
            "category_id": cluster_id,
            "name": name or cluster_id,
            "description": without_count(description or ""),
            "parent_id": parent_id,
            "cluster_id": cluster_id,
            "examples": [redact(t) for t in _examples_of(cluster_id, texts, children, examples)],
        }
        for cluster_id, _, parent_id, name, description, *_ in clusters
        if cluster_id in visible and (parent_id is None or parent_id in visible)
    ]
    return rows + _folds(clusters, visible, shown)


def _visible(
    con: Any, schema: str, clusters: list[tuple[Any, ...]], thresholds: tuple[int, int] | None
) -> set[str]:
    """The ids of the clusters that meet the privacy thresholds (see export_rows);
    ``thresholds``: (distinct users, conversations), as ``kura.meets_privacy_threshold``."""
    from kura_dbt.settings import Settings

    marts = _optional_relation(con, "kura__clusters", [schema])
    flags: dict[str, bool] = {}
    if marts is not None:
        flags = {
            cid: bool(flag)
            for cid, flag in con.execute(
                f"select cluster_id, meets_privacy_threshold from {marts}"
            ).fetchall()
        }
    defaults = (Settings().min_cluster_users, Settings().min_cluster_conversations)
    out = set()
    for cluster_id, _, _, _, _, size, users, *_ in clusters:
        min_users, min_size = thresholds or ((0, 0) if cluster_id in flags else defaults)
        size, users = int(size or 0), int(users or 0)
        meets = size == 0 or (users >= min_users and size >= min_size)
        if flags.get(cluster_id, True) and meets:
            out.add(cluster_id)
    return out


def _folds(
    clusters: list[tuple[Any, ...]], visible: set[str], where: dict[str, tuple[int, Any]]
) -> list[dict[str, Any]]:
    """One ``Other (n small clusters)`` category per visible parent (or the top) and level for
    the hidden clusters under it: their ids, counts in the description, nothing of theirs."""
    folds: dict[tuple[int, Any], list[tuple[str, int]]] = {}
    for cluster_id, level, parent_id, _, _, size, *_ in clusters:
        if cluster_id not in visible and (parent_id is None or parent_id in visible):
            folds.setdefault((int(level), parent_id), []).append((cluster_id, int(size or 0)))
    rows = []
    order = sorted(folds, key=lambda f: (-f[0], str(f[1])))
    for (level, parent_id), members in ((f, folds[f]) for f in order):
        n, size = len(members), sum(s for _, s in members)
        rows.append(
            {
                "category_id": f"L{level}-other-{parent_id or 'top'}",
                "name": f"Other ({n} small cluster{'' if n == 1 else 's'})",
                "description": (
                    f"{n} discovered cluster{'' if n == 1 else 's'} below the privacy thresholds "
                    f"({size} conversations); their names and examples are not exported"
                ),
                "parent_id": parent_id,
                "cluster_id": " ".join(sorted(cid for cid, _ in members)),
                "examples": [],
            }
        )
    return rows


# the local labeller's descriptions open with the cluster's size at discovery ("177
# conversations about ..."), true of the discovered taxonomy and stale once the file is pinned
_COUNT = re.compile(r"^\s*\d[\d,]*\s+conversations?\b\s*", re.IGNORECASE)


def without_count(description: str) -> str:
    """A description to pin: the leading conversation count dropped ("177 conversations about
    bus, flight. ..." -> "Conversations about bus, flight. ...", "60 conversations on various
    subjects, ..." -> "Conversations on various subjects, ...")."""
    rest = _COUNT.sub("", description, count=1)
    if rest == description:
        return description
    return f"Conversations {rest}" if rest and not rest.startswith(".") else rest.lstrip(". ")


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
    min_cluster_users: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Fold clusters with fewer distinct users (on top of the marts' own threshold; "
            "a cluster the marts do not list is held to the package's default thresholds "
            "unless this or --min-cluster-conversations is given)",
        ),
    ] = None,
    min_cluster_conversations: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Fold clusters with fewer conversations (as --min-cluster-users)",
        ),
    ] = None,
    profile: ProfileOption = None,
    target: TargetOption = None,
    profiles_dir: ProfilesDirOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Write the discovered taxonomy (id, name, description, parent, cluster id, redacted
    examples) to a file to edit and commit as a seed, then pin with var kura__pinned_taxonomy. Reads
    a DuckDB file, or Snowflake with --profile / --target or --connection. Clusters below the
    privacy thresholds fold into "Other (n small clusters)" rows with no name or example of
    theirs."""
    from kura_dbt.taxonomy.pinned import read_file, write_file

    thresholds = None
    if min_cluster_users is not None or min_cluster_conversations is not None:
        thresholds = (min_cluster_users or 1, min_cluster_conversations or 1)

    if not out.is_dir() and out.suffix.lower() not in (".csv", ".yml", ".yaml"):
        raise typer.BadParameter(
            f"{out.name}: write a .csv (a dbt seed) or a .yml file", param_hint="--out"
        )
    out = output_file(out)  # a folder is refused; a missing parent folder is created
    source = marts_source(db, profile, target, profiles_dir, connection)
    con, schema = connect_marts(source, schema, ("kura__conversation_clusters",))
    try:
        rows = export_rows(con, schema, private_schema, examples, thresholds)
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
