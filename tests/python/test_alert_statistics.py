"""The alerts' statistics (macros/alerts/alert_statistics.sql) keep their digits on DuckDB: its
FLOAT is four bytes (dbt's `type_float()` is "float" on dbt-duckdb), and a sum of squares less
a squared sum over many conversations loses every digit in single precision."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import duckdb
import jinja2
import numpy as np
import pytest

MACROS = Path(__file__).resolve().parents[2] / "macros" / "alerts" / "alert_statistics.sql"


def _macros():
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    # dbt's default type_float() is "float" (dbt-adapters' default__type_float), as on DuckDB
    dbt = SimpleNamespace(type_float=lambda: "float")
    return env.from_string(MACROS.read_text(encoding="utf-8")).make_module({"dbt": dbt})


def _value(sql: str) -> float:
    with duckdb.connect() as con:
        return float(con.execute(f"select {sql}").fetchone()[0])


@pytest.mark.parametrize("n", [20_000, 2_000_000])
def test_the_mean_shift_z_of_a_frustration_score_matches_double_precision(n):
    rng = np.random.default_rng(0)
    now = rng.integers(1, 6, n).astype(float) + (rng.random(n) < 0.05)  # a small rise
    before = rng.integers(1, 6, 4 * n).astype(float)
    both = np.concatenate([now, before])
    pooled = both.var(ddof=1) * (1 / len(now) + 1 / len(before))
    expected = (now.mean() - before.mean()) / np.sqrt(pooled)
    sql = _macros().mean_shift_z(
        len(now), now.sum(), (now**2).sum(), len(before), before.sum(), (before**2).sum()
    )
    assert _value(str(sql)) == pytest.approx(expected, rel=1e-6)


def test_the_two_proportion_z_matches_double_precision():
    x, n, b, m = 1_234_567, 9_876_543, 4_000_001, 40_000_003
    p = (x + b) / (n + m)
    expected = (x / n - b / m) / np.sqrt(p * (1 - p) * (1 / n + 1 / m))
    assert _value(str(_macros().two_proportion_z(x, n, b, m))) == pytest.approx(expected, rel=1e-6)
