"""Pinning a taxonomy by the name of a model or seed of the user's project (var
kura__pinned_taxonomy: my_taxonomy): the package refs it with the root project's name, so dbt
records the dependency and warns about nothing (no require_ref_prefers_node_package_to_root).
The deprecated name kura__taxonomy pins the same way, with a one-line warning naming the new
var. A throwaway dbt project installs the package as a user's would; `dbt parse` is enough to
see the warnings and the dependency."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import PROFILES, REPO

WARNING = "require_ref_prefers_node_package_to_root"


def _project(tmp: Path) -> Path:
    project = tmp / "my_project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: my_project\nversion: "1.0.0"\nconfig-version: 2\nprofile: kura\n'
        'model-paths: ["models"]\n'
        "seeds:\n  kura:\n    +enabled: true\n"  # the sample data, as the demo project
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    (project / "models" / "my_taxonomy.sql").write_text(
        "select 'buses' as category_id, 'Bus tickets' as name, 'Book a bus' as description, "
        "cast(null as varchar) as parent_id, cast(null as varchar) as cluster_id\n"
    )
    return project


def _parse(
    project: Path, taxonomy: str, db: Path, name: str = "kura__pinned_taxonomy"
) -> tuple[str, dict]:
    from dbt.cli.main import dbtRunner

    os.environ["KURA_DUCKDB_PATH"] = str(db)
    messages: list[str] = []
    runner = dbtRunner(callbacks=[lambda event: messages.append(str(event.info.msg))])
    common = ["--project-dir", str(project), "--profiles-dir", str(PROFILES)]
    assert runner.invoke(["deps", *common]).success
    target = project / "target"
    variables = f"{{{name}: {taxonomy}}}"
    result = runner.invoke(
        [
            "parse",
            *common,
            "--target-path",
            str(target),
            "--vars",
            variables,
        ]
    )
    assert result.success, "\n".join(messages[-20:])
    checked = runner.invoke(["run-operation", "check_vars", *common, "--vars", variables])
    assert checked.success, "\n".join(messages[-20:])
    return "\n".join(messages), json.loads((target / "manifest.json").read_text())


def test_a_taxonomy_pinned_by_name_is_a_dependency_without_warnings(tmp_path):
    project = _project(tmp_path)
    output, manifest = _parse(project, "my_taxonomy", tmp_path / "k.duckdb")
    assert WARNING not in output
    assert "deprecated" not in output
    staged = manifest["nodes"]["model.kura.stg_kura__taxonomy"]
    assert staged["depends_on"]["nodes"] == ["model.my_project.my_taxonomy"]
    users = [
        n["unique_id"]
        for n in manifest["nodes"].values()
        if "model.my_project.my_taxonomy" in n.get("depends_on", {}).get("nodes", [])
    ]
    assert users == ["model.kura.stg_kura__taxonomy"]  # the one package model that reads it


def test_the_deprecated_var_name_still_pins_with_a_warning(tmp_path):
    project = _project(tmp_path)
    output, manifest = _parse(project, "my_taxonomy", tmp_path / "k.duckdb", "kura__taxonomy")
    staged = manifest["nodes"]["model.kura.stg_kura__taxonomy"]
    assert staged["depends_on"]["nodes"] == ["model.my_project.my_taxonomy"]
    python_model = manifest["nodes"]["model.kura.int_kura__classification_state"]
    settings = json.loads(python_model["config"]["meta"]["kura_settings"])
    assert settings["pinned_taxonomy"] == "my_taxonomy"  # what the Python models read
    assert "kura: var kura__taxonomy is deprecated: use kura__pinned_taxonomy" in output


def test_a_pinned_seed_with_examples_in_the_target_schema_is_named_with_the_fix(tmp_path):
    """Issue 22: a pinned taxonomy's example texts are conversations' words; as a seed of the
    user's project it lands in the target schema, where BI users look. The build says so, with
    the line that moves it; moved to the private schema, it says nothing."""
    from dbt.cli.main import dbtRunner

    project = _project(tmp_path)
    (project / "models" / "my_taxonomy.sql").unlink()
    (project / "seeds").mkdir()
    (project / "seeds" / "my_taxonomy.csv").write_text(
        "category_id,name,description,parent_id,cluster_id,example_1\n"
        "buses,Bus tickets,Book a bus,,,I need a bus to Boston for Dana Smith\n"
    )
    os.environ["KURA_DUCKDB_PATH"] = str(tmp_path / "k.duckdb")
    common = ["--project-dir", str(project), "--profiles-dir", str(PROFILES)]
    variables = ["--vars", "{kura__pinned_taxonomy: my_taxonomy}"]

    def build() -> str:
        messages: list[str] = []
        runner = dbtRunner(callbacks=[lambda event: messages.append(str(event.info.msg))])
        assert runner.invoke(["deps", *common]).success
        assert runner.invoke(["seed", "--select", "my_taxonomy", *common]).success
        ran = runner.invoke(["run", "--select", "stg_kura__taxonomy", *common, *variables])
        assert ran.success, "\n".join(messages[-20:])
        return "\n".join(messages)

    output = build()
    assert "kura: the pinned taxonomy" in output and "example_1" in output
    assert "+schema: kura_private" in output
    with (project / "dbt_project.yml").open("a") as f:
        f.write("  my_project:\n    my_taxonomy:\n      +schema: kura_private\n")
    assert "kura: the pinned taxonomy" not in build()
