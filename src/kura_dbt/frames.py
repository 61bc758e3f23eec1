"""The one shim between a warehouse and the library: anything a dbt Python model holds -> pandas,
and the frame a model returns -> what the warehouse writes.

dbt-duckdb hands a model DuckDB relations (``.df()``), dbt-snowflake Snowpark DataFrames
(``.to_pandas()``, upper-case column names, ARRAY columns as JSON text). The library only ever
sees pandas frames with lower-case column names and list values, so it never calls a
warehouse-specific API. On the way out (:func:`to_output`) a Snowpark model returns a Snowpark
DataFrame with upper-case unquoted column names and explicit types, so that the SQL models,
the incremental merge on ``unique_key`` and the next run's reads find ``CONVERSATION_ID``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from kura_dbt import sql

# Snowpark types whose values come back from ``to_pandas`` as JSON text
_JSON_TYPES = {"ArrayType", "VectorType"}


def to_pandas(obj: Any) -> pd.DataFrame:
    """Convert a DuckDB relation, a Snowpark DataFrame or a pandas DataFrame to pandas: column
    names in lower case, a Snowpark ARRAY (or VECTOR) column decoded from JSON into lists."""
    if isinstance(obj, pd.DataFrame):
        frame = obj.copy()
    elif hasattr(obj, "to_pandas"):  # Snowpark DataFrame
        frame = obj.to_pandas()
        for column in _json_columns(obj):
            if column in frame:
                frame[column] = [_from_json(v) for v in frame[column]]
    elif hasattr(obj, "df"):  # DuckDB relation
        frame = obj.df()
    else:
        raise TypeError(
            f"kura: cannot turn a {type(obj).__name__} into a pandas DataFrame; expected a "
            "DuckDB relation, a Snowpark DataFrame or a pandas DataFrame"
        )
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


class WarehouseReader(Protocol):
    """What the library's queries read through: ``views``, the relation (as SQL text) of each
    named input; ``state``, the model's own previous table (None: none yet); ``query``, a
    query's result as pandas. :class:`Warehouse` is the one a Python model holds; ``kura
    estimate`` reads a DuckDB file or Snowflake through its own."""

    @property
    def views(self) -> Mapping[str, str]: ...

    @property
    def state(self) -> str | None: ...

    def query(self, sql: str) -> pd.DataFrame: ...


class Warehouse:
    """SQL over a model's inputs and its own previous state, on DuckDB and Snowpark alike.

    The inputs (``dbt.ref(...)`` relations) become temporary views, so a query selects and
    joins in the warehouse and only its result comes into pandas: an incremental model reads
    the new rows, not the table. ``views`` has each view's quoted name (the view is created
    under that quoted name, so it resolves with its case on Snowflake too). ``state`` is the
    model's own table as dbt renders ``{{ this }}`` when the build is incremental, else None.
    """

    def __init__(self, dbt: Any, session: Any, **inputs: Any) -> None:
        self.session = session
        self.views: dict[str, str] = {}
        self._created: list[str] = []
        owner = str(getattr(dbt.this, "identifier", "model"))  # models run in parallel threads
        for name, relation in inputs.items():
            view = f"kura_input_{owner}_{name}"
            if hasattr(relation, "create_or_replace_temp_view"):  # Snowpark
                relation.create_or_replace_temp_view(sql.quote(view))
            elif hasattr(relation, "sql_query"):  # DuckDB
                # a temporary view: DuckDBPyRelation.create_view makes a persistent one in the
                # default (target) schema, which a build killed before close() left there,
                # readable by every BI user (issue 22)
                session.execute(sql.temp_view(sql.quote(view), relation.sql_query()))
            else:  # a pandas frame (tests): registered on the DuckDB connection
                session.register(view, relation)
            self.views[name] = sql.quote(view)
            self._created.append(view)
        self.state = str(dbt.this) if getattr(dbt, "is_incremental", False) else None

    def query(self, sql: str) -> pd.DataFrame:
        return to_pandas(self.session.sql(sql))

    def close(self) -> None:
        """Drop the input views (Snowpark's temporary views end with the session anyway)."""
        if hasattr(self.session, "unregister") and hasattr(self.session, "execute"):  # DuckDB
            for view in self._created:
                self.session.execute(sql.drop_view(sql.quote(view)))
                self.session.unregister(view)
        self.views, self._created = {}, []

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_columns(df: Any) -> list[str]:
    """The columns of a Snowpark DataFrame that hold arrays (``to_pandas`` gives JSON text)."""
    fields = getattr(getattr(df, "schema", None), "fields", None) or []
    return [str(f.name).strip('"') for f in fields if type(f.datatype).__name__ in _JSON_TYPES]


def _from_json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return None if _missing(value) else value


def is_snowpark(session: Any) -> bool:
    """Whether ``session`` is a Snowpark session (a live one or Snowpark's local testing)."""
    return type(session).__module__.startswith("snowflake.snowpark")


def to_output(frame: pd.DataFrame, session: Any) -> Any:
    """What a Python model returns for ``frame``. DuckDB writes the pandas frame as it is. On
    Snowpark: a Snowpark DataFrame with upper-case unquoted column names (so that SQL, the
    incremental merge and later reads resolve ``conversation_id``), types from the frame's
    dtypes (lists -> ARRAY, naive datetimes -> TIMESTAMP_NTZ, nullable integers -> NUMBER) and
    ``None`` for every missing value (Snowpark cannot write ``pd.NA``)."""
    if not is_snowpark(session):
        return frame
    from snowflake.snowpark.types import StructField, StructType

    columns = [str(c) for c in frame.columns]
    kinds = [_snowpark_type(frame[c]) for c in frame.columns]
    schema = StructType(
        [
            StructField(c.upper(), kind, nullable=True)
            for c, kind in zip(columns, kinds, strict=True)
        ]
    )
    rows = [
        [_plain(v) for v in row] for row in frame.astype(object).itertuples(index=False, name=None)
    ]
    return session.create_dataframe(rows, schema=schema)


def _snowpark_type(column: pd.Series) -> Any:
    from snowflake.snowpark import types as t

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return t.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return t.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return t.DoubleType()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return t.TimestampType(t.TimestampTimeZone.NTZ)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return t.StringType()
    sample = next((v for v in column if not _missing(v)), None)
    if isinstance(sample, list | tuple | np.ndarray):
        return t.ArrayType(t.DoubleType())
    if isinstance(sample, bool | np.bool_):
        return t.BooleanType()
    if isinstance(sample, int | np.integer):
        return t.LongType()
    if isinstance(sample, float | np.floating):
        return t.DoubleType()
    if isinstance(sample, datetime | pd.Timestamp):
        return t.TimestampType(t.TimestampTimeZone.NTZ)
    return t.StringType()


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _plain(value: Any) -> Any:
    """A value Snowpark can write: None for pd.NA / NaN / NaT, Python scalars and lists."""
    if isinstance(value, np.ndarray | list | tuple):
        return [_plain(v) for v in value]
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def settings_of(meta: Mapping[str, Any] | None) -> Any:
    """The ``kura_settings`` of a Python model's ``meta`` (the kura__ vars as one JSON object),
    after the version handshake: the dbt package names the library version it was released
    with (``kura_version``), and a different library fails here, naming both, instead of
    failing later in a way nobody can read (on Snowflake: the zip on the stage, uploaded by
    ``kura stage`` or an older ``kura_stage_library`` run, is older or newer than the package)."""
    meta = dict(meta or {})
    check_version(meta.get("kura_version"))
    return meta.get("kura_settings")


def check_version(expected: Any) -> None:
    """Fail when this library is not the version the dbt package expects (None: no check)."""
    from kura_dbt import __version__

    if expected is None or str(expected).strip() == __version__:
        return
    raise RuntimeError(
        f"kura: the kura dbt package expects the kura_dbt library {str(expected).strip()}, "
        f"but the library it imported is kura_dbt {__version__}. Install "
        f"kura-dbt=={str(expected).strip()} where dbt runs; on Snowflake, run "
        "`dbt run-operation kura_stage_library` (or `kura stage` with that version installed), "
        "so that the zip the Python models import (var kura__snowflake_stage) matches the package"
    )
