"""The Cortex models compile on a Snowflake target (dummy credentials; fakesnow answers the
few metadata queries `dbt compile` makes) with the real Cortex calls, not the stand-ins, and
the backend vars choose between them and the Python models. What Snowflake itself says of the
compiled SQL is not proven here (scripts/snowflake_smoke.sh, on a real account)."""

from __future__ import annotations

import json

import pytest

from kura_dbt.summaries.cortex import audit_request, label_request, summary_request

from .conftest import DUMMY_PROFILE, dbt, write_project


def _compiled(project, name: str) -> str:
    return next((project / "target" / "compiled").rglob(f"{name}.sql")).read_text()


def _nodes(project) -> tuple[dict, dict]:
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    enabled = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    disabled = {n[0]["name"]: n for n in manifest["disabled"].values()}
    return enabled, disabled


def test_the_cortex_models_compile_with_the_generated_requests(tmp_path):
    fakesnow = pytest.importorskip("fakesnow")
    project = write_project(tmp_path / "project", DUMMY_PROFILE, {"kura__llm_max_calls": 500})
    dbt(project, "deps", "--quiet")
    models = ["kura__summaries", "kura__embeddings", "int_kura__cortex_cluster_names"]
    models += ["int_kura__privacy_relabels"]
    with fakesnow.patch():
        dbt(project, "compile", "--select", *models, "kura__taxonomy", "kura__llm_usage")
    enabled, _ = _nodes(project)
    # auto on Snowflake: the SQL models
    for name in ("kura__summaries", "kura__embeddings", "int_kura__privacy_relabels"):
        assert enabled[name]["language"] == "sql", name
    summaries = _compiled(project, "kura__summaries")
    assert summary_request()["response_format_sql"] in summaries
    assert "ai_complete(\n        model => 'llama3.1-70b',\n        prompt => prompt," in summaries
    # the documented answer: show_details for the usage, return_error_details for each row's error
    assert "show_details => true,\n        return_error_details => true\n    )" in summaries
    assert "ai_redact" not in summaries  # off by default
    assert "<= 500" in summaries  # the budget cap
    assert "object_construct" not in summaries  # no stand-in
    names = _compiled(project, "int_kura__cortex_cluster_names")
    assert label_request()["response_format_sql"] in names
    embeddings = _compiled(project, "kura__embeddings")
    assert "ai_embed('snowflake-arctic-embed-m-v1.5', text)" in embeddings  # the default
    assert "snowflake.cortex.count_tokens('snowflake-arctic-embed-m-v1.5', text)" in embeddings
    relabels = _compiled(project, "int_kura__privacy_relabels")
    assert "ai_redact(text) as replacement" in relabels  # AI_REDACT, then the audit's request
    assert audit_request()["response_format_sql"] in relabels
    assert "object_construct" not in relabels and "regexp_replace" not in relabels  # no stand-in
    taxonomy = _compiled(project, "kura__taxonomy")
    assert "int_kura__cortex_cluster_names" in taxonomy.lower()


def test_local_backends_on_snowflake_are_the_python_models_turned_back_on(tmp_path):
    """dbt renders a package's dbt_project.yml model configs without vars, so on Snowflake the
    package turns its Python summaries and embeddings models off; a project that sets a
    non-Cortex backend turns them back on (docs/SNOWFLAKE.md, "Run it on Snowflake")."""
    local = {"kura__summariser": "local", "kura__embedder": "local", "kura__labeller": "local"}
    local["kura__auditor"] = "local"
    project = write_project(tmp_path / "project", DUMMY_PROFILE, local)
    text = (project / "dbt_project.yml").read_text()
    text = text.replace(
        "models:\n  kura:\n",
        "models:\n  kura:\n    kura__summaries: {+enabled: true}\n"
        "    kura__embeddings: {+enabled: true}\n"
        "    int_kura__privacy_audit: {+enabled: true}\n"
        "    int_kura__privacy_relabels: {+enabled: true}\n",
    )
    (project / "dbt_project.yml").write_text(text)
    dbt(project, "deps", "--quiet")
    dbt(project, "parse")
    enabled, disabled = _nodes(project)
    assert enabled["kura__summaries"]["language"] == "python"
    assert enabled["kura__embeddings"]["language"] == "python"
    assert enabled["int_kura__privacy_audit"]["language"] == "python"
    assert enabled["int_kura__privacy_relabels"]["language"] == "python"
    assert "int_kura__cortex_cluster_names" in disabled
    settings = json.loads(enabled["int_kura__cluster_state"]["config"]["meta"]["kura_settings"])
    assert [settings[k] for k in ("summariser", "embedder", "labeller")] == ["local"] * 3


def test_the_options_render_the_documented_calls(tmp_path):
    """AI_REDACT before summarising, TRY_COMPLETE for an account without bundle 2026_02, the
    legacy EMBED_TEXT_768, and AI_EMBED's return_error_details (bundle 2026_06)."""
    fakesnow = pytest.importorskip("fakesnow")
    options = {
        "kura__cortex_redact": True,
        "kura__cortex_error_handling": "try",
        "kura__cortex_embed_function": "embed_text_768",
    }
    project = write_project(tmp_path / "project", DUMMY_PROFILE, options)
    dbt(project, "deps", "--quiet")
    with fakesnow.patch():
        dbt(project, "compile", "--select", "kura__summaries", "kura__embeddings")
    summaries = _compiled(project, "kura__summaries")
    assert "then ai_redact(transcript) end as transcript" in summaries
    assert (
        "snowflake.cortex.try_complete(\n        'llama3.1-70b',\n"
        "        [{'role': 'user', 'content': prompt}]," in summaries
    )
    assert "return_error_details" not in summaries
    embeddings = _compiled(project, "kura__embeddings")
    assert "snowflake.cortex.embed_text_768('snowflake-arctic-embed-m-v1.5', text)" in embeddings
    with fakesnow.patch():
        dbt(
            project,
            "compile",
            "--select",
            "kura__embeddings",
            "--vars",
            json.dumps(
                {
                    "kura__cortex_embed_error_details": True,
                    "kura__cortex_embed_function": "ai_embed",
                }
            ),
        )
    assert "ai_embed('snowflake-arctic-embed-m-v1.5', text, true)" in _compiled(
        project, "kura__embeddings"
    )
