"""The vars are checked when a dbt command starts (on-run-start: kura.check_vars()), as the
Python models check them: each bad value names its var, and an unknown kura__ var given with
--vars is a warning naming the closest known one."""

from __future__ import annotations

from tests.dbt.conftest import run_dbt


def test_bad_vars_fail_the_run_before_any_model_naming_each_var(tmp_path):
    bad = (
        "{kura__n_base_cluster: 4, kura__seed: x, kura__rediscover_novel_share: 1.5, "
        "kura__projector: tsne, kura__progress: maybe, kura__alerts_baseline_weeks: 2.5, "
        "kura__hierarchy_branching: 1}"
    )
    result = run_dbt(
        ["seed", "--select", "kura_sample_users", "--vars", bad],
        tmp_path / "kura.duckdb",
        tmp_path / "target",
        expect_success=False,
    )
    assert not result.success
    for message in (
        "kura: unknown var kura__n_base_cluster: no kura setting has this name; "
        "did you mean kura__n_base_clusters?",
        "kura: var kura__seed must be int, got x",
        "kura: var kura__rediscover_novel_share must be between 0.0 and 1.0, got 1.5",
        "kura: var kura__projector is 'tsne'; valid: umap, pca",
        "kura: var kura__progress must be bool, got maybe",
        "kura: var kura__alerts_baseline_weeks must be int, got 2.5",
        "kura: var kura__hierarchy_branching must be greater than 1.0, got 1",
    ):
        assert message in result.output, message
    assert "loaded seed file" not in result.output
