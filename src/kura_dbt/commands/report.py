"""`kura report`: write one self-contained HTML file (map, hierarchy, cluster details, search)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

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
from kura_dbt.display import plural

if TYPE_CHECKING:
    from kura_dbt.report import ReportData, ReportOptions
    from kura_dbt.report.source import MartsSource

console = Console(stderr=True)

STEPS = 4  # the stages that build_report announces (read, fold, facets, write)


def report(
    db: Annotated[Path, db_option("DuckDB file that `dbt build` wrote")] = DEFAULT_DB,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("kura_report.html"),
    schema: SchemaOption = None,
    title: Annotated[str, typer.Option(help="Title of the report")] = "Kura report",
    min_cluster_users: Annotated[
        int,
        typer.Option(
            min=1,
            help="Hide clusters with fewer distinct users (on top of the marts' own threshold)",
        ),
    ] = 1,
    min_cluster_conversations: Annotated[
        int,
        typer.Option(
            min=1,
            help="Hide clusters with fewer conversations (on top of the marts' own threshold)",
        ),
    ] = 1,
    samples: Annotated[
        int, typer.Option(min=0, help="Sample summaries shown per cluster (0 or more)")
    ] = 8,
    max_points: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Most conversations drawn on the map and summaries searched "
                "(a seeded sample beyond)"
            ),
        ),
    ] = 200_000,
    profile: ProfileOption = None,
    target: TargetOption = None,
    profiles_dir: ProfilesDirOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Write one HTML file that opens offline: the map, the hierarchy, each cluster's details and
    search.

    Reads a DuckDB file, or Snowflake with --profile / --target or --connection. The folder of
    --out is created when missing.
    """
    output_file(out)
    source = marts_source(db, profile, target, profiles_dir, connection)
    # a usage error, before any progress, if no build yet; and the schema the marts are in
    con, schema = connect_marts(source, schema)
    con.close()
    try:
        import plotly  # noqa: F401

        from kura_dbt.report import ReportOptions
    except ImportError as exc:
        raise typer.BadParameter(
            f"`kura report` needs the report extra: pip install 'kura-dbt[report]' ({exc})"
        )

    options = ReportOptions(
        schema=schema,
        title=title,
        min_cluster_users=min_cluster_users,
        min_cluster_conversations=min_cluster_conversations,
        samples=samples,
        max_points=max_points,
    )
    data = _build_with_progress(source, out, options)
    _print_summary(out, data)


def _build_with_progress(source: MartsSource, out: Path, options: ReportOptions) -> ReportData:
    """build_report under a progress bar of its steps; a file that cannot be written is a
    message and exit code 1."""
    from kura_dbt.report import build_report

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("Starting", total=STEPS)
        started = [False]

        def step(message: str) -> None:
            if started[0]:
                progress.advance(task)
            started[0] = True
            progress.update(task, description=message)

        marts = source if source.is_snowflake else source.db
        assert marts is not None  # marts_source gives a DuckDB source its file
        try:
            data = build_report(marts, out, options, step)
        except OSError as exc:  # a full disk, a file another program holds
            progress.stop()
            console.print(
                f"kura report: cannot write {out}: {exc.strerror or exc}", highlight=False
            )
            raise typer.Exit(code=1) from None
        progress.advance(task)
        progress.update(task, description="Done")
    return data


def _print_summary(out: Path, data: ReportData) -> None:
    """What the file holds: conversations, clusters shown and hidden, this week's alerts."""
    size_mb = out.stat().st_size / 1e6
    console.print(
        f"Wrote [bold]{out}[/] ({size_mb:.1f} MB): {plural(data.conversations, 'conversation')}, "
        f"{plural(data.visible_clusters, 'cluster')} shown, "
        f"{data.hidden_clusters} below the privacy thresholds."
    )
    if data.current_alerts:
        console.print(
            f"[bold]{plural(data.current_alerts, 'alert')}[/] this week (kura__alerts), "
            "listed at the top"
        )
    for warning in data.warnings:
        console.print(f"[yellow]Note:[/] {warning}")


def register(app: typer.Typer) -> None:
    app.command(name="report")(report)
