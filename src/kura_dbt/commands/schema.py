"""`kura schema`: the prompts and JSON schemas the Cortex backends send, rendered from the
Python backends' own (kura_dbt.summaries.cortex), as JSON or as the dbt macro file the package
ships in ``macros/cortex/requests.sql``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kura_dbt.commands import output_file, parse_vars


def schema(
    format: Annotated[
        str, typer.Option("--format", help="json (to read) or dbt (the macro file)")
    ] = "json",
    project_dir: Annotated[
        Path | None,
        typer.Option(help="Read kura__extra_facets from this dbt project's dbt_project.yml"),
    ] = None,
    vars: Annotated[
        str | None, typer.Option("--vars", help="YAML vars over the project's, as dbt takes them")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
) -> None:
    """Print the Cortex requests (prompt, response format, prompt version) for summaries and
    cluster names."""
    if format not in ("json", "dbt"):
        raise typer.BadParameter(f"{format!r} is not json or dbt", param_hint="--format")
    from kura_dbt.commands.estimate import project_vars
    from kura_dbt.summaries.cortex import (
        audit_request,
        label_request,
        render_macros,
        summary_request,
    )

    variables = project_vars(project_dir)
    if vars:
        variables.update(parse_vars(vars))
    facets = variables.get("kura__extra_facets") or []
    if format == "dbt":
        text = render_macros(facets)
    elif format == "json":
        text = json.dumps(
            {
                "summary": summary_request(facets),
                "label": label_request(),
                "audit": audit_request(),
            },
            indent=2,
        )
        text += "\n"
    else:
        raise typer.BadParameter("json or dbt", param_hint="--format")
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        output_file(out).write_text(text)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot write {out}: {exc.strerror or exc}", param_hint="--out"
        ) from None


def register(app: typer.Typer) -> None:
    app.command(name="schema")(schema)
