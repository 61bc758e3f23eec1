"""`kura stage`: put this kura_dbt on a Snowflake stage, where the Python models import it.

The command-line twin of the dbt operation ``kura_stage_library`` (what a dbt Cloud job runs):
the same stage, the same statements (kura_dbt.snowflake_library), with the zip built from the
installed library instead of the one the dbt package carries, and optionally more pure-Python
distributions (``--vendor``) that Snowflake's Anaconda channel lacks. The models pass the
package's expected library version, and a zip of another version fails with both versions
named (``kura_dbt.frames.check_version``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kura_dbt.snowflake_library import (
    ZIP_NAME,
    StageLocation,
    build_zip,
    stage_location,
    stage_statements,
)

console = Console()


def upload(archive: Path, location: StageLocation, connect_kwargs: dict[str, Any]) -> str:
    """Create the stage (and the target's schema) and PUT ``archive`` on it; returns the path
    the procedures import."""
    import snowflake.connector

    own_schema = (
        location.database.lower() == str(connect_kwargs.get("database", "")).lower()
        and location.schema.lower() == str(connect_kwargs.get("schema", "")).lower()
    )
    connection = snowflake.connector.connect(**connect_kwargs)
    try:
        cursor = connection.cursor()
        for sql in stage_statements(location, archive.resolve().as_posix(), own_schema):
            cursor.execute(sql)
    finally:
        connection.close()
    return f"{location.stage}/{archive.name}"


def _target_location(
    profile: str, target: str | None, profiles_dir: Path | None, stage: str | None
) -> tuple[StageLocation, dict[str, Any]]:
    from kura_dbt.report.source import load_profile_target, snowflake_connect_kwargs

    try:
        output = load_profile_target(profile, target, profiles_dir)
        if str(output.get("type", "")).lower() != "snowflake":
            raise ValueError(
                f"target {output['name']!r} of profile {profile!r} is not a Snowflake target"
            )
        location = stage_location(stage, str(output["database"]), str(output["schema"]))
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile / --target / --stage") from None
    return location, snowflake_connect_kwargs(output)


def stage(
    profile: Annotated[str, typer.Option(help="dbt profile with a Snowflake target")] = "kura",
    target: Annotated[str | None, typer.Option(help="Target of the profile")] = None,
    profiles_dir: Annotated[
        Path | None, typer.Option(help="Folder of profiles.yml (default: as dbt finds it)")
    ] = None,
    stage_path: Annotated[
        str | None,
        typer.Option(
            "--stage",
            help="@database.schema.stage: the value of var kura__snowflake_stage "
            "(default: @<target database>.<target schema>.kura_stage)",
        ),
    ] = None,
    vendor: Annotated[
        list[str] | None,
        typer.Option(help="A pure-Python distribution to add, not on the Anaconda channel"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also keep the zip here (with --no-upload: where to write it; default "
            f"./{ZIP_NAME})"
        ),
    ] = None,
    do_upload: Annotated[
        bool, typer.Option("--upload/--no-upload", help="Upload to the stage (default) or not")
    ] = True,
) -> None:
    """Zip the installed kura_dbt library and upload it to a Snowflake stage, where the
    package's Python models import it (IMPORTS = '@database.schema.kura_stage/kura_dbt.zip').
    In a dbt Cloud job, `dbt run-operation kura_stage_library` does the same."""
    from kura_dbt import __version__

    if out is None and not do_upload:
        out = Path(ZIP_NAME)  # a zip to upload by hand: kept where the user is, as named
    with tempfile.TemporaryDirectory() as tmp:
        archive = build_zip((out or Path(tmp) / ZIP_NAME).with_name(ZIP_NAME), vendor or ())
        size = archive.stat().st_size
        shown = archive if out is not None else ZIP_NAME  # a temporary copy: only its name
        console.print(f"kura_dbt {__version__}: {shown} ({size / 1e6:.1f} MB)")
        if not do_upload:
            return
        location, connect_kwargs = _target_location(profile, target, profiles_dir, stage_path)
        staged = upload(archive, location, connect_kwargs)
    console.print(f"uploaded {staged}: the Python models import it (var kura__snowflake_stage)")


def register(app: typer.Typer) -> None:
    app.command(name="stage")(stage)
