"""The Python models, as dbt-snowflake runs them, on Snowpark's local testing: each model's own
``model(dbt, session)`` (python_models/*.py) gets Snowpark DataFrames built from the sample
data, its result is written the way dbt-snowflake writes it (``save_as_table``, then a MERGE
on ``unique_key`` when incremental), and the next model reads that table back.

What it proves: the models' inputs become temporary views and the library's queries read them
and the model's own previous state (``{{ this }}``) through ``session.sql``; the columns
written resolve as CONVERSATION_ID etc. (upper-case, unquoted); embeddings written as ARRAY
come back as JSON text and are decoded; no pd.NA reaches Snowpark; a second, incremental run
merges. What it cannot: see docs/SNOWFLAKE.md, "Checked against documentation only".
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import yaml

pytest.importorskip("snowflake.snowpark", reason="the snowflake extra is not installed")

from kura_dbt import __version__  # noqa: E402

from .local_snowpark import local_session  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATABASE, SCHEMA = "KURA_DB", "KURA_PRIVATE"
SETTINGS = {"projector": "pca", "progress": False, "max_top_clusters": 4}


class FakeConfig:
    """``dbt.config``: callable (the model's own config call) with ``get`` for ``meta``."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.model_config: dict[str, Any] = {}

    def __call__(self, **kwargs: Any) -> None:
        self.model_config.update(kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return self.meta if key == "meta" else default


class This:
    def __init__(self, identifier: str) -> None:
        self.database, self.schema, self.identifier = DATABASE, SCHEMA, identifier

    def __repr__(self) -> str:  # as dbt-snowflake renders {{ this }}: unquoted
        return f"{self.database}.{self.schema}.{self.identifier}"


def run_model(session: Any, name: str, refs: dict[str, Any], meta: dict[str, Any]) -> Any:
    """Run python_models/<name>.py as dbt-snowflake would and write its table; returns it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "python_models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    target = f"{DATABASE}.{SCHEMA}.{name}"
    incremental = _exists(session, target)
    config = FakeConfig(meta)
    dbt = SimpleNamespace(
        ref=lambda ref: refs[ref], config=config, this=This(name), is_incremental=incremental
    )
    result = module.model(dbt, session)
    assert not isinstance(result, pd.DataFrame), "a Snowpark model must return Snowpark"
    if not incremental:
        result.write.mode("overwrite").save_as_table(target)
    else:  # dbt-snowflake: the result into a temporary table, then MERGE on the unique key
        from snowflake.snowpark.functions import when_matched, when_not_matched

        key = config.model_config["unique_key"].upper()
        source = session.table(_temp(session, result, f"{target}__DBT_TMP"))
        table = session.table(target)
        values = {c: source[c] for c in source.columns}
        table.merge(
            source,
            table[key] == source[key],
            [when_matched().update(values), when_not_matched().insert(values)],
        )
    return session.table(target)


def _temp(session: Any, frame: Any, name: str) -> str:
    frame.write.mode("overwrite").save_as_table(name, table_type="temporary")
    return name


def _exists(session: Any, name: str) -> bool:
    try:
        session.table(name).schema  # noqa: B018 - raises when the table does not exist
    except Exception:  # noqa: BLE001
        return False
    return True


def transcripts(n: int, changed: str | None = None) -> pd.DataFrame:
    """int_kura__transcripts for the first ``n`` sample conversations (as its SQL builds it:
    the turns as JSON and their md5), with upper-case columns as Snowflake returns them."""
    messages = pd.read_csv(REPO / "seeds" / "kura_sample_messages.csv")
    ids = sorted(messages["conversation_id"].unique())[:n]
    rows = []
    for cid in ids:
        turns = messages[messages["conversation_id"] == cid].sort_values("message_index")
        text = [{"role": r, "content": c} for r, c in zip(turns["role"], turns["content"])]
        if cid == changed:
            text.append({"role": "user", "content": "And how do I cancel the booking again?"})
        body = json.dumps(text)
        rows.append((cid, body, hashlib.md5(body.encode()).hexdigest()))
    return pd.DataFrame(rows, columns=["CONVERSATION_ID", "MESSAGES_JSON", "CONTENT_HASH"])


def conversations() -> pd.DataFrame:
    """stg_kura__conversations of the sample conversations (the columns the staging model
    always writes: id, user, start), upper-case as Snowflake returns."""
    frame = pd.read_csv(REPO / "seeds" / "kura_sample_conversations.csv", dtype=str)
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame[["conversation_id", "user_id", "created_at"]].rename(columns=str.upper)


@pytest.fixture(scope="module")
def session():
    session = local_session()
    yield session
    session.close()


def meta() -> dict[str, Any]:
    models = yaml.safe_load((REPO / "python_models" / "_python_models.yml").read_text())
    version = models["models"][0]["config"]["meta"]["kura_version"]
    return {"kura_settings": json.dumps(SETTINGS), "kura_version": version}


TAXONOMY_COLUMNS = ["CATEGORY_ID", "NAME", "DESCRIPTION", "PARENT_ID", "CLUSTER_ID"]
CORTEX_COLUMNS = ["TEXT_HASH", "CATEGORY_ID", "PATH", "NOTE", "ERROR"]


def build(session: Any, n: int, changed: str | None = None) -> dict[str, Any]:
    from snowflake.snowpark.types import StringType, StructField, StructType

    tables: dict[str, Any] = {
        "int_kura__transcripts": session.create_dataframe(transcripts(n, changed)),
        # each conversation's user: the privacy thresholds (kura_dbt.taxonomy.privacy)
        "stg_kura__conversations": session.create_dataframe(conversations()),
        "stg_kura__taxonomy": session.create_dataframe(
            [], schema=StructType([StructField(c, StringType()) for c in TAXONOMY_COLUMNS])
        ),
        # AI_CLASSIFY's answers (a SQL model, empty unless kura__classifier is cortex)
        "int_kura__cortex_classifications": session.create_dataframe(
            [], schema=StructType([StructField(c, StringType()) for c in CORTEX_COLUMNS])
        ),
    }
    for name in (
        "kura__summaries",
        "kura__embeddings",
        "int_kura__cluster_state",
        "int_kura__map_points",
        "int_kura__classification_state",
    ):
        tables[name] = run_model(session, name, tables, meta())
    return tables


def test_models_run_on_snowpark_and_merge_incrementally(session):
    from snowflake.snowpark.functions import col

    first = build(session, 60)
    summaries = first["kura__summaries"]
    assert summaries.columns[0] == "CONVERSATION_ID"
    assert all(c == c.upper() and not c.startswith('"') for c in summaries.columns)
    assert summaries.count() == 60
    # NULLs (no pd.NA) where the local summariser cannot judge
    assert summaries.filter(col("CONCERNING_SCORE").is_null()).count() == 60
    embeddings = first["kura__embeddings"]
    kind = {f.name: type(f.datatype).__name__ for f in embeddings.schema.fields}
    assert kind["EMBEDDING"] == "ArrayType" and kind["EMBEDDED_AT"] == "TimestampType"
    raw = embeddings.to_pandas()["EMBEDDING"].iloc[0]
    assert isinstance(raw, str)  # as on Snowflake: ARRAY comes back as JSON text ...
    from kura_dbt import frames

    decoded = frames.to_pandas(embeddings)["embedding"].iloc[0]
    assert isinstance(decoded, list) and len(decoded) == 384  # ... and frames decodes it
    state = first["int_kura__cluster_state"].to_pandas()
    assert (state["RECORD_TYPE"] == "conversation").sum() == 60
    assert set(state["CLUSTER_ID"].dropna()) and (state["RECORD_TYPE"] == "run").sum() == 1
    points = first["int_kura__map_points"]
    assert points.count() == 60 and "X" in points.columns
    assert first["int_kura__classification_state"].count() == 0  # discovery mode

    changed = sorted(summaries.to_pandas()["CONVERSATION_ID"])[3]
    before = summaries.filter(col("CONVERSATION_ID") == changed).to_pandas()["CONTENT_HASH"][0]
    second = build(session, 75, changed=changed)
    summaries = second["kura__summaries"].to_pandas()
    assert len(summaries) == 75 and summaries["CONVERSATION_ID"].is_unique  # merged
    after = summaries.loc[summaries["CONVERSATION_ID"] == changed, "CONTENT_HASH"].iloc[0]
    assert after != before
    assert second["kura__embeddings"].count() == 75
    state = second["int_kura__cluster_state"].to_pandas()
    assert (state["RECORD_TYPE"] == "conversation").sum() == 75
    assert (state["RECORD_TYPE"] == "run").sum() == 2  # the second run assigned, one row more
    assert second["int_kura__map_points"].count() == 75


def test_a_library_of_another_version_fails_naming_both(session):
    from kura_dbt import frames

    with pytest.raises(RuntimeError, match=rf"expects the kura_dbt library 9\.9\.9.*{__version__}"):
        frames.settings_of({"kura_settings": "{}", "kura_version": "9.9.9"})
    assert frames.settings_of({"kura_settings": "{}", "kura_version": __version__}) == "{}"


def test_the_api_key_comes_from_a_snowflake_secret_inside_a_procedure(monkeypatch):
    import sys

    from kura_dbt.llm import SNOWFLAKE_SECRET_NAME, LLMSettings, read_api_key

    monkeypatch.setenv("OPENAI_API_KEY", "from-the-environment")
    assert read_api_key(LLMSettings()) == "from-the-environment"  # outside Snowflake
    asked = []

    def secret(name: str) -> str:
        asked.append(name)
        return "from-the-secret"

    monkeypatch.setitem(
        sys.modules, "_snowflake", SimpleNamespace(get_generic_secret_string=secret)
    )
    assert read_api_key(LLMSettings()) == "from-the-secret"
    assert asked == [SNOWFLAKE_SECRET_NAME]

    def unbound(name: str) -> str:
        raise ValueError("no secret bound")

    monkeypatch.setitem(
        sys.modules, "_snowflake", SimpleNamespace(get_generic_secret_string=unbound)
    )
    with pytest.raises(RuntimeError, match="kura__snowflake_secret"):
        read_api_key(LLMSettings())
