"""AI_CLASSIFY as the pinned taxonomy's classifier (var kura__classifier: cortex), offline: the
SQL model int_kura__cortex_classifications on a fakesnow server with the stand-in (var
kura__cortex_stand_in), which answers the shapes documented in tests/fixtures/cortex/
(ai_classify*.json, each with its source); the real calls compiled against the same server;
and int_kura__classification_state's own code reading the answers, so that kura__classifier_eval
holds the evaluation of AI_CLASSIFY's answers on the held-out members.

The upstream tables (summaries, embeddings, the discovered clusters) are small frames written
to fakesnow here: they are the Python models' outputs, which fakesnow cannot run (see
test_dbt_snowflake.py for the whole pipeline)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

pytest.importorskip("dbt.adapters.snowflake", reason="the snowflake extra is not installed")

from .conftest import DUMMY_PROFILE, REPO, dbt, write_project
from .test_dbt_snowflake import connect, python_nodes, run_python_models, write_table

FIXTURES = REPO / "tests" / "fixtures" / "cortex"
FAIL = "FAIL "  # texts the stand-in answers with an error (var kura__cortex_stand_in_failing)

# a two-level taxonomy (one top-level leaf) whose leaves map discovered clusters, as an edited
# `kura taxonomy export`; cluster c4 is not mapped, so its members are classified by AI_CLASSIFY
TAXONOMY = [
    ("travel", "Travel", "Trips, tickets and bookings.", "", "", "Plan a trip"),
    ("trains", "Train tickets", "Book a train journey.", "travel", "c1", "A train to Boston"),
    ("flights", "Flights", "Find or book a flight.", "travel", "c2", "A flight to Rome"),
    ("code", "Programming", "Write or fix code.", "", "", ""),
    ("python", "Python", "Write or debug Python code.", "code", "c3", "Fix my pandas script"),
    ("sql", "SQL", "Write or tune SQL queries.", "code", "", "A slow join in Postgres"),
    ("billing", "Billing", "Questions about an invoice or a refund.", "", "", "Refund my order"),
]
CLUSTERS = {"c1": "p1", "c2": "p1", "c3": "p2", "c4": "p2"}
PATHS = {"travel": {"trains", "flights"}, "code": {"python", "sql"}}


def _texts() -> list[tuple[str, str, str]]:
    """(conversation id, text, discovered cluster) for 40 conversations, 10 per cluster; the
    stand-in answers the label whose first word a text contains, so the members of the mapped
    clusters are answered right, and c4's are billing or anything (two of them fail)."""
    topics = {
        "c1": "for travel help: train tickets,",
        "c2": "for travel help: flights,",
        "c3": "for programming help: python,",
        "c4": "for help with a database",
    }
    rows = []
    for cluster, topic in topics.items():
        for i in range(10):
            text = f"The user asks {topic} question number {i}."
            if cluster == "c4" and i % 2 == 0:
                text = f"The user asks about billing: a refund question number {i}."
            if cluster == "c4" and i in (1, 3):
                text = FAIL + text
            rows.append((f"{cluster}-{i:02d}", text, cluster))
    return rows


def _server_profile(server: dict[str, Any]) -> dict[str, Any]:
    profile = {
        k: v
        for k, v in server.items()
        if k in ("host", "port", "protocol", "account", "user", "password")
    }
    return profile | {"database": "KURA_DB", "schema": "KURA", "warehouse": "KURA_WH"}


def _project(tmp_path: Path, server: dict[str, Any], **extra: Any) -> Path:
    variables = {
        "kura__cortex_stand_in": True,
        "kura__cortex_stand_in_failing": f"left(input, {len(FAIL)}) = '{FAIL}'",
        "kura__pinned_taxonomy": "KURA_DB.KURA.MY_TAXONOMY",
        "kura__classifier": "cortex",
        "kura__progress": False,
        **extra,
    }
    project = write_project(tmp_path / "project", _server_profile(server), variables)
    # fakesnow cannot create the temporary view of an incremental merge (a temporary relation
    # with a database and schema) nor run that MERGE: a transient table and delete+insert, two
    # settings dbt-snowflake offers, write the same rows (the model's SELECT is unchanged)
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["models"]["kura"]["classification"] = {
        "int_kura__cortex_classifications": {
            "+tmp_relation_type": "transient",
            "+incremental_strategy": "delete+insert",
        }
    }
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config))
    dbt(project, "deps", "--quiet")
    dbt(project, "parse")
    return project


