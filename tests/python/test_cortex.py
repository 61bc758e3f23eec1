"""The Snowflake Cortex backends: one source for their prompts and schemas, one rule for which
backend runs, and `kura tree` / `kura report` reading Snowflake (offline, on fakesnow).

The stand-ins answer as Snowflake documents: tests/fixtures/cortex/ holds each answer shape
with its source, and macros/cortex/stand_ins.sql is rendered from it here.

What this does not prove: that Snowflake accepts the generated AI_COMPLETE call (the
response_format object, show_details, return_error_details), AI_EMBED or COUNT_TOKENS; fakesnow
has no Cortex functions, so the models are compiled for Snowflake
(tests/snowflake/test_cortex_compile.py) and run only with the stand-ins (var
kura__cortex_stand_in, tests/snowflake/test_cortex_answers.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pytest
import yaml

from kura_dbt.summaries.cortex import (
    cortex_schema,
    label_request,
    render_macros,
    sql_object_literal,
    summary_request,
)

ROOT = Path(__file__).resolve().parents[2]
FACETS = [
    {"name": "product_area", "question": "Which area?", "type": "choice", "values": ["a", "b"]},
    {"name": "urgency", "question": "How urgent?", "type": "score"},
]


# ---- one source: the shipped macro file is what the library renders ---------------------------


def test_the_shipped_request_macros_are_what_the_library_renders():
    shipped = (ROOT / "macros" / "cortex" / "requests.sql").read_text()
    assert shipped == render_macros(), (
        "macros/cortex/requests.sql is stale: run `kura schema --format dbt "
        "--out macros/cortex/requests.sql`"
    )


def _macro_values(text: str) -> dict[str, dict]:
    """Render the macro file with Jinja as dbt would (adapter.dispatch, fromjson, return)."""
    returned: dict[str, dict] = {}
    env = jinja2.Environment()
    module: list = []

    class Adapter:
        def dispatch(self, name, namespace):
            return getattr(module[0], f"default__{name}")

    def give(value):  # dbt's return() stops the macro; here the innermost value is kept
        if isinstance(value, dict):
            returned["v"] = value
        return ""

    env.globals.update(fromjson=json.loads, adapter=Adapter(), **{"return": give})
    module.append(env.from_string(text).module)
    values = {}
    for name in ("cortex_summary_request", "cortex_label_request", "cortex_audit_request"):
        getattr(module[0], name)()
        values[name] = returned["v"]
    return values


def test_the_macros_give_dbt_the_python_prompts_and_schemas():
    from kura_dbt.labels.openai import LABEL_PROMPT
    from kura_dbt.summaries.openai import SYSTEM_PROMPT
    from kura_dbt.summaries.schema import ConversationSummary

    values = _macro_values((ROOT / "macros" / "cortex" / "requests.sql").read_text())
    summary = values["cortex_summary_request"]
    assert summary == json.loads(json.dumps(summary_request()))
    assert summary["system_prompt"] == SYSTEM_PROMPT
    assert list(summary["response_format"]["schema"]["properties"]) == list(
        ConversationSummary.model_fields
    )
    assert values["cortex_label_request"]["system_prompt"] == LABEL_PROMPT
    assert values["cortex_label_request"] == json.loads(json.dumps(label_request()))
    # the privacy auditor: the LLM auditor's CLIO rubric and PrivacyScore, one source
    from kura_dbt.audit.llm import AUDIT_PROMPT
    from kura_dbt.summaries.cortex import audit_request

    audit = values["cortex_audit_request"]
    assert audit == json.loads(json.dumps(audit_request()))
    assert audit["system_prompt"] == AUDIT_PROMPT
    assert audit["response_format"]["schema"]["required"] == ["justification", "rating"]


def test_extra_facets_change_the_schema_and_the_prompt_version():
    plain, with_facets = summary_request(), summary_request(FACETS)
    assert with_facets["extra_facets"] == ["product_area", "urgency"]
    assert with_facets["prompt_version"] != plain["prompt_version"]
    extra = with_facets["response_format"]["schema"]["properties"]["extra_facets"]
    assert extra["properties"]["product_area"]["enum"] == ["a", "b"]
    assert extra["properties"]["urgency"]["type"] == "integer"
    assert with_facets["response_format"]["schema"]["required"] == ["summary", "extra_facets"]


def test_the_cortex_schema_is_plain_json_schema():
    schema = summary_request(FACETS)["response_format"]["schema"]
    text = json.dumps(schema)
    for unsupported in ("$ref", "$defs", "anyOf", '"default"', '"title"', "minimum", "maximum"):
        assert unsupported not in text, unsupported
    # optional facets are left out of `required` (omitted when they cannot be judged)
    assert schema["required"] == ["summary", "extra_facets"]
    assert schema["properties"]["concerning_score"] == {
        "type": "integer",
        "description": schema["properties"]["concerning_score"]["description"],
    }
    assert cortex_schema({"type": "object", "properties": {}}) == {
        "type": "object",
        "properties": {},
        "required": [],
    }


def test_sql_object_literal_quotes_what_snowflake_reads():
    assert sql_object_literal({"a": ["x", 1, True, None]}) == "{'a': ['x', 1, TRUE, NULL]}"
    assert sql_object_literal("it's a\\b\nc") == "'it\\'s a\\\\b\\nc'"


def test_kura_schema_writes_the_macro_file_and_reads_the_project_facets(tmp_path):
    from typer.testing import CliRunner

    from kura_dbt.cli import app

    (tmp_path / "dbt_project.yml").write_text(
        yaml.safe_dump({"vars": {"kura__extra_facets": FACETS}})
    )
    out = tmp_path / "requests.sql"
    result = CliRunner().invoke(
        app, ["schema", "--format", "dbt", "--project-dir", str(tmp_path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text() == render_macros(FACETS)
    shown = CliRunner().invoke(app, ["schema"])
    assert (
        json.loads(shown.output)["summary"]["prompt_version"] == summary_request()["prompt_version"]
    )


# ---- one rule: which backend runs, in the macro and where it is written inline -----------------


def _backend(value: str, target_type: str) -> str:
    """The rule of kura.backend() (macros/cortex/backends.sql)."""
    value = value.strip().lower()
    if value == "auto":
        return "cortex" if target_type == "snowflake" else "local"
    return value


def _render(template: str, variables: dict, target_type: str) -> str:
    def var(name, default=None):
        return variables.get(name, default)

    return (
        jinja2.Environment()
        .from_string(template)
        .render(var=var, target={"type": target_type}, tojson=json.dumps)
    )


class _Target(dict):
    __getattr__ = dict.get


@pytest.mark.parametrize("target_type", ["duckdb", "snowflake"])
@pytest.mark.parametrize("value", ["auto", "local", "openai", "cortex", " Cortex "])
def test_the_inline_backend_rule_is_the_macros(value, target_type):
    expected = _backend(value, target_type)
    # dbt renders the package's model configs without vars: the Python summaries and
    # embeddings models are off on Snowflake (a project turns them back on), on elsewhere
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    for model in ("kura__summaries", "kura__embeddings", "int_kura__privacy_audit"):
        rule = project["models"]["kura"][model]["+enabled"]
        rendered = jinja2.Environment().from_string(rule).render(target=_Target(type=target_type))
        assert rendered == str(target_type != "snowflake"), (model, target_type)
    # the kura_settings object hands Python the resolved name
    text = (ROOT / "python_models" / "_python_models.yml").read_text()
    models = yaml.safe_load(text)["models"]
    config = models[0]["config"]
    settings = (config.get("meta") or {}).get("kura_settings") or config.get("kura_settings")
    variables = {f"kura__{k}": value for k in ("summariser", "embedder", "labeller", "auditor")}
    rendered = (
        jinja2.Environment()
        .from_string(settings)
        .render(
            var=lambda name, default=None: variables.get(name, default),
            target=_Target(type=target_type),
            tojson=json.dumps,
        )
    )
    parsed = json.loads(rendered)
    for kind in ("summariser", "embedder", "labeller", "auditor"):
        assert parsed[kind].strip().lower() == expected, kind
    # and the macro itself
    macro = (ROOT / "macros" / "cortex" / "backends.sql").read_text()
    returned: list = []
    env = jinja2.Environment()
    env.globals.update(
        var=lambda name, default=None: value,
        target=_Target(type=target_type),
        **{"return": lambda v: returned.append(v) or ""},
    )
    env.from_string(macro).module.backend("summariser")
    assert returned[0] == expected


def test_outside_dbt_auto_is_the_local_backend():
    from kura_dbt.labels import LABELLERS
    from kura_dbt.settings import Settings
    from kura_dbt.summaries import SUMMARISERS

    settings = Settings()
    assert settings.summariser == "auto"
    assert SUMMARISERS.build("auto", settings).name == "local"
    assert settings.embedded_column() == "request"
    assert LABELLERS.build("cortex", settings).name == LABELLERS.build("local", settings).name
    with pytest.raises(ValueError, match="runs in SQL on Snowflake"):
        SUMMARISERS.build("cortex", settings)


# ---- kura tree / kura report on Snowflake --------------------------------------------------------


def test_a_dbt_profile_names_the_warehouse(tmp_path, monkeypatch):
    from kura_dbt.report.source import resolve_source

    (tmp_path / "profiles.yml").write_text(
        yaml.safe_dump(
            {
                "kura": {
                    "target": "{{ env_var('KURA_TARGET', 'duckdb') }}",
                    "outputs": {
                        "duckdb": {"type": "duckdb", "path": "x.duckdb", "schema": "main"},
                        "snowflake": {
                            "type": "snowflake",
                            "account": "{{ env_var('SNOWFLAKE_ACCOUNT') }}",
                            "user": "me",
                            "password": "{{ env_var('SNOWFLAKE_PASSWORD', '') }}",
                            "role": "{{ env_var('SNOWFLAKE_ROLE', '') }}",
                            "database": "ANALYTICS",
                            "schema": "kura",
                            "private_key_path": "/keys/me.p8",
                        },
                    },
                }
            }
        )
    )
    monkeypatch.delenv("KURA_TARGET", raising=False)
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
    duck = resolve_source(profile="kura", profiles_dir=tmp_path)
    assert (duck.db, duck.default_schema, duck.is_snowflake) == (Path("x.duckdb"), "main", False)
    snow = resolve_source(profile="kura", target="snowflake", profiles_dir=tmp_path)
    assert snow.is_snowflake and snow.default_schema == "kura"
    # empty values are left to the connector's defaults; dbt's key names become the connector's
    assert dict(snow.snowflake) == {
        "account": "xy12345",
        "user": "me",
        "database": "ANALYTICS",
        "schema": "kura",
        "private_key_file": "/keys/me.p8",
    }
    named = resolve_source(connection="prod")
    assert dict(named.snowflake) == {"connection_name": "prod"} and named.default_schema == ""
    assert resolve_source(db=tmp_path / "k.duckdb").db == tmp_path / "k.duckdb"
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT")
    with pytest.raises(ValueError, match="SNOWFLAKE_ACCOUNT is not set"):
        resolve_source(profile="kura", target="snowflake", profiles_dir=tmp_path)
    with pytest.raises(ValueError, match="no target 'prod'"):
        resolve_source(profile="kura", target="prod", profiles_dir=tmp_path)


def test_tree_and_report_read_snowflake_as_they_read_duckdb(tmp_path):
    """The marts of the report tests, copied into fakesnow (Snowflake's upper-case names, its
    information schema): `kura tree --profile` prints what `kura tree --db` prints and the report
    payload is the same. fakesnow stands in for the connector at the DB-API boundary; real
    Snowflake types (NUMBER as Decimal, VARIANT as JSON text) are only partly imitated."""
    fakesnow = pytest.importorskip("fakesnow")
    from typer.testing import CliRunner

    from kura_dbt.cli import app
    from kura_dbt.report import ReportOptions, load_report_data
    from kura_dbt.report.source import MartsSource
    from tests.browser.fakedb import make_kura_db

    db = make_kura_db(tmp_path / "kura.duckdb")
    (tmp_path / "profiles.yml").write_text(
        yaml.safe_dump(
            {
                "kura": {
                    "target": "prod",
                    "outputs": {
                        "prod": {
                            "type": "snowflake",
                            "account": "acc",
                            "user": "u",
                            "password": "p",
                            "warehouse": "w",
                            "database": "KURADB",
                            "schema": "analytics",
                        }
                    },
                }
            }
        )
    )
    with fakesnow.patch():
        import snowflake.connector

        setup = snowflake.connector.connect(database="KURADB", schema="ANALYTICS")
        setup.cursor().execute("create database if not exists kuradb")
        setup.cursor().execute("create schema if not exists kuradb.analytics")
        duck = setup._duck_conn  # fakesnow's DuckDB: copy the marts in, names in upper case
        duck.execute(f"attach '{db}' as src (read_only)")
        for table in ("kura__clusters", "kura__cluster_weekly", "kura__conversations"):
            duck.execute(
                f"create table kuradb.analytics.{table.upper()} as select * from src.main.{table}"
            )
        duck.execute("detach src")

        via_profile = CliRunner().invoke(
            app, ["tree", "--profile", "kura", "--profiles-dir", str(tmp_path)]
        )
        via_file = CliRunner().invoke(app, ["tree", "--db", str(db)])
        assert via_profile.exit_code == 0, via_profile.output
        assert via_profile.output == via_file.output

        source = MartsSource(
            snowflake={"database": "KURADB", "schema": "ANALYTICS", "account": "acc"},
            default_schema="analytics",
            label="Snowflake KURADB",
        )
        snow = load_report_data(source, ReportOptions(schema="analytics")).payload
        local = load_report_data(db).payload
        assert snow.pop("source") == "Snowflake KURADB"
        for payload in (snow, local):
            payload.pop("generated_at")
        local.pop("source")
        assert snow == local

        out = tmp_path / "r.html"
        report = CliRunner().invoke(
            app, ["report", "--profile", "kura", "--profiles-dir", str(tmp_path), "--out", str(out)]
        )
        assert report.exit_code == 0, report.output
        assert out.exists()

        missing = CliRunner().invoke(
            app, ["tree", "--profile", "kura", "--profiles-dir", str(tmp_path), "--schema", "nope"]
        )
        assert missing.exit_code == 2
        text = "".join(missing.output.replace("│", " ").split())
        assert "hasnotablenope.kura__clusters" in text, missing.output


# ---- the Cortex stand-ins answer as Snowflake documents (tests/fixtures/cortex/) ----------------

FIXTURES = ROOT / "tests" / "fixtures" / "cortex"
PLACEHOLDER = "<<kura:answer>>"
# the AI_COMPLETE answer shapes a stand-in can return (var kura__cortex_stand_in_shape)
SHAPES = {
    "structured": "ai_complete_structured.json",
    "text": "ai_complete_text.json",
    "openai": "ai_complete_openai_style.json",
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _at(answer, path: str):
    """The value at a documented path such as ``structured_output[0].raw_message``."""
    for part in re.findall(r"[^.\[\]]+", path):
        answer = answer[int(part)] if part.isdigit() else answer[part]
    return answer


def _template(record: dict) -> str:
    """The fixture's answer with the model's answer replaced by the placeholder."""
    answer = json.loads(json.dumps(record["answer"]))
    *parents, last = re.findall(r"[^.\[\]]+", record["answer_path"])
    holder = _at(answer, ".".join(parents))
    holder[int(last) if last.isdigit() else last] = PLACEHOLDER
    return json.dumps(answer, sort_keys=True)


def render_stand_in_macro() -> str:
    """macros/cortex/stand_ins.sql: the fixtures' shapes as a dict the stand-in macros read."""
    shapes: dict = {
        name: {"template": _template(fixture(file)), "content": fixture(file)["content"]}
        for name, file in SHAPES.items()
    }
    error = fixture("ai_complete_error_details_error.json")["answer"]
    shapes["__error__"] = json.dumps(error, sort_keys=True)
    shapes["__error_text__"] = error["error"]
    body = json.dumps(json.dumps(shapes, sort_keys=True))
    return (
        "{#- GENERATED from tests/fixtures/cortex/*.json (the answers Snowflake documents, with\n"
        "    their sources) by `python -m tests.python.test_cortex`: do not edit by hand.\n"
        "    tests/python/test_cortex.py fails when this file differs from the fixtures. -#}\n\n"
        "{% macro cortex_stand_in_shapes() -%}\n"
        f"    {{{{ return(fromjson({body})) }}}}\n"
        "{%- endmacro %}\n"
    )


