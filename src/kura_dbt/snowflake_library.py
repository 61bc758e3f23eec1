"""What is uploaded where, so that the Snowflake procedures import this library: one home for
`kura stage` (the command line) and the dbt operation `kura_stage_library` (dbt Cloud).

On Snowflake a dbt Python model is a Snowpark stored procedure: its ``packages`` come from
Snowflake's Anaconda channel (var ``kura__snowflake_packages``) and everything else from
``imports``, files on a stage. Snowflake imports Python code from a stage with ``zipimport``
(docs.snowflake.com/en/developer-guide/udf/python/udf-python-limitations), so the library goes
up as one zip, ``kura_dbt.zip``: the installed ``kura_dbt`` package with its package data, read
through ``importlib.resources`` so that it works from the zip.

The stage is always fully qualified, ``@<database>.<schema>.kura_stage`` of the dbt target by
default (var ``kura__snowflake_stage`` names another), so that the procedures find it whatever
schema the session is in: a pull-request schema of a dbt Cloud CI job, a developer's schema.
The dbt package carries the zip (``snowflake/kura_dbt.zip``, kept equal to the library by
tests/snowflake/test_stage_library.py); ``kura stage`` builds it from the installed library.
"""

from __future__ import annotations

import importlib.metadata
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ZIP_NAME = "kura_dbt.zip"
STAGE_NAME = "kura_stage"
# where the dbt package carries the zip, relative to the package's root
PACKAGE_ZIP = PurePosixPath("snowflake") / ZIP_NAME
# files that cannot be imported from a zip: compiled extensions
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
# a fixed time for every entry, so that the same library gives the same zip
_EPOCH = (1980, 1, 1, 0, 0, 0)
# an unquoted Snowflake identifier (docs.snowflake.com/en/sql-reference/identifiers-syntax)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class StageLocation:
    """A named stage, ``@database.schema.name``."""

    database: str
    schema: str
    name: str = STAGE_NAME

    @property
    def stage(self) -> str:
        return f"@{self.database}.{self.schema}.{self.name}"

    @property
    def imports(self) -> str:
        """What the procedures' IMPORTS name."""
        return f"{self.stage}/{ZIP_NAME}"


def stage_location(stage: str | None, database: str, schema: str) -> StageLocation:
    """The stage of var ``kura__snowflake_stage`` (``@database.schema.name``), or
    ``kura_stage`` in the target's database and schema when the var is empty."""
    if not stage or not str(stage).strip():
        return StageLocation(database, schema)
    parts = str(stage).strip().lstrip("@").split(".")
    if len(parts) != 3 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ValueError(
            f"var kura__snowflake_stage is {stage!r}: name a fully qualified stage, "
            "@<database>.<schema>.<stage>, or leave it empty for "
            f"@{database}.{schema}.{STAGE_NAME}"
        )
    return StageLocation(*parts)


def stage_statements(location: StageLocation, archive: str, create_schema: bool) -> list[str]:
    """The statements that put ``archive`` (a local path) on the stage: the schema (when it is
    the target's, which a first build has not made yet), the stage, then the connector's PUT,
    uncompressed (the procedures import the file by its name) and over an older version."""
    statements = [f"create schema if not exists {location.database}.{location.schema}"]
    return [
        *(statements if create_schema else []),
        f"create stage if not exists {location.database}.{location.schema}.{location.name}",
        f"put 'file://{archive}' {location.stage} auto_compress = false overwrite = true",
    ]


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


def library_files(vendor: Iterable[str] = ()) -> dict[str, bytes]:
    """The zip's entries: the installed kura_dbt package (and the ``vendor`` distributions),
    name in the zip -> content."""
    import kura_dbt

    entries = dict(_package_files(Path(kura_dbt.__file__).resolve().parent, "kura_dbt"))
    for name in vendor:
        entries.update(_vendor_files(name))
    # read_bytes follows links: loaders/message_rules.sql is a link to the dbt macro
    return {arcname: entries[arcname].read_bytes() for arcname in sorted(entries)}


def build_zip(out: Path, vendor: Iterable[str] = ()) -> Path:
    """Zip the installed kura_dbt package (and the ``vendor`` distributions) into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, content in library_files(vendor).items():
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return out
