"""`kura stage`: put this kura_dbt on a Snowflake stage, where the Python models import it.

On Snowflake a dbt Python model is a Snowpark stored procedure: its ``packages`` come from
Snowflake's Anaconda channel (var ``kura__snowflake_packages``) and everything else from
``imports``, files on a stage. This command zips the installed ``kura_dbt`` package (its
package data included, read through ``importlib.resources`` so that it works from the zip),
plus any pure-Python distribution named with ``--vendor`` that the channel lacks, and uploads
it with the Snowflake connector's PUT as ``<stage>/kura_dbt.zip`` (var ``kura__snowflake_stage``,
default ``@kura_stage``). The models pass the package's expected library version, and a zip of
another version fails with both versions named (``kura_dbt.frames.check_version``).
"""

from __future__ import annotations

import importlib.metadata
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()

ZIP_NAME = "kura_dbt.zip"
DEFAULT_STAGE = "@kura_stage"
# files that cannot be imported from a zip: compiled extensions
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
# a fixed time for every entry, so that the same library gives the same zip
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _package_files(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def _vendor_files(name: str) -> Iterable[tuple[str, Path]]:
    """A distribution's installed files (its top-level modules and package data), refused
    when it has compiled extensions: those come from the Anaconda channel (packages)."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ValueError(f"kura stage: --vendor {name}: not installed here") from exc
    for file in sorted(dist.files or [], key=str):
        posix = PurePosixPath(str(file))
        if posix.suffix in _COMPILED:
            raise ValueError(
                f"kura stage: --vendor {name} has compiled code ({posix}); a zip import cannot "
                "load it. Add it to var kura__snowflake_packages (Snowflake's Anaconda channel) "
                "instead"
            )
        if (
            posix.parts[0].startswith("..")
            or "__pycache__" in posix.parts
            or posix.suffix in (".pyc", ".pyo")
            or posix.parts[0].endswith((".dist-info", ".egg-info", ".data"))
        ):
            continue
        yield str(posix), Path(str(dist.locate_file(file)))


def build_zip(out: Path, vendor: Iterable[str] = ()) -> Path:
    """Zip the installed kura_dbt package (and the ``vendor`` distributions) into ``out``."""
    import kura_dbt

    entries = dict(_package_files(Path(kura_dbt.__file__).resolve().parent, "kura_dbt"))
    for name in vendor:
        entries.update(_vendor_files(name))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            # read_bytes follows links: loaders/message_rules.sql is a link to the dbt macro
            archive.writestr(info, entries[arcname].read_bytes())
    return out


def stage_name(stage: str) -> str | None:
    """The named stage to create for ``@name[/path]`` (None for the user or a table stage)."""
    name = stage.strip().lstrip("@").split("/", 1)[0]
    return None if not name or name.startswith(("~", "%")) else name


def upload(archive: Path, stage: str, connect_kwargs: dict[str, Any], create: bool = True) -> str:
    """PUT ``archive`` onto ``stage`` (created when missing); returns the staged path."""
    import snowflake.connector

    connection = snowflake.connector.connect(**connect_kwargs)
    try:
        cursor = connection.cursor()
        name = stage_name(stage)
        if create and name is not None:
            cursor.execute(f"create stage if not exists {name}")
        location = stage.rstrip("/")
        cursor.execute(
            f"put 'file://{archive.resolve().as_posix()}' {location} "
            "auto_compress = false overwrite = true"
        )
    finally:
        connection.close()
    return f"{location}/{archive.name}"


def stage(
    profile: Annotated[str, typer.Option(help="dbt profile with a Snowflake target")] = "kura",
    target: Annotated[str | None, typer.Option(help="Target of the profile")] = None,
    profiles_dir: Annotated[
        Path | None, typer.Option(help="Folder of profiles.yml (default: as dbt finds it)")
    ] = None,
    stage_path: Annotated[
        str,
        typer.Option("--stage", help="Stage to upload to: the value of var kura__snowflake_stage"),
    ] = DEFAULT_STAGE,
    vendor: Annotated[
        list[str] | None,
        typer.Option(help="A pure-Python distribution to add, not on the Anaconda channel"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also keep the zip here (with --no-upload: only this)")
    ] = None,
    do_upload: Annotated[
        bool, typer.Option("--upload/--no-upload", help="Upload to the stage (default) or not")
    ] = True,
) -> None:
    """Zip the installed kura_dbt library and upload it to a Snowflake stage, where the
    package's Python models import it (IMPORTS = '<stage>/kura_dbt.zip')."""
    from kura_dbt import __version__

    with tempfile.TemporaryDirectory() as tmp:
        archive = build_zip((out or Path(tmp) / ZIP_NAME).with_name(ZIP_NAME), vendor or ())
        size = archive.stat().st_size
        console.print(f"kura_dbt {__version__}: {archive} ({size / 1e6:.1f} MB)")
        if not do_upload:
            return
        from kura_dbt.report.source import load_profile_target, snowflake_connect_kwargs

        try:
            output = load_profile_target(profile, target, profiles_dir)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        if str(output.get("type", "")).lower() != "snowflake":
            raise typer.BadParameter(
                f"target {output['name']!r} of profile {profile!r} is not a Snowflake target"
            )
        staged = upload(archive, stage_path, snowflake_connect_kwargs(output))
    console.print(f"uploaded {staged}: the Python models import it (var kura__snowflake_stage)")


def register(app: typer.Typer) -> None:
    app.command(name="stage")(stage)
