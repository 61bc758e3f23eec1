"""The one shim between a warehouse and the library: anything a dbt Python model holds -> pandas.

dbt-duckdb hands a model DuckDB relations (``.df()``), dbt-snowflake Snowpark DataFrames
(``.to_pandas()``, upper-case column names). The library only ever sees pandas frames with
lower-case column names, so it never calls a warehouse-specific API.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def to_pandas(obj: Any) -> pd.DataFrame:
    """Convert a DuckDB relation, a Snowpark DataFrame or a pandas DataFrame to pandas."""
    if isinstance(obj, pd.DataFrame):
        frame = obj
    elif hasattr(obj, "to_pandas"):  # Snowpark DataFrame
        frame = obj.to_pandas()
    elif hasattr(obj, "df"):  # DuckDB relation
        frame = obj.df()
    else:
        raise TypeError(
            f"kura: cannot turn a {type(obj).__name__} into a pandas DataFrame; expected a "
            "DuckDB relation, a Snowpark DataFrame or a pandas DataFrame"
        )
    frame = frame.copy()
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


class Warehouse:
    """SQL over a model's inputs and its own previous state, on DuckDB and Snowpark alike.

    The inputs (``dbt.ref(...)`` relations) become temporary views, so a query selects and
    joins in the warehouse and only its result comes into pandas: an incremental model reads
    the new rows, not the table. ``state`` is the model's own table (``{{ this }}``) when the
    build is incremental, else None.
    """

    def __init__(self, dbt: Any, session: Any, **inputs: Any) -> None:
        self.session = session
        self.views: dict[str, str] = {}
        owner = str(getattr(dbt.this, "identifier", "model"))  # models run in parallel threads
        for name, relation in inputs.items():
            view = f"kura_input_{owner}_{name}"
            if hasattr(relation, "create_or_replace_temp_view"):  # Snowpark
                relation.create_or_replace_temp_view(view)
            elif hasattr(relation, "create_view"):  # DuckDB
                relation.create_view(view, replace=True)
            else:  # a pandas frame (tests): registered on the DuckDB connection
                session.register(view, relation)
            self.views[name] = view
        self.state = str(dbt.this) if getattr(dbt, "is_incremental", False) else None

    def query(self, sql: str) -> pd.DataFrame:
        return to_pandas(self.session.sql(sql))

    def close(self) -> None:
        """Drop the input views (Snowpark's temporary views end with the session anyway)."""
        if hasattr(self.session, "unregister") and hasattr(self.session, "execute"):  # DuckDB
            for view in self.views.values():
                self.session.execute(f"drop view if exists {view}")
                self.session.unregister(view)
        self.views = {}

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
