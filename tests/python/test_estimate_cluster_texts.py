"""`kura estimate` counts the auditor's calls for cluster texts as the build makes them: the
withheld names int_kura__privacy_relabels remakes and audits again (against the
OpenAI-compatible server on localhost, with the real local detector), and, as an upper bound,
the names, descriptions and keywords of a re-discovery (a real discovery on a real DuckDB
connection)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
from typer.testing import CliRunner

from kura_dbt import pipeline
from kura_dbt.incremental import text_hash

from . import test_progress_budget
from .state_store import Store, _blobs, _centres, build
from .test_audit import _config
from .test_progress_budget import _estimate_state, audit_vars

server = test_progress_budget.server  # the local server's fixture
PRIVATE = "[[answer:audit_private]]"  # the recorded answer: rating 1
WITHHELD = f"Help Kelly Moore renew her passport {PRIVATE}"  # withheld last build
NOTHING = f"Bus tickets and timetables {PRIVATE}"  # withheld, nothing the detector removes
SHOWN = "Hotel rooms"
PENDING = f"Kelly Moore's lease renewal {PRIVATE}"  # not audited yet: withheld by this build
SUMMARY = "The user asks for a bus to Fresno."  # not a cluster text: never remade


def _shown() -> pd.DataFrame:
    texts = [WITHHELD, NOTHING, SHOWN, PENDING, SUMMARY]
    return pd.DataFrame(
        {
            "kind": ["cluster_name", "cluster_description", "cluster_name", "cluster_name"]
            + ["summary"],
            "subject_id": ["L0-1", "L0-2", "L0-3", "L1-1", "c1"],
            "text": texts,
            "text_hash": [text_hash(t) for t in texts],
        }
    )


def _write(path, **tables: pd.DataFrame) -> None:
    with duckdb.connect(str(path)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"create table main_kura_private.{name} as select * from frame")
            con.unregister("frame")


def test_estimate_counts_the_relabels_of_withheld_cluster_names_as_the_build_sends_them(
    tmp_path, server
):
    """A cluster name withheld last build is remade and audited again: a certain call; one the
    same build withholds may be too (at most); a withheld text with nothing the detector can
    remove is not sent. With everything withheld that can be, the build's audit and relabel
    send exactly the estimate's calls at most, their prompt tokens within 2 %."""
    from kura_dbt.audit.estimate import audit_request_of, estimate_audits
    from kura_dbt.cli import app
    from kura_dbt.commands.estimate import _ConnectionReader, settings_from_vars
    from kura_dbt.parking import RetryPolicy

    db = tmp_path / "kura.duckdb"
    _estimate_state(db)
    shown = _shown()
    audited = shown[shown["text"].isin([WITHHELD, NOTHING, SHOWN])]
    config = _config(server, max_retries=0)
    state = build(pipeline.audit_new, None, config, texts=audited)
    assert sorted(state["score"]) == [1, 1, 5]
    _write(db, int_kura__privacy_texts=shown, int_kura__privacy_audit=state)
    variables = audit_vars(server)
    run = CliRunner().invoke(app, ["estimate", "--db", str(db), "--vars", json.dumps(variables)])
    assert run.exit_code == 0, run.output
    assert "withheld cluster texts remade" in run.output and "(at most)" in run.output

    settings = settings_from_vars(variables)
    auditor = audit_request_of(settings, variables, snowflake=False)
    with duckdb.connect(str(db), read_only=True) as con:
        reader = _ConnectionReader(con, "", "main_kura_private.int_kura__privacy_audit")
        reader.views = {"texts": "main_kura_private.int_kura__privacy_texts"}
        now = estimate_audits(reader, auditor, RetryPolicy.of(settings), 0, min_score=3)
    assert (now["texts"], now["relabels"], now["relabels_at_most"]) == (2, 1, 2)
    assert (now["calls"], now["calls_at_most"]) == (2 + 1, 2 + 2)
    assert now["rediscover"] == "no" and now["new_cluster_texts_at_most"] == 0

    # the build: the audit scores PENDING and SUMMARY, then the relabel remakes WITHHELD and
    # PENDING (both withheld) and has them audited; NOTHING stays withheld, unsent
    before = len(server.requests)
    llm_config = {"auditor": "openai", "progress": False, "llm": dict(settings.llm)}
    scored = build(pipeline.audit_new, state, llm_config, texts=shown)
    scores = pd.concat([state[~state["text_hash"].isin(scored["text_hash"])], scored])
    remade = build(
        pipeline.relabel_withheld,
        None,
        {**llm_config, "privacy_min_score": 3},
        texts=shown,
        audit=scores,
    )
    assert remade["replacement"].notna().sum() == 2
    assert len(server.requests) - before == now["calls_at_most"] == 4
    counted = sum(p for p, _ in server.usage[-4:])
    estimated = now["prompt_tokens_at_most"]
    assert abs(estimated - counted) <= 0.02 * counted, (estimated, counted)


def _taxonomy_db(tmp_path) -> tuple:
    """A real first discovery (kura_dbt.taxonomy on a real DuckDB connection) of 120
    conversations in six groups, its state written where `kura estimate` reads it."""
    store = Store()
    X = _blobs(_centres(6), 20, seed=3)
    store.add("a", X, [f"topic {i // 20} words {i % 7}" for i in range(len(X))])
    store.build()
    db = tmp_path / "kura.duckdb"
    _estimate_state(db)
    _write(db, int_kura__cluster_state=store.con.sql("select * from state").df())
    return db, store


def _current_clusters(store: Store) -> int:
    query = "select count(*) from state where record_type = 'cluster' and retired_epoch is null"
    return int(store.con.execute(query).fetchone()[0])


