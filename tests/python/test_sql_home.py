"""The SQL the library runs has one home, ``kura_dbt.sql``, with one identifier-quoting helper
and one literal helper: no query text and no quoting helper elsewhere in ``src/kura_dbt``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kura_dbt import sql

SRC = Path(__file__).resolve().parents[2] / "src" / "kura_dbt"
HOME = SRC / "sql.py"

# Modules whose queries have not moved yet, each with why: they read the marts or the
# loaders' store from the CLI and the report, outside the models.
PENDING = {
    "commands/taxonomy.py": "kura taxonomy (CLI) reads the marts",
    "commands/tree.py": "kura tree (CLI) reads the marts",
    "loaders/store.py": "the loaders' own DuckDB store",
    "report/data.py": "kura report reads the marts",
}

QUERY = re.compile(
    r"\bselect\b.+\bfrom\b|\binsert\s+into\b|\bdelete\s+from\b|\bmerge\s+into\b"
    r"|\b(create|drop)\s+(or\s+replace\s+)?(temporary\s+)?(table|view)\b",
    re.IGNORECASE | re.DOTALL,
)
# how a SQL quoting helper doubles a quote: '' in a literal, "" in an identifier
QUOTING = re.compile(r"""replace\(\s*(["'])'\1\s*,\s*(["'])''\2\s*\)|'""'""")


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of ``path`` but docstrings; an f-string with ``{}`` for its fields."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            out.append((node.lineno, "".join(str(p) for p in parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docs:
                out.append((node.lineno, node.value))
    return out


def _modules() -> list[tuple[str, Path]]:
    return [
        (path.relative_to(SRC).as_posix(), path)
        for path in sorted(SRC.rglob("*.py"))
        if path != HOME
    ]


def test_no_query_text_outside_the_sql_module():
    found = [
        f"{name}:{line}: {text.strip()[:60]!r}"
        for name, path in _modules()
        if name not in PENDING
        for line, text in _strings(path)
        if QUERY.search(text)
    ]
    assert not found, "SQL outside kura_dbt.sql:\n" + "\n".join(found)


def test_one_quoting_helper():
    found = [
        f"{name}:{n}"
        for name, path in _modules()
        if name not in PENDING
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if QUOTING.search(line)
    ]
    assert not found, "a second SQL quoting helper:\n" + "\n".join(found)


def test_the_pending_list_names_only_modules_that_still_hold_sql():
    """A module that no longer holds query text leaves the list, so it cannot gain some back."""
    holding = {
        name for name, path in _modules() if any(QUERY.search(text) for _, text in _strings(path))
    }
    assert set(PENDING) <= holding, set(PENDING) - holding


def test_quoting_keeps_case_and_escapes():
    assert sql.quote('kura_input_a"b') == '"kura_input_a""b"'
    assert sql.relation("MAIN_KURA_PRIVATE", "kura__summaries") == (
        '"MAIN_KURA_PRIVATE"."kura__summaries"'
    )
    assert sql.literal("it's") == "'it''s'"
    assert sql.literal(None) == "''"


def test_input_views_are_quoted_so_any_model_identifier_works():
    """A model's alias becomes part of its input views' names; quoted, one with a dash or
    upper case still resolves, and the views are dropped at the end."""
    import duckdb

    from kura_dbt.frames import Warehouse

    class Dbt:
        is_incremental = False
        this = type("This", (), {"identifier": "Kura-Summaries"})()

    con = duckdb.connect()
    relation = con.sql("select 'c1' as conversation_id union all select 'c2'")
    frame = relation.df()
    with Warehouse(Dbt(), con, from_duckdb=relation, from_pandas=frame) as wh:
        assert wh.views["from_duckdb"] == '"kura_input_Kura-Summaries_from_duckdb"'
        for view in wh.views.values():
            assert int(wh.query(sql.count_rows(view))["n"].iloc[0]) == 2
        # temporary: a build killed before close() leaves nothing in the target schema (issue 22)
        kept = (
            "select count(*) from duckdb_views() "
            "where view_name like 'kura_input_%' and not temporary"
        )
        assert con.execute(kept).fetchone() == (0,)
    left = con.execute("select count(*) from duckdb_views() where view_name like 'kura_input_%'")
    assert left.fetchone() == (0,)


def test_every_query_parses_as_snowflake_and_duckdb_sql():
    """Each query of kura_dbt.sql, on both of its branches where it has two, parses in both
    dialects (Snowpark's local testing reads session.sql this way; tests/snowflake)."""
    import pytest

    sqlglot = pytest.importorskip("sqlglot")
    from types import SimpleNamespace

    who = SimpleNamespace(name="openai", model="o'model", prompt_version="v1")
    views, state, cols = ('"kura_input_m_a"', '"kura_input_m_b"'), "DB.SCHEMA.T", {"attempts"}
    emb = sql.current_embeddings(*views, "request")
    inputs = sql.classification_inputs(emb, views[1], "summary", False)
    gave_up = cols | {"gave_up"}
    queries = [
        sql.no_rows(state),
        sql.count_rows(views[0]),
        sql.drop_view(views[0]),
        sql.tables_of_schema().replace("?", "'main'"),
        sql.pending_summaries(views[0], None, who, set(), False),
        sql.pending_summaries(views[0], state, who, cols | {"gave_up"}, False),
        sql.parked_summaries(views[0], state, who),
        sql.parked_audits(views[0], state, who),
        sql.average_completion_tokens(state, who),
        sql.pending_embeddings(views[0], None, "summary", who, set(), True),
        sql.pending_embeddings(views[0], state, "request", who, cols, False),
        sql.embeddings_by_model(emb),
        sql.embeddings_by_model(views[0], usable_only=True),
        sql.embeddings_of_model(emb, None),
        sql.embeddings_of_model(emb, "m"),
        sql.embeddings_to_assign(emb, state, "m", "conversation"),
        sql.current_clusters(state, ["cluster_id", "level"], "cluster"),
        sql.last_run(state, "run"),
        sql.conversation_assignments(state, "conversation"),
        sql.clusters_ever(state, "cluster"),
        sql.summary_texts(views[1]),
        sql.map_meta(state),
        sql.embeddings_to_map(views[0], "m"),
        sql.embeddings_not_on_map(views[0], state, "m"),
        sql.anchors_of_map(views[0], state, "m"),
        sql.every_row(views[0]),
        sql.evaluation_of(state, "eval", "v'1", who),
        sql.pending_classifications(inputs, None, "conversation", "v1", who, set(), False),
        sql.pending_classifications(inputs, state, "conversation", "v1", who, gave_up, False),
        sql.clusters_with_parents(views[1], "cluster"),
        sql.discovered_members(views[1], "conversation"),
        sql.training_members(state, emb, views[1], "request", True, "conversation", "v1", 20),
        sql.example_embeddings(state, "example", "v1"),
        sql.embeddings_of_texts(emb, ["a1", "b2"]),
        sql.cortex_answers(views[0], ["a1"]),
        sql.mean_text_length_by_kind(views[0], ["cluster_name", "cluster_keywords"]),
        sql.withheld_cluster_texts(views[0], views[1], state, 3, who, "d1", ["cluster_name"]),
    ]
    for query in queries:
        for dialect in ("snowflake", "duckdb"):
            sqlglot.parse_one(query, read=dialect)
