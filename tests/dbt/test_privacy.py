"""Privacy you can prove (issue 22): thresholds that hold whatever the history, and nothing
with conversation text in the target (BI-facing) schema.

The demo is built with thresholds of 1 and 1 (every cluster named). Raising them on that
warehouse, as the docs tell people to before sharing it, must hide the small clusters' words
everywhere a BI user looks: every column of every table and view in the target schema, the
report's data and `kura tree`, on the next ordinary build (no re-discovery). One more build."""

from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from .conftest import run_dbt

TARGET = "main"
# the tables a BI user is granted: the marts and the name-free cluster tables (docs/privacy.md)
BI_FACING = {
    "kura__alerts",
    "kura__classifier_eval",  # pinned taxonomy: per category counts
    "kura__conversation_categories",  # pinned taxonomy: ids, status, confidence
    "kura__cluster_facets",  # facet values per cluster, thresholded per cell
    "kura__cluster_lineage",
    "kura__cluster_runs",
    "kura__cluster_weekly",
    "kura__clusters",
    "kura__conversation_clusters",
    "kura__conversations",
    "kura__llm_usage",
    "kura__privacy_audit",  # the auditor's counts per kind of text, no text
    "kura__projections",
    "kura__time_spine",  # the Semantic Layer's calendar: dates only
}
# where a visible cluster's (redacted) summaries are shown by design (CLIO's layer 1, the
# examples): a cluster description's "Most typical" quote and a conversation's summary; below
# the thresholds they are NULL (the thresholds test above proves it), so they are the only
# columns allowed to hold a message's words
SHOWN_SUMMARIES = {
    "kura__clusters.description",
    "kura__conversations.summary",
    "kura__conversations.request",
    "kura__conversations.task",
}
_WORD = re.compile(r"[a-z][a-z'-]{4,}")


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        return con.execute(sql).fetchall()


def _target_text(db: Path) -> dict[str, list[str]]:
    """Every value of every column of every table and view in the target schema, as text."""
    out: dict[str, list[str]] = {}
    with duckdb.connect(str(db)) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [TARGET]
        ).fetchall()
        for (table,) in tables:
            cols = con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [TARGET, table],
            ).fetchall()
            for (col,) in cols:
                values = con.execute(
                    f'select distinct cast("{col}" as varchar) from {TARGET}."{table}" '
                    f'where "{col}" is not null'
                ).fetchall()
                out[f"{table}.{col}"] = [str(v).lower() for (v,) in values]
    return out


def _pick_thresholds(db: Path) -> tuple[int, int]:
    """(users, conversations): the smallest that hide a base cluster whose parent stays
    visible and is named with a word of that hidden cluster's own name, so that the parent's
    name is what is at stake (whatever clusters the demo's build makes)."""
    rows = _rows(
        db,
        "select c.size, c.distinct_users, p.size, p.distinct_users, lower(p.name) "
        "from kura__clusters c join kura__clusters p on p.cluster_id = c.parent_id "
        "where c.level = 0",
    )
    users = 2
    for size in sorted({r[0] for r in rows}):
        hidden = [r for r in rows if r[0] <= size or r[1] < users]
        words = _name_words(db, users, size + 1)
        if any(r[2] > size and r[3] >= users and words & set(_WORD.findall(r[4])) for r in hidden):
            return users, size + 1
    raise AssertionError("the demo has no small cluster under a larger parent named after it")


def _distinctive_words(db: Path, users: int, conversations: int) -> dict[str, set[str]]:
    """Per cluster the new thresholds hide, the words of its name, description and
    conversations' summaries that no conversation of a cluster they leave visible uses."""
    hidden = _rows(
        db,
        "select cluster_id, coalesce(name, '') || ' ' || coalesce(description, '') "
        f"from kura__clusters where level = 0 "
        f"and (size < {conversations} or distinct_users < {users})",
    )
    visible_text = " ".join(
        str(t).lower()
        for (t,) in _rows(
            db,
            "select s.summary || ' ' || coalesce(s.request, '') from kura__summaries s "
            "join kura__conversation_clusters cc using (conversation_id) "
            "join kura__clusters c on c.cluster_id = cc.cluster_id "
            f"where c.size >= {conversations} and c.distinct_users >= {users}",
        )
        + _rows(
            db,
            "select coalesce(name, '') || ' ' || coalesce(description, '') from kura__clusters "
            f"where level = 0 and size >= {conversations} and distinct_users >= {users}",
        )
    )
    # and the product's own words: the report's page and the facets' names and values, which
    # every report and every kura__cluster_facets carries whatever the conversations say
    templates = resources.files("kura_dbt.report") / "templates"
    product = " ".join(t.read_text(encoding="utf-8") for t in templates.iterdir() if t.is_file())
    product += " ".join(
        f"{f} {v}"
        for f, v in _rows(
            db, "select distinct facet, facet_value from int_kura__conversation_facet_values"
        )
    )
    seen = set(_WORD.findall(visible_text)) | set(_WORD.findall(product.lower()))
    words = {}
    for cid, text in hidden:
        summaries = _rows(
            db,
            "select s.summary from kura__summaries s join kura__conversation_clusters cc "
            f"using (conversation_id) where cc.cluster_id = '{cid}'",
        )
        own = set(_WORD.findall(" ".join([text.lower(), *(str(s).lower() for (s,) in summaries)])))
        words[cid] = own - seen
    return {cid: w for cid, w in words.items() if w}


