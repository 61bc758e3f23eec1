"""The `kura` command line: look at what `dbt build` produced."""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

console = Console()

_SINGLE_NEWLINE = re.compile(r"(?<!\n)\n(?!\n)")


def _one_line_paragraphs(text: str | None) -> str | None:
    """Help text whose paragraphs are each one line, so that `--help` wraps them to the
    terminal instead of breaking where the source line ended."""
    if not text:
        return text
    return _SINGLE_NEWLINE.sub(" ", inspect.cleandoc(text))


def _quiet_flags(params: list[Any]) -> None:
    """No type for a flag (it takes no value); an argument named in capitals in the usage
    line (`kura load [OPTIONS] FILE`)."""
    for param in params:
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.name.upper()


def _tidy(command: Any, ctx: Any) -> None:
    """A command's help as `--help` should show it: paragraphs on one line, the first as the
    short help, and the parameters as :func:`_quiet_flags` shows them."""
    if getattr(command, "_kura_tidy", False):
        return
    command._kura_tidy = True
    command.help = _one_line_paragraphs(command.help)
    pieces = command.collect_usage_pieces
    # a required argument as FILE, not {FILE}: the usage line reads as the README writes it
    command.collect_usage_pieces = lambda ctx: [
        re.sub(r"^\{(.*)\}$", r"\1", p) for p in pieces(ctx)
    ]
    if command.help and not command.short_help:
        command.short_help = command.help.split("\n\n", 1)[0]
    _quiet_flags(command.get_params(ctx))
    for sub in getattr(command, "commands", {}).values():  # `kura taxonomy export`, ...
        _tidy(sub, ctx)


class KuraGroup(TyperGroup):
    """The `kura` group: every command's help tidied the same way (see :func:`_tidy`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _quiet_flags(params)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _tidy(command, ctx)
        return command

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        for name in names:  # the commands panel of `kura --help` shows their short help
            command = super().get_command(ctx, name)
            if command is not None:
                _tidy(command, ctx)
        return names


app = typer.Typer(
    name="kura",
    cls=KuraGroup,
    help="Kura for the warehouse: explore the clusters that the `kura` dbt package built.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from kura_dbt import __version__

        console.print(f"kura {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the library version and exit.",
        ),
    ] = False,
) -> None:
    """Kura for the warehouse: explore the clusters that the `kura` dbt package built."""


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
