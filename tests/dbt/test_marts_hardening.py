"""The marts say "unknown" when they do not know: a real `dbt build` without a users table."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from kura_dbt.cli import app
from kura_dbt.report import load_report_data

from .conftest import run_dbt
from .test_build import SEEDS, _load_raw

NO_USERS_VARS = (
    "{kura__conversations: raw.conversations, kura__messages: raw.messages, "
    "kura__feedback: raw.feedback, kura__users: ~}"
)


def test_without_a_users_table_revenue_is_unknown_not_zero(tmp_path, query):
    """With `kura__users: ~` nobody knows what the users pay: revenue and paying users are NULL
    in the marts and "–" in `kura tree` and the report, never $0 and 0."""
    db = tmp_path / "no_users.duckdb"
    ids = pd.read_csv(SEEDS / "kura_sample_conversations.csv")["conversation_id"].tolist()[:60]
    _load_raw(db, ids)
    run_dbt(["build", "--vars", NO_USERS_VARS], db, tmp_path / "t")

    clusters, revenue, paying = query(
        db, "select count(*), count(revenue), count(paying_users) from kura__clusters"
    )[0]
    assert clusters > 0
    assert (revenue, paying) == (0, 0), "revenue must be NULL (unknown) without a users table"
    conversations, plans, revenues, known = query(
        db,
        "select count(*), count(c.plan), count(c.revenue), count(*) filter (f.users_have_revenue) "
        "from kura__conversations c join int_kura__conversation_facts f using (conversation_id)",
    )[0]
    assert conversations == 60 and (plans, revenues, known) == (0, 0, 0)
    # feedback is still there: only what the users table would tell is unknown
    assert query(db, "select count(thumbs_up_rate) from kura__clusters")[0][0] > 0

    tree = CliRunner().invoke(app, ["tree", "--db", str(db)])
    assert tree.exit_code == 0, tree.output
    assert "MRR –" in tree.output
    assert "$0" not in tree.output

    nodes = load_report_data(db).payload["nodes"].values()
    shown = [n for n in nodes if n["kind"] == "cluster"]
    assert shown and all(n["revenue"] is None and n["paying_users"] is None for n in shown)
