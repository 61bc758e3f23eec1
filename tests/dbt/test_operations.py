"""Operating the nightly job: progress lines inside `dbt run`, a budget cap that leaves the rest
pending (nothing lost, no error rows) and an estimate, before the run, of what it will send,
checked against the tokens the local OpenAI-compatible server counts."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from .conftest import REPO, run_dbt
from .test_build import _load_raw

SEEDS = REPO / "seeds"
N = 100  # the cap; 3N conversations are pending at first


def _summary_calls(requests: list[dict]) -> int:
    from kura_dbt.summaries.openai import SYSTEM_PROMPT

    return sum(
        1
        for r in requests
        if "input" not in r
        and any(str(m.get("content", "")).startswith(SYSTEM_PROMPT[:60]) for m in r["messages"])
    )


def test_a_call_cap_leaves_the_rest_pending_and_the_estimate_matches(tmp_path, query, monkeypatch):
    from kura_dbt.cli import app
    from tests.python.fake_openai import FakeOpenAI

    monkeypatch.setenv("KURA_TEST_KEY", "sk-operations-test")
    ids = pd.read_csv(SEEDS / "kura_sample_conversations.csv")["conversation_id"].tolist()
    db = tmp_path / "ops.duckdb"
    _load_raw(db, ids[: 3 * N])

    with FakeOpenAI(count_tokens=True) as server:
        llm_vars = {
            "kura__summariser": "openai",
            "kura__llm_model": "test-model",
            "kura__llm_base_url": server.base_url,
            "kura__llm_api_key_env": "KURA_TEST_KEY",
            "kura__llm_input_cost_per_mtok": 0.15,
            "kura__llm_output_cost_per_mtok": 0.6,
            "kura__llm_max_calls": N,
        }
        raw = (
            "kura__conversations: raw.conversations, kura__messages: raw.messages, "
            "kura__feedback: raw.feedback, kura__users: raw.users, "
        )
        flat = raw + ", ".join(f"{k}: '{v}'" for k, v in llm_vars.items())

        def run(step: str, *args: str) -> tuple[int, str, list[tuple[int, int]]]:
            before, counted = len(server.requests), len(server.usage)
            result = run_dbt([*args, "--vars", "{" + flat + "}"], db, tmp_path / step)
            return (
                _summary_calls(server.requests[before:]),
                result.output,
                server.usage[counted:],
            )

        def estimate() -> dict:
            import json

            out = CliRunner().invoke(
                app,
                [
                    "estimate",
                    "--db",
                    str(db),
                    "--vars",
                    "{" + ", ".join(f"{k}: '{v}'" for k, v in llm_vars.items()) + "}",
                    "--json",
                ],
            )
            assert out.exit_code == 0, out.output
            return json.loads(out.output)

        # run 1: 3N pending, the cap lets N calls through; the other 2N are not written
        calls, output, _ = run("r1", "run", "--select", "+kura__summaries")
        assert calls == N
        assert query(db, "select count(*), count(error) from kura__summaries") == [(N, 0)]
        assert query(db, "select distinct pending_after_cap from kura__summaries") == [(2 * N,)]
        warnings = [line for line in output.splitlines() if "stopped at the LLM budget cap" in line]
        assert len(warnings) == 1 and f"{2 * N} conversations left pending" in warnings[0]
        progress = [line for line in output.splitlines() if f"/{N} calls (" in line]
        assert len(progress) >= 5 and f"{N}/{N} calls (100 %)" in progress[-1], progress
        summary = [line for line in output.splitlines() if "kura__summaries done" in line]
        assert len(summary) == 1 and f"{3 * N} rows in, {N} done, 0 reused" in summary[0]
        assert f"{2 * N} left pending by the budget cap" in summary[0]

        # the estimate sees the 2N left (all new) and what they will cost
        ahead = estimate()
        assert (ahead["conversations"], ahead["calls"]) == (2 * N, 2 * N)
        assert ahead["by_reason"] == {"new": 2 * N} and ahead["completion_from_history"]

        # run 2: N more; the estimate before run 3 is checked against what run 3 sends
        calls, _, _ = run("r2", "run", "--select", "+kura__summaries")
        assert calls == N
        ahead = estimate()
        assert (ahead["conversations"], ahead["calls"]) == (N, N)
        calls, output, usage = run("r3", "run", "--select", "+kura__summaries")
        assert calls == N and "stopped at the LLM budget cap" not in output
        prompt = sum(p for p, _ in usage)
        completion = sum(c for _, c in usage)
        # the tolerance stated in docs/llm.md: prompt tokens within 5 %, completion within 25 %
        # (the mean of earlier answers), calls exact
        assert abs(ahead["prompt_tokens"] - prompt) <= 0.05 * prompt, (ahead, prompt)
        assert abs(ahead["completion_tokens"] - completion) <= 0.25 * completion
        cost = (prompt * 0.15 + completion * 0.6) / 1e6
        assert abs(ahead["cost_usd"] - cost) <= 0.1 * cost

        # every conversation summarised once, no error rows; a full build then spends nothing
        assert query(db, "select count(*), count(error) from kura__summaries") == [(3 * N, 0)]
        assert estimate()["calls"] == 0
        calls, output, _ = run("r4", "build")
        assert calls == 0
        assert "kura__embeddings done" in output and "int_kura__map_points done" in output
        usage_rows = query(
            db,
            "select items, llm_calls, budget_cap_reached, pending_after_cap from kura__llm_usage "
            "where stage = 'summaries' order by run_at",
        )
        assert usage_rows == [
            (N, N, True, 2 * N),
            (N, N, True, N),
            (N, N, False, None),
        ]