def _name_words(db: Path, users: int, conversations: int) -> set[str]:
    """The words of the hidden clusters' names that no visible base cluster's name uses: a
    parent named from them (its children's names) spells out what the thresholds hide."""
    rows = _rows(
        db,
        f"select name, size < {conversations} or distinct_users < {users} from kura__clusters "
        "where level = 0",
    )
    hidden = {w for name, small in rows if small for w in _WORD.findall(name.lower())}
    return hidden - {w for name, small in rows if not small for w in _WORD.findall(name.lower())}


def _shown_names(db: Path) -> list[str]:
    """Every cluster name a BI user sees: the marts' names and `kura tree`'s lines."""
    from kura_dbt.cli import app

    names = _rows(
        db,
        "select coalesce(name, '') || ' ' || coalesce(keywords, '') || ' ' || display_name "
        "from kura__clusters union all "
        "select coalesce(base_cluster_name, '') || ' ' || coalesce(top_cluster_name, '') "
        "from kura__conversations",
    )
    tree = CliRunner().invoke(app, ["tree", "--db", str(db)])
    return [str(n).lower() for (n,) in names] + tree.output.lower().splitlines()


def _report_and_tree(db: Path) -> str:
    from kura_dbt.cli import app
    from kura_dbt.report.data import load_report_data

    payload = json.dumps(load_report_data(db).payload, ensure_ascii=False).lower()
    tree = CliRunner().invoke(app, ["tree", "--db", str(db)])
    assert tree.exit_code == 0, tree.output
    return payload + "\n" + tree.output.lower()


def test_raised_thresholds_hide_small_clusters_words_everywhere(demo_db, tmp_path):
    with duckdb.connect(str(demo_db)) as con:
        con.execute("checkpoint")  # everything in the file, none in its write-ahead log
    db = tmp_path / "x9.duckdb"  # (its name is in the tree and the report: no word)
    shutil.copy(demo_db, db)  # built with thresholds 1 and 1: every cluster named
    users, conversations = _pick_thresholds(db)
    words = _distinctive_words(db, users, conversations)
    assert words, "no hidden cluster with words of its own: the test would prove nothing"
    runs = _rows(db, "select count(*) from kura__cluster_runs where decision = 'discover'")
    name_words = _name_words(db, users, conversations)
    parents = _rows(
        db,
        f"select lower(name) from kura__clusters where level > 0 and size >= {conversations} "
        f"and distinct_users >= {users}",
    )
    # the case at stake: a parent that stays visible is named from its small child's name
    assert any(w in _WORD.findall(name) for (name,) in parents for w in name_words)

    variables = (
        f"{{kura__min_cluster_users: {users}, kura__min_cluster_conversations: {conversations}}}"
    )
    run_dbt(["build", "--vars", variables], db, tmp_path / "target")

    # an ordinary build: no re-discovery, the same clusters, the small ones now hidden
    assert _rows(db, "select count(*) from kura__cluster_runs where decision = 'discover'") == runs
    hidden = {
        c
        for (c,) in _rows(
            db, "select cluster_id from kura__clusters where not meets_privacy_threshold"
        )
    }
    assert set(words) <= hidden
    # every visible cluster still has a name
    assert _rows(
        db, "select count(*) from kura__clusters where meets_privacy_threshold and name is null"
    ) == [(0,)]
    # the public labels this build made are counted (the local labeller: no call)
    public = _rows(db, "select count(*) from kura__taxonomy where is_current and has_public_label")
    assert public[0][0] > 0
    assert _rows(
        db, "select sum(items), sum(llm_calls) from kura__llm_usage where stage = 'public_labels'"
    ) == [(public[0][0], 0)]

    leaks = {
        f"{where}: {word}"
        for where, values in _target_text(db).items()
        for value in values
        for ws in words.values()
        for word in ws
        if re.search(rf"\b{re.escape(word)}\b", value)
    }
    shown = _report_and_tree(db)
    leaks |= {
        f"report/tree: {word}"
        for ws in words.values()
        for word in ws
        if re.search(rf"\b{re.escape(word)}\b", shown)
    }
    leaks |= {
        f"name: {word} in {name!r}"
        for name in _shown_names(db)
        for word in name_words
        if re.search(rf"\b{re.escape(word)}\b", name)
    }
    assert not leaks, (
        f"hidden clusters' words in the target schema, report or tree: {sorted(leaks)[:20]}"
    )


def test_nothing_with_conversation_text_in_the_target_schema(demo_db):
    """After a build, the target schema holds only the BI-facing tables (no seed, no input
    view, no leftover copy of the summaries), and no column holds a message, except where a
    visible cluster's summaries are shown (SHOWN_SUMMARIES), which hold none of a hidden one."""
    relations = {
        name
        for (name,) in _rows(
            demo_db,
            f"select table_name from information_schema.tables where table_schema = '{TARGET}'",
        )
    }
    kura = {r for r in relations if r.startswith("kura")}
    assert kura <= BI_FACING, f"not BI-facing, in the target schema: {sorted(kura - BI_FACING)}"
    messages = {
        str(m).lower()
        for (m,) in _rows(
            demo_db, "select content from kura_sample_messages where length(content) >= 40"
        )
    }
    assert messages
    found = {
        where
        for where, values in _target_text(demo_db).items()
        if where not in SHOWN_SUMMARIES
        for value in values
        if len(value) >= 40 and any(m in value for m in messages)
    }
    assert not found, f"message text in the target schema: {sorted(found)}"
