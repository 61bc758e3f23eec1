"""One declaration of every var (kura_dbt.settings): the files rendered from it stay current,
the re-discovery fingerprint and the incremental keys follow it, and bad vars are named."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kura_dbt.cli import app
from kura_dbt.commands.settings import DOCS, MODELS, PROJECT, WRITE_COMMAND, stale
from kura_dbt.settings import (
    DEPRECATED_VARS,
    OTHER_VARS,
    Effect,
    Settings,
    all_vars,
    declare,
    invalidating,
    var_errors,
    var_warnings,
)
from kura_dbt.taxonomy.policy import Figures, clustering_settings_key, decide

ROOT = Path(__file__).resolve().parents[2]


def test_the_rendered_files_are_what_the_declaration_gives():
    assert stale(ROOT) == [], f"run `{WRITE_COMMAND}` (kura_dbt.settings changed)"


def _package_copy(tmp_path: Path) -> Path:
    for name in (PROJECT, MODELS, DOCS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_hand_edit_of_any_rendered_file_fails_the_check_and_write_restores_it(tmp_path):
    root = _package_copy(tmp_path)
    edits = {
        PROJECT: ("kura__seed: 42", "kura__seed: 7"),
        MODELS: ("'seed': var('kura__seed'), ", ""),
        DOCS: ("| `kura__seed` | `42` |", "| `kura__seed` | `7` |"),
    }
    for name, (old, new) in edits.items():
        text = (root / name).read_text()
        assert old in text, name
        (root / name).write_text(text.replace(old, new, 1))
    runner = CliRunner()
    failed = runner.invoke(app, ["settings", "check", "--root", str(root)])
    assert failed.exit_code == 1
    for name in edits:
        assert f"{root / name} differs from kura_dbt.settings: run `{WRITE_COMMAND}`" in (
            failed.output
        )
    assert runner.invoke(app, ["settings", "write", "--root", str(root)]).exit_code == 0
    assert runner.invoke(app, ["settings", "check", "--root", str(root)]).exit_code == 0
    assert [(root / n).read_text() for n in edits] == [(ROOT / n).read_text() for n in edits]


def test_every_var_the_sql_and_the_python_models_read_is_declared():
    """The vars block is complete: a var() call in any model, macro or YAML names a declared
    var (the SQL keeps its var() calls; the declaration gives them their default)."""
    declared = {var.name for var in all_vars()}
    used: set[str] = set()
    for folder in ("models", "macros", "python_models"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".sql", ".yml", ".py"):
                used |= set(re.findall(r"var\(\s*['\"](kura__\w+)['\"]", path.read_text()))
    assert used, "no var() calls found"
    assert sorted(used - declared - set(DEPRECATED_VARS)) == []  # each read once, as an alias
    assert len(declared) == len(all_vars()), "a var is declared twice"


# ---- the re-discovery policy reads the declaration ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class WithANewSetting(Settings):
    """A setting added the way docs/reference/vars.md says: one declared field, nothing else."""

    granularity: float = declare(
        "kura__granularity",
        1.0,
        "clusters per topic",
        "clustering",
        invalidates=(Effect.REDISCOVER,),
    )
    chattiness: float = declare("kura__chattiness", 1.0, "changes nothing", "progress")


def _figures(settings_key: str, previous_settings_key: str) -> Figures:
    return Figures(
        has_taxonomy=True,
        conversations=100,
        new=0,
        novel=0,
        conversations_at_discovery=100,
        new_since_discovery=0,
        novel_since_discovery=0,
        embedding_model="m",
        previous_embedding_model="m",
        settings_key=settings_key,
        previous_settings_key=previous_settings_key,
    )


def test_a_new_setting_declared_rediscover_rediscovers_without_touching_the_policy():
    before = clustering_settings_key(WithANewSetting.from_config({"granularity": 1.0}))
    after = clustering_settings_key(WithANewSetting.from_config({"granularity": "2.5"}))
    assert before != after
    decision = decide(WithANewSetting(), _figures(after, before))
    assert (decision.discover, decision.reason) == (True, "clustering settings changed")
    # a setting declared to change nothing leaves the fingerprint alone
    quiet = clustering_settings_key(WithANewSetting.from_config({"chattiness": 3.0}))
    assert quiet == before
    assert not decide(WithANewSetting(), _figures(quiet, before)).discover


def test_the_fingerprint_follows_each_declared_setting_and_no_other():
    base = Settings.from_config({"summariser": "local"})
    declared = {v.field for v in invalidating(Effect.REDISCOVER) if v.field}
    for var in (v for v in all_vars() if v.reader == "settings"):
        changed = dataclasses.replace(base, **{var.field: _other_value(var.field, base)})
        moved = clustering_settings_key(changed) != clustering_settings_key(base)
        assert moved == (var.field in declared), var.name


# ---- the incremental keys agree with the declaration -------------------------------------------

# values a setting can take besides its default, for settings whose type alone cannot give one
_OTHER = {
    "extra_facets": [{"name": "urgency", "question": "How urgent?", "type": "score"}],
    "rediscover": "never",
    "taxonomy": "my_taxonomy",
}


def _other_value(name: str, settings: Settings):
    if name == "embedding_text":  # the other column than the one auto chooses
        return "summary" if settings.embedded_column() == "request" else "request"
    if name in _OTHER:
        return _OTHER[name]
    value = getattr(settings, name)
    var = next(v for v in all_vars() if v.field == name)
    if var.choices:
        return next(c for c in var.choices if c not in (value, "auto"))
    if var.kind is bool:
        return not value
    if var.kind in (int, float):
        return var.kind(2 if value in (None, 1) else 1)
    return f"{value}-other"


def _summary_keys(settings: Settings) -> tuple:
    from kura_dbt.summaries import SUMMARISERS

    summariser = SUMMARISERS.build(settings.summariser, settings)
    return summariser.name, summariser.model, summariser.prompt_version


def _embedding_keys(settings: Settings) -> tuple:
    from kura_dbt.embeddings import EMBEDDERS

    embedder = EMBEDDERS.build(settings.embedder, settings)
    return embedder.name, embedder.model, settings.embedded_column()


@pytest.mark.parametrize(
    ("effect", "keys"), [(Effect.RESUMMARISE, _summary_keys), (Effect.REEMBED, _embedding_keys)]
)
def test_what_re_runs_summaries_and_embeddings_is_what_the_declaration_says(effect, keys):
    """Summaries re-run when their state keys (summariser, model, prompt version) change, and
    embeddings when theirs (embedder, model, embedded text) do: on the openai backends, which
    read every such setting, a setting moves the keys exactly when it is declared to."""
    base = Settings.from_config(
        {"summariser": "openai", "embedder": "openai", "embedding_text": "auto"}
    )
    declared = {v.field or v.name for v in invalidating(effect)}
    for var in (v for v in all_vars() if v.reader == "settings"):
        changed = dataclasses.replace(base, **{var.field: _other_value(var.field, base)})
        assert (keys(changed) != keys(base)) == (var.field in declared), var.name
    for var in (v for v in OTHER_VARS if v.reader == "llm"):
        field = var.name[len("kura__llm_") :]
        value = _other_value_llm(var)
        changed = dataclasses.replace(base, llm={field: value})
        assert (keys(changed) != keys(base)) == (var.name in declared), var.name


def _other_value_llm(var):
    if var.choices:
        return next(c for c in var.choices if c != var.default)
    if var.kind is bool:
        return not var.default
    if var.kind in (int, float):
        return var.kind(var.minimum + 300 if var.minimum is not None else 300)
    return "other"


# ---- every var is checked, naming it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"seed": "forty-two"}, "'seed' must be int (var kura__seed)"),
        ({"seed": "4.5"}, "var kura__seed"),
        ({"label_quotes_example": "maybe"}, "var kura__label_quotes_example"),
        ({"rediscover": "sometimes"}, "var kura__rediscover is 'sometimes'; valid: auto, always"),
        ({"rediscover_novel_share": 1.5}, "kura__rediscover_novel_share must be between 0.0"),
        ({"n_base_clusters": 0}, "var kura__n_base_clusters must be at least 1"),
        ({"hierarchy_branching": "1"}, "var kura__hierarchy_branching must be greater than 1.0"),
        ({"extra_facets": '{"name": "x"}'}, "var kura__extra_facets"),
        ({"llm": {"mode": "xml"}}, "var kura__llm_mode is 'xml'; valid: json, tools, md_json"),
        ({"llm_max_concurrency": "0"}, "var kura__llm_max_concurrency must be at least 1"),
    ],
)
def test_a_bad_value_fails_at_the_start_naming_its_var(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_config(config)


def test_an_unknown_var_warns_with_the_closest_known_one():
    variables = {"kura__seed": 1, "kura__n_base_cluster": 4, "kura__zzz": 1, "other_pkg__x": 1}
    assert var_warnings(variables) == [
        "kura: unknown var kura__n_base_cluster: no kura setting has this name; "
        "did you mean kura__n_base_clusters?",
        "kura: unknown var kura__zzz: no kura setting has this name",
    ]
    assert var_errors({"kura__alerts_false_alarm_rate": 2, "kura__feedback": None}) == [
        "kura: var kura__alerts_false_alarm_rate must be between 0.0 and 1.0, got 2"
    ]


def test_the_deprecated_taxonomy_var_is_read_as_the_pinned_one_with_a_warning():
    warning = "kura: var kura__taxonomy is deprecated: use kura__pinned_taxonomy (same value)"
    assert var_warnings({"kura__taxonomy": "my_taxonomy"}) == [warning]
    with pytest.warns(DeprecationWarning, match=re.escape(warning)):
        settings = Settings.from_config({"taxonomy": "my_taxonomy"})
    assert settings.pinned_taxonomy == "my_taxonomy"
    with pytest.warns(DeprecationWarning):  # the new name wins when both are given
        both = Settings.from_config({"taxonomy": "old", "pinned_taxonomy": "new"})
    assert both.pinned_taxonomy == "new"


def test_kura_settings_validate_reads_a_project_and_its_command_line_vars(tmp_path):
    (tmp_path / "dbt_project.yml").write_text(
        "vars:\n  kura__clusterr: hdbscan\n  kura__conversations: \"{{ source('app', 'c') }}\"\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["settings", "validate", "--project-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "did you mean kura__clusterer?" in result.output
    bad = runner.invoke(
        app,
        [
            "settings",
            "validate",
            "--project-dir",
            str(tmp_path),
            "--vars",
            "{kura__projector: tsne}",
        ],
    )
    assert bad.exit_code == 1
    assert "kura__projector is 'tsne'; valid: umap, pca" in bad.output
