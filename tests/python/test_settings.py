"""One settings source: the vars' defaults in dbt_project.yml are the library's defaults."""

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from kura_dbt.settings import OTHER_VARS, Settings, settings_vars

ROOT = Path(__file__).resolve().parents[2]


def _project_vars() -> dict:
    return yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def test_library_defaults_equal_the_dbt_project_var_defaults():
    project = _project_vars()
    defaults = Settings()
    for var in settings_vars():
        assert var.name in project, f"{var.name} is not declared in dbt_project.yml"
        assert project[var.name] == getattr(defaults, var.field), var.name


def test_llm_defaults_equal_the_dbt_project_var_defaults():
    """Every declared kura__llm_* var that the LLM client reads is a field of LLMSettings with
    the same default (LLMSettings ignores a key it has no field for)."""
    project = _project_vars()
    llm = Settings().llm_settings()
    declared = {v.name[len("kura__llm_") :]: v for v in OTHER_VARS if v.reader == "llm"}
    unread = set(declared) - set(dataclasses.asdict(llm))
    assert not unread, f"declared kura__llm_* vars LLMSettings does not read: {sorted(unread)}"
    for name, var in declared.items():
        assert project[var.name] == var.default, var.name
        assert var.default == getattr(llm, name), name


def test_every_python_model_reads_the_one_settings_object():
    models = yaml.safe_load((ROOT / "python_models" / "_python_models.yml").read_text())["models"]
    # dbt's own configs, and dbt-snowflake's for the Snowpark stored procedures
    other = {"on_schema_change", "full_refresh", "schema", "python_version", "packages", "imports"}
    other |= {"external_access_integrations", "secrets"}
    for model in models:
        assert set(model["config"]) - other == {"meta"}, model["name"]
        assert set(model["config"]["meta"]) == {"kura_settings", "kura_version"}, model["name"]
        assert model["config"]["meta"] == models[0]["config"]["meta"], model["name"]
    # and the object names every field of Settings
    rendered = models[0]["config"]["meta"]["kura_settings"]
    for field in dataclasses.fields(Settings):
        assert f"'{field.name}':" in rendered, field.name


def test_rendered_vars_are_coerced_and_a_misspelt_setting_fails():
    rendered = json.dumps(
        {
            "seed": "7",
            "n_base_clusters": "None",
            "label_quotes_example": "False",
            "extra_facets": [],
            "llm": {"model": "m", "max_concurrency": "4"},
        }
    )
    settings = Settings.from_config(rendered)
    assert (settings.seed, settings.n_base_clusters, settings.label_quotes_example) == (
        7,
        None,
        False,
    )
    assert settings.llm_settings().max_concurrency == 4
    with pytest.raises(ValueError, match="n_base_clusterz"):
        Settings.from_config({"n_base_clusterz": 5})
    with pytest.raises(ValueError, match="'seed' must be int"):
        Settings.from_config({"seed": "forty-two"})


def test_the_version_handshake_names_this_library_everywhere():
    """The dbt package's expected library version (meta kura_version) is the library's own,
    the dbt project's and the Python distribution's: bump them together."""
    from kura_dbt import __version__

    models = yaml.safe_load((ROOT / "python_models" / "_python_models.yml").read_text())["models"]
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert models[0]["config"]["meta"]["kura_version"] == __version__
    assert project["version"] == __version__
    assert f'\nversion = "{__version__}"\n' in pyproject


def test_column_types_in_the_docs_mean_the_same_on_duckdb_and_snowflake():
    """data_type in the YAML docs: names both warehouses read alike (no hugeint, no float[])."""
    neutral = {"varchar", "bigint", "double", "float", "boolean", "timestamp", "array", "date"}
    for path in [*ROOT.glob("models/**/*.yml"), ROOT / "python_models" / "_python_models.yml"]:
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            for column in model.get("columns") or []:
                kind = column.get("data_type")
                assert kind is None or kind in neutral, (
                    f"{path.name}: {model['name']}.{column['name']}: {kind}"
                )