def test_the_stand_in_shapes_are_the_fixtures():
    shipped = (ROOT / "macros" / "cortex" / "stand_ins.sql").read_text()
    assert shipped == render_stand_in_macro(), (
        "macros/cortex/stand_ins.sql is stale: run `python -m tests.python.test_cortex`"
    )


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_cites_its_source_and_holds_the_answer_where_it_says(path):
    record = json.loads(path.read_text())
    assert record["source"] and all(s.strip() for s in record["source"]), path.name
    assert record["answer"] is not None or record.get("content") == "error", path.name
    if record.get("answer_path"):
        content = _at(record["answer"], record["answer_path"])
        found = content if record["content"] == "object" else json.loads(content)
        assert found["summary"], path.name


def test_the_structured_answer_has_no_choices_so_choices_messages_finds_nothing():
    """What the parser read before: choices[0].messages. The answer AI_COMPLETE documents for a
    call with response_format and show_details has no `choices` at all."""
    answer = fixture("ai_complete_structured.json")["answer"]
    assert "choices" not in answer
    with pytest.raises(KeyError):
        _at(answer, "choices[0].messages")
    assert _at(answer, "structured_output[0].raw_message")["summary"]
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_return_error_details_wraps_the_answer_it_would_have_given():
    ok = fixture("ai_complete_error_details_ok.json")["answer"]
    assert ok == {"error": None, "value": fixture("ai_complete_structured.json")["answer"]}
    failed = fixture("ai_complete_error_details_error.json")["answer"]
    assert failed["value"] is None and isinstance(failed["error"], str)


if __name__ == "__main__":
    (ROOT / "macros" / "cortex" / "stand_ins.sql").write_text(render_stand_in_macro())