def test_estimate_bounds_the_audits_of_a_rediscoverys_cluster_texts(tmp_path):
    """A changed clustering setting re-discovers: `kura estimate` says so and counts at most
    three texts (name, description, keywords) per cluster a discovery can make, which bounds
    what the real re-discovery writes; an unchanged taxonomy under kura__rediscover: never
    adds none."""
    from kura_dbt.cli import app
    from kura_dbt.commands.estimate import settings_from_vars
    from kura_dbt.taxonomy.forecast import clusters_at_most

    db, store = _taxonomy_db(tmp_path)
    same = {"kura__seed": 7, "kura__max_top_clusters": 2, "kura__rediscover_min_conversations": 1}
    changed = {**same, "kura__max_top_clusters": 3}
    argv = ["estimate", "--db", str(db), "--json", "--vars"]
    out = json.loads(CliRunner().invoke(app, [*argv, json.dumps(changed)]).output)
    audit = out["privacy_audit"]
    assert (audit["rediscover"], audit["rediscover_reason"]) == (
        "yes",
        "clustering settings changed",
    )
    bound = clusters_at_most(settings_from_vars(changed), 120 + 1)  # d is a new conversation
    assert audit["new_cluster_texts_at_most"] == 3 * bound
    assert audit["calls"] == audit["calls_at_most"] == 0  # the local auditor sends nothing

    store.build(max_top_clusters=3)  # what the build does: a re-discovery
    made = _current_clusters(store)
    assert 3 * made <= audit["new_cluster_texts_at_most"], (made, bound)

    never = {**same, "kura__rediscover": "never"}
    audit = json.loads(CliRunner().invoke(app, [*argv, json.dumps(never)]).output)
    assert audit["privacy_audit"]["rediscover"] == "no"
    assert audit["privacy_audit"]["new_cluster_texts_at_most"] == 0


def test_the_cluster_bound_holds_for_each_clusterer():
    """The bound follows each clusterer's own limits: a real discovery of the same data by
    automatic k-means, a fixed k and HDBSCAN names no more clusters than it says."""
    from kura_dbt.settings import Settings
    from kura_dbt.taxonomy import discover
    from kura_dbt.taxonomy.forecast import clusters_at_most

    X = _blobs(_centres(9), 15, seed=5)
    ids = [f"c{i:04d}" for i in range(len(X))]
    texts = [f"topic {i // 15} words {i % 5}" for i in range(len(X))]
    for config in (
        {"clusterer": "kmeans"},
        {"clusterer": "kmeans", "n_base_clusters": 12},
        {"clusterer": "hdbscan", "hdbscan_min_cluster_size": 5},
    ):
        settings = Settings.from_config({"seed": 1, "max_top_clusters": 3, **config})
        made = len(discover(ids, X, texts, settings).hierarchy)
        assert 0 < made <= clusters_at_most(settings, len(X)), (config, made)


def test_with_the_cortex_auditor_every_withheld_cluster_text_is_a_relabel_at_most(tmp_path, server):
    """On Snowflake AI_REDACT decides in the build which withheld texts change
    (models/cortex/int_kura__privacy_relabels.sql), so each withheld cluster text not remade
    yet by Cortex is a call at most, and none is certain; one remade already is not counted."""
    from kura_dbt.audit.estimate import CORTEX_MODEL, audit_request_of, estimate_audits
    from kura_dbt.commands.estimate import _ConnectionReader, settings_from_vars
    from kura_dbt.parking import RetryPolicy
    from kura_dbt.privacy_relabel import CORTEX_DETECTOR
    from kura_dbt.summaries.cortex import audit_request

    db = tmp_path / "kura.duckdb"
    _estimate_state(db)
    shown = _shown()
    audited = shown[shown["text"].isin([WITHHELD, NOTHING, SHOWN])]
    state = build(pipeline.audit_new, None, _config(server, max_retries=0), texts=audited)
    version = audit_request()["prompt_version"]
    state = state.assign(auditor="cortex", model=CORTEX_MODEL, prompt_version=version)
    done = pd.DataFrame(  # WITHHELD remade by an earlier build
        {
            "text_hash": [text_hash(WITHHELD)],
            "error": [None],
            "auditor": ["cortex"],
            "model": [CORTEX_MODEL],
            "prompt_version": [version],
            "detector_version": [CORTEX_DETECTOR],
        }
    )
    _write(db, int_kura__privacy_texts=shown, int_kura__privacy_audit=state)
    variables = {"kura__auditor": "auto", "kura__progress": False}
    auditor = audit_request_of(settings_from_vars(variables), variables, snowflake=True)
    assert auditor.name == "cortex"

    def estimate(relabels: bool) -> dict:
        with duckdb.connect(str(db), read_only=True) as con:
            reader = _ConnectionReader(con, "", "main_kura_private.int_kura__privacy_audit")
            reader.views = {"texts": "main_kura_private.int_kura__privacy_texts"}
            if relabels:
                reader.views["relabels"] = "main_kura_private.int_kura__privacy_relabels"
            policy = RetryPolicy.of(settings_from_vars(variables))
            return estimate_audits(reader, auditor, policy, 0, min_score=3)

    now = estimate(relabels=False)  # WITHHELD, NOTHING (withheld), PENDING (may be)
    assert (now["texts"], now["relabels"], now["relabels_at_most"]) == (2, 0, 3)
    assert (now["calls"], now["calls_at_most"]) == (2, 2 + 3)
    _write(db, int_kura__privacy_relabels=done)
    later = estimate(relabels=True)
    assert (later["relabels"], later["relabels_at_most"]) == (0, 2)
