"""The `kura` command line: look at what `dbt build` produced."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="kura",
    help="Kura for the warehouse: explore the clusters that the `kura` dbt package built.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def version() -> None:
    """Print the library version."""
    from kura_dbt import __version__

    console.print(__version__)


def _register_commands() -> None:
    """Commands in kura_dbt.commands.<name> expose `register(app)`; each is optional so that a
    command whose extra dependencies are missing never breaks the others."""
    import importlib

    for module_name in (
        "tree",
        "load",
        "report",
        "estimate",
        "taxonomy",
        "schema",
        "settings",
        "stage",
    ):
        try:
            module = importlib.import_module(f"kura_dbt.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"kura_dbt.commands.{module_name}":
                continue
            raise
        module.register(app)


_register_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