def _relations(project: Path) -> dict[str, str]:
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    return {
        n["name"]: n["relation_name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
    }


def _upstream(project: Path, server: dict[str, Any], taxonomy: list[tuple] = TAXONOMY) -> None:
    """The taxonomy file and the Python models' outputs the classification reads."""
    relations = _relations(project)
    rows = _texts()
    summaries = pd.DataFrame(
        {
            "conversation_id": [c for c, _, _ in rows],
            "summary": [t for _, t, _ in rows],
            "request": [t for _, t, _ in rows],
            "error": [None] * len(rows),
        }
    )
    embeddings = pd.DataFrame(
        {
            "conversation_id": [c for c, _, _ in rows],
            "text_hash": [hashlib.md5(t.encode()).hexdigest() for _, t, _ in rows],
            "model": ["stand-in"] * len(rows),
            "embedding": [json.dumps([1.0, float(i)]) for i in range(len(rows))],
            "error": [None] * len(rows),
        }
    )
    clusters = [("cluster", cid, parent, None, None) for cid, parent in CLUSTERS.items()]
    clusters += [("cluster", p, None, None, None) for p in sorted(set(CLUSTERS.values()))]
    members = [("conversation", cl, None, c, "discovered") for c, _, cl in rows]
    state = pd.DataFrame(
        clusters + members,
        columns=["record_type", "cluster_id", "parent_id", "conversation_id", "status"],
    )
    state["retired_epoch"] = pd.Series([None] * len(state), dtype="Int64")
    file = pd.DataFrame(
        taxonomy,
        columns=["category_id", "name", "description", "parent_id", "cluster_id", "example_1"],
    )
    # each conversation from a user of its own: kura__classifier_eval shows a category whose
    # labelled members meet the privacy thresholds (the package's defaults, 5 and 10)
    facts = pd.DataFrame(
        {"conversation_id": [c for c, _, _ in rows], "user_id": [f"u-{c}" for c, _, _ in rows]}
    )
    with connect(server) as connection:
        cursor = connection.cursor()
        for name in (
            "kura__summaries",
            "kura__embeddings",
            "int_kura__cluster_state",
            "int_kura__conversation_facts",
        ):
            schema = relations[name].rsplit(".", 1)[0]
            cursor.execute(f"create schema if not exists {schema}")
        write_table(connection, relations["kura__summaries"], summaries)
        write_table(connection, relations["kura__embeddings"], embeddings)
        write_table(connection, relations["int_kura__cluster_state"], state)
        write_table(connection, relations["int_kura__conversation_facts"], facts)
        write_table(connection, "KURA_DB.KURA.MY_TAXONOMY", file)


def _rows(server: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    with connect(server) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        names = [d[0].lower() for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _classify(project: Path, *args: str, expect_success: bool = True) -> str:
    models = ["stg_kura__taxonomy", "int_kura__cortex_classifications"]
    return dbt(project, "build", "--select", *models, *args, expect_success=expect_success)[1]


def _shape(value: Any) -> Any:
    """The structure of an answer: keys and value types, not the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def _show(project: Path, sql: str) -> list[tuple]:
    """The rows of `dbt show --inline` (the package's macros rendered in ``sql``)."""
    from dbt.cli.main import dbtRunner

    options = ["--project-dir", str(project), "--profiles-dir", str(project)]
    result = dbtRunner().invoke(["show", "--inline", sql, "--limit", "20", *options])
    assert result.success, result.exception
    return [tuple(row) for row in result.result.results[0].agate_table.rows]


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _check_paths(rows: list[dict[str, Any]]) -> None:
    """Every answered text has one leaf or `other`, reached level by level: a top-level
    category first, then one of its children, one AI_CLASSIFY call per level."""
    leaves = {"trains", "flights", "python", "sql", "billing"}
    for row in rows:
        if row["error"] is not None:
            assert row["category_id"] is None, row
            continue
        path = row["path"].split(" > ")
        assert row["category_id"] in leaves | {"other"}, row
        assert path[-1] == row["category_id"] and row["llm_calls"] == len(path), row
        assert path[0] in {"travel", "code", "billing", "other"}, row
        if path[0] in PATHS:
            assert len(path) == 2 and path[1] in PATHS[path[0]] | {"other"}, row
        else:
            assert len(path) == 1, row
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0, row


def test_ai_classify_level_by_level_with_parked_rows(tmp_path, fakesnow_server):
    project = _project(tmp_path, fakesnow_server)
    _upstream(project, fakesnow_server)
    relation = _relations(project)["int_kura__cortex_classifications"]
    select = f"select * from {relation} order by text_hash"

    _classify(project)
    first = _rows(fakesnow_server, select)
    assert len(first) == 40 and len({r["text_hash"] for r in first}) == 40
    _check_paths(first)
    assert {r["stage"] for r in first} == {"classification"}
    assert {(r["backend"], r["model"]) for r in first} == {("cortex", "ai_classify")}
    failed = [r for r in first if r["error"] is not None]
    assert len(failed) == 2 and all("stand-in: the request failed" in r["error"] for r in failed)
    assert {(r["attempts"], r["gave_up"]) for r in failed} == {(1, False)}
    assert len({r["path"].split(" > ")[0] for r in first if r["error"] is None}) >= 3
    # the stand-in answers the documented shape (return_error_details is on by default)
    answered = next(r for r in first if r["error"] is None)
    expected = _fixture("ai_classify_error_details.json")["answer"]
    assert _shape(json.loads(answered["last_answer"])) == _shape(expected)

    # only the failed rows are sent again, until they are parked after 3 attempts
    done = {r["text_hash"]: r["classified_at"] for r in first if r["error"] is None}
    for attempt in (2, 3):
        _classify(project)
        rows = _rows(fakesnow_server, select)
        assert {r["text_hash"]: r["classified_at"] for r in rows if r["error"] is None} == done
        again = [r for r in rows if r["error"] is not None]
        assert {(r["attempts"], r["gave_up"]) for r in again} == {(attempt, attempt == 3)}
    stamps = {r["text_hash"]: r["classified_at"] for r in rows}
    _classify(project)  # a parked row is not sent again: nothing changes
    assert {r["text_hash"]: r["classified_at"] for r in _rows(fakesnow_server, select)} == stamps
    _classify(project, "--vars", "{kura__llm_retry_gave_up: true}")  # the user asks again
    rows = _rows(fakesnow_server, select)
    assert {r["attempts"] for r in rows if r["error"] is not None} == {4}

    # a changed taxonomy is sent again, every text, counting attempts from 1
    edited = [(*row[:2], row[2] + " Edited.", *row[3:]) for row in TAXONOMY]
    _upstream(project, fakesnow_server, edited)
    _classify(project)
    rows = _rows(fakesnow_server, select)
    assert len({r["taxonomy_hash"] for r in rows}) == 1
    assert rows[0]["taxonomy_hash"] != first[0]["taxonomy_hash"]
    assert {r["attempts"] for r in rows} == {1}
    _check_paths(rows)


def test_every_documented_answer_is_parsed_and_the_real_calls_compile(tmp_path, fakesnow_server):
    project = _project(tmp_path, fakesnow_server, kura__cortex_error_handling="try")
    _upstream(project, fakesnow_server)
    # a build in which every text failed fails (the data test shows the first error) ...
    output = _classify(
        project, "--vars", "{kura__cortex_stand_in_failing: 'true'}", expect_success=False
    )
    assert "kura_cortex_classifications_not_all_failed" in output and "FAIL 1" in output
    _classify(project)  # ... and the next, retrying them, answers
    relation = _relations(project)["int_kura__cortex_classifications"]
    rows = _rows(fakesnow_server, f"select * from {relation}")
    _check_paths(rows)
    # without error details the stand-in answers the bare object, and a failed row is NULL
    expected = json.dumps(_shape(_fixture("ai_classify_labels.json")["answer"]))
    answered = {json.dumps(_shape(json.loads(r["last_answer"]))) for r in rows if not r["error"]}
    assert answered == {expected}
    assert {r["error"] for r in rows if r["error"] is not None} == {
        "Cortex AI_CLASSIFY returned no answer (NULL) at level 1"
    }

    # the parser on each fixture: the label it documents, else an error (CLASSIFY_TEXT's
    # {"label": ...} is not an AI_CLASSIFY answer)
    fixtures = {p.name: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("ai_classify*"))}
    assert len(fixtures) >= 4 and all(f["source"] and "answer" in f for f in fixtures.values())
    values = " union all ".join(
        f"select '{name}' as name, parse_json('{_quoted(json.dumps(f['answer']))}') as answer"
        for name, f in fixtures.items()
    )
    inline = (
        "select name, {{ kura.cortex_classify_label('answer') }} as label, "
        "{{ kura.cortex_classify_error('answer', 1) }} as error from (" + values + ") as f"
    )
    parsed = {r[0]: (r[1], r[2]) for r in _show(project, inline)}
    for name, fixture in fixtures.items():
        label, error = parsed[name]
        assert label == fixture["label"], name
        assert (error is None) == (fixture["label"] is not None), (name, error)

    # the real calls, compiled: one AI_CLASSIFY per level with the categories' descriptions,
    # the file's examples, a task description, `other`, and error details
    dbt(
        project,
        "compile",
        "--select",
        "int_kura__cortex_classifications",
        "--vars",
        "{kura__cortex_stand_in: false, kura__cortex_error_handling: error_details}",
    )
    sql = next((project / "target" / "compiled").rglob("int_kura__cortex_classifications.sql"))
    sql = sql.read_text()
    assert sql.count("ai_classify(") == 3  # the top level, then travel's and code's children
    assert "{'label': 'Travel', 'description': 'Travel: Trips, tickets and bookings.'}" in sql
    assert "{'label': 'other', 'description': 'None of the other categories fits" in sql
    assert "{'input': 'A train to Boston', 'labels': ['Train tickets']" in sql
    assert "'task_description': 'Classify the summary of a conversation" in sql
    assert sql.count("return_error_details => TRUE") == 3
    assert "where chosen = 'travel'" in sql and "contains(" not in sql


def test_the_state_model_takes_the_answers_and_evaluates_them(tmp_path, fakesnow_server):
    """int_kura__classification_state's own code (on DuckDB, its inputs read from fakesnow)
    labels the mapped clusters' members, gives the others AI_CLASSIFY's answer, and evaluates
    AI_CLASSIFY on the same held-out members as every classifier, in kura__classifier_eval."""
    project = _project(tmp_path, fakesnow_server)
    _upstream(project, fakesnow_server)
    _classify(project)
    assert "int_kura__classification_state" in python_nodes(project)
    run_python_models(project, fakesnow_server, ["int_kura__classification_state"])
    marts = ["kura__categories", "kura__conversation_categories", "kura__classifier_eval"]
    # (fakesnow cannot create a unit test's temporary table; the unit tests run on DuckDB)
    dbt(project, "build", "--select", *marts, "--exclude-resource-type", "unit_test")

    relations = _relations(project)
    answers = {
        r["conversation_id"]: r
        for r in _rows(
            fakesnow_server,
            "select e.conversation_id, a.category_id, a.error, a.path "
            f"from {relations['int_kura__cortex_classifications']} as a "
            f"inner join {relations['kura__embeddings']} as e on e.text_hash = a.text_hash",
        )
    }
    rows = _rows(fakesnow_server, f"select * from {relations['kura__conversation_categories']}")
    assert len(rows) == 40 and len({r["conversation_id"] for r in rows}) == 40
    mapped = {"c1": "trains", "c2": "flights", "c3": "python"}
    for row in rows:
        cluster = row["conversation_id"][:2]
        if cluster in mapped:  # a member of a mapped cluster keeps its label
            assert (row["status"], row["category_id"]) == ("labelled", mapped[cluster]), row
            continue
        answer = answers[row["conversation_id"]]
        assert row["classifier"] == "cortex" and row["classifier_model"] == "ai_classify"
        if answer["error"] is not None:  # kept with its error, classified again next build
            assert row["status"] == "error" and "stand-in: the request failed" in row["error"]
        else:  # one category or other: AI_CLASSIFY's answer, reached level by level
            assert row["category_id"] == answer["category_id"], row
            assert row["status"] == ("other" if answer["category_id"] == "other" else "classified")
    statuses = [r["status"] for r in rows]
    assert statuses.count("error") == 2 and statuses.count("labelled") == 30
    assert {answers[f"c4-{i:02d}"]["path"] for i in (0, 2, 4)} == {"billing"}

    evaluation = _rows(fakesnow_server, f"select * from {relations['kura__classifier_eval']}")
    assert {(r["classifier"], r["classifier_model"]) for r in evaluation} == {
        ("cortex", "ai_classify")
    }
    held = {r["category_id"]: r for r in evaluation if r["support"]}
    # 20 % of each mapped cluster's 10 members, answered right by the stand-in's keywords
    assert {c: r["support"] for c, r in held.items()} == {"trains": 2, "flights": 2, "python": 2}
    assert all(r["true_positives"] == r["support"] and r["f1"] == 1.0 for r in held.values())
    assert {r["accuracy"] for r in evaluation} == {1.0}


@pytest.mark.parametrize("target_type", ["duckdb", "snowflake"])
@pytest.mark.parametrize("value", ["auto", " Auto ", "local", "openai", "cortex"])
def test_auto_is_cortex_on_snowflake_as_for_the_other_stages(value, target_type):
    """kura__classifier: auto follows kura.backend() (macros/cortex/backends.sql), which the
    kura_settings object of the Python models writes inline; the default stays local."""
    import jinja2

    class Target(dict):
        __getattr__ = dict.get

    text = (REPO / "python_models" / "_python_models.yml").read_text()
    settings = yaml.safe_load(text)["models"][0]["config"]["meta"]["kura_settings"]
    rendered = (
        jinja2.Environment()
        .from_string(settings)
        .render(
            var=lambda name, default=None: value if name == "kura__classifier" else default,
            target=Target(type=target_type),
            tojson=json.dumps,
        )
    )
    chosen = json.loads(rendered)["classifier"].strip().lower()
    if value.strip().lower() == "auto":
        assert chosen == ("cortex" if target_type == "snowflake" else "local")
    else:
        assert chosen == value
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    assert project["vars"]["kura__classifier"] == "local"


def test_parse_on_snowflake_wires_the_classifier(tmp_path):
    """dbt parse with dummy credentials: with auto on Snowflake the Python state model is
    handed `cortex` and reads the SQL model, which reads the taxonomy, summaries and embeddings."""
    variables = {"kura__pinned_taxonomy": "raw.my_taxonomy", "kura__classifier": "auto"}
    project = write_project(tmp_path / "project", DUMMY_PROFILE, variables)
    dbt(project, "deps", "--quiet")
    dbt(project, "parse", "--no-partial-parse")
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    sql = nodes["int_kura__cortex_classifications"]
    parents = {p.rsplit(".", 1)[-1] for p in sql["depends_on"]["nodes"]}
    assert {"stg_kura__taxonomy", "kura__embeddings", "kura__summaries"} <= parents
    state = nodes["int_kura__classification_state"]
    assert "model.kura.int_kura__cortex_classifications" in state["depends_on"]["nodes"]
    settings = json.loads(state["config"]["meta"]["kura_settings"])
    assert settings["classifier"] == "cortex"
