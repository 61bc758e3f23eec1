"""How far private details get through a real build, layer by layer (CLIO's privacy evaluation,
arXiv:2412.13678 section 2.3 / Appendix D, on the offline path).

Public conversations (Schema-Guided Dialogue dev and OpenAssistant, ``../shared/data``) get
synthetic names, e-mail addresses, phone numbers, street addresses and account numbers (Faker,
fixed seed) in a share of them, at known places (``benchmarks/private_details.py``). They are
written as a user's raw tables and built with the real ``dbt build`` of integration_tests (the
offline default: local summariser, labeller and auditor). Then, for each layer, the share of
conversations whose planted details can still be found:

* raw: the conversations as written (by construction, the planted share);
* summary: the conversation's own summary, request or task (``kura__summaries``, private);
* clusters: any cluster name, description or keywords, before the audit
  (``kura__cluster_hierarchy``, private);
* marts: any text column of any table in the target schema (what BI users are granted);
* report: the HTML file ``kura report`` writes.

And the auditor's precision and recall on the summaries: a summary is private when it carries
a planted detail; the auditor flags it when it scores below ``kura__privacy_min_score``.

``--detectors`` measures the candidate detectors instead (presidio-analyzer, scrubadub, this
project's ``kura_dbt.redact``) on the user turns, without a build.

    python benchmarks/privacy_layers.py [--share 0.1] [--limit N] [--seed 0]
        [--data-dir ../shared/data] [--keep DIR] [--vars YAML] [--detectors]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.build_quality import dbt_build  # noqa: E402
from benchmarks.cluster_quality import machine_line  # noqa: E402
from benchmarks.corpora import write_raw  # noqa: E402
from benchmarks.private_details import Planted, leaks, load  # noqa: E402

LAYERS = ("raw", "summary", "clusters", "marts", "report")


def _ids(planted: list[Planted]) -> dict[str, dict[str, str]]:
    """Conversation id (as ``write_raw`` names them) -> its planted details."""
    return {f"c{i:06d}": p.details for i, p in enumerate(planted) if p.details}


def _target_texts(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Every non-null value of every text column of every table and view in ``schema``."""
    columns = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = ? and data_type in ('VARCHAR', 'JSON')",
        [schema],
    ).fetchall()
    texts: list[str] = []
    for table, column in columns:
        rows = con.execute(
            f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null'
        ).fetchall()
        texts += [str(r[0]) for r in rows]
    return texts


def _found_in(texts: list[str], details: dict[str, dict[str, str]]) -> set[str]:
    """The conversations whose details appear in any of ``texts``."""
    blob = "\n".join(texts)
    return {cid for cid, d in details.items() if leaks(blob, d)}


def _report_html(db: Path, workdir: Path) -> str:
    out = workdir / "report.html"
    kura = str(Path(sys.executable).with_name("kura"))
    subprocess.run(
        [kura, "report", "--db", str(db), "--out", str(out)], check=True, capture_output=True
    )
    return out.read_text(encoding="utf-8")


def layers(db: Path, workdir: Path, details: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Which conversations' details survive at each layer, and the auditor's flags."""
    with duckdb.connect(str(db), read_only=True) as con:
        summaries = con.execute(
            "select conversation_id, summary, request, task from main_kura_private.kura__summaries"
        ).fetchall()
        cluster_texts = [
            str(v)
            for row in con.execute(
                "select name, description, keywords from main_kura_private.kura__cluster_hierarchy"
            ).fetchall()
            for v in row
            if v is not None
        ]
        audit = dict(
            con.execute(
                "select t.subject_id, min(coalesce(a.score, 0)) from "
                "main_kura_private.int_kura__privacy_texts as t left join "
                "main_kura_private.int_kura__privacy_audit as a using (text_hash) "
                "where t.kind in ('summary', 'request', 'task') group by t.subject_id"
            ).fetchall()
        )
        min_score = con.execute("select max(min_score) from main.kura__privacy_audit").fetchone()[0]
        marts = _target_texts(con, "main")
    by_id = {cid: [t for t in texts if t] for cid, *texts in summaries}
    summary_leaks = {
        cid for cid, texts in by_id.items() if any(leaks(t, details.get(cid, {})) for t in texts)
    }
    flagged = {cid for cid, score in audit.items() if score < (min_score or 3)}
    return {
        "summary": summary_leaks,
        "clusters": _found_in(cluster_texts, details),
        "marts": _found_in(marts, details),
        "report": _found_in([_report_html(db, workdir)], details),
        "flagged": flagged,
        "audited": set(audit),
        "min_score": min_score,
    }


def precision_recall(truth: set[str], flagged: set[str], universe: set[str]) -> dict[str, float]:
    tp = len(truth & flagged)
    fp = len((flagged - truth) & universe)
    fn = len(truth - flagged)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def run_build(args: argparse.Namespace, workdir: Path) -> None:
    planted = load(args.data_dir, args.share, args.seed, args.limit)
    details = _ids(planted)
    db = workdir / "privacy.duckdb"
    write_raw(db, [p.turns for p in planted])
    variables = {
        "kura__conversations": "raw.conversations",
        "kura__messages": "raw.messages",
        "kura__feedback": None,
        "kura__users": None,
        **yaml.safe_load(args.vars or "{}"),
    }
    seconds = dbt_build(db, workdir / "build", variables)
    found = layers(db, workdir, details)
    n = len(planted)
    print(machine_line())
    print(f"{n} conversations, {len(details)} with planted details (seed {args.seed}); ", end="")
    print(f"dbt build {seconds:.0f} s; vars {json.dumps(variables)}")
    print(f"{'layer':<10} {'conversations with a detail':>28} {'share of all':>13}")
    counts = {"raw": len(details), **{k: len(found[k]) for k in LAYERS[1:]}}
    for layer in LAYERS:
        print(f"{layer:<10} {counts[layer]:>28} {100 * counts[layer] / n:>12.2f}%")
    pr = precision_recall(found["summary"], found["flagged"], found["audited"])
    print(
        f"auditor (min score {found['min_score']}) on the conversations' summaries, requests and "
        f"tasks: precision {pr['precision']:.3f}, recall {pr['recall']:.3f} "
        f"(tp {pr['tp']}, fp {pr['fp']}, fn {pr['fn']}; {len(found['audited'])} conversations)"
    )
    print("marts:", "0 of N" if not found["marts"] else sorted(found["marts"])[:10])
    print("report:", "0 of N" if not found["report"] else sorted(found["report"])[:10])


# --------------------------------------------------------------------------- detectors


def _turns(args: argparse.Namespace) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    """User turns with planted details (positives) and user turns of untouched conversations
    (negatives, at most 4 per positive)."""
    planted = load(args.data_dir, 0.5, args.seed, args.limit or 600)
    positives, negatives = [], []
    for p in planted:
        for role, text in p.turns:
            if role != "user":
                continue
            if p.details and leaks(text, p.details):
                positives.append((text, p.details))
            elif not p.details:
                negatives.append(text)
    random.Random(args.seed).shuffle(negatives)
    return positives, negatives[: 4 * len(positives)]


def _candidates() -> dict[str, Any]:
    """Each candidate as a function text -> the details it finds (kind, text found)."""

    def redact(text: str) -> list[tuple[str, str]]:
        from kura_dbt.redact import redaction_counts

        return [(k, "") for k, n in redaction_counts(text).items() if n]

    def scrubadub(text: str) -> list[tuple[str, str]]:
        import scrubadub as sd

        return [(f.type, f.text) for f in sd.Scrubber().iter_filth(text)]

    def presidio(text: str) -> list[tuple[str, str]]:
        from kura_dbt.audit.offline import detect

        return [d for d in detect(text) if d[0] != "LOCATION"]

    return {"kura_dbt.redact": redact, "scrubadub": scrubadub, "presidio-analyzer": presidio}


def run_detectors(args: argparse.Namespace) -> None:
    positives, negatives = _turns(args)
    print(machine_line())
    print(f"{len(positives)} user turns with planted details, {len(negatives)} without")
    print(f"{'detector':<18} {'recall':>7} {'false alarms':>13} {'precision':>9}  by kind  seconds")
    for name, find in _candidates().items():
        started = time.perf_counter()
        hits = [bool(find(t)) for t, _ in positives]
        alarms = sum(bool(find(t)) for t in negatives)
        kinds: dict[str, list[int]] = {}
        for (text, d), hit in zip(positives, hits, strict=True):
            for kind in d:
                kinds.setdefault(kind, [0, 0])
                kinds[kind][0] += hit and len(d) == 1
                kinds[kind][1] += len(d) == 1
        tp = sum(hits)
        print(
            f"{name:<18} {tp / len(positives):>7.3f} {alarms:>6} of {len(negatives):<5}"
            f"{tp / (tp + alarms) if tp + alarms else 1:>9.3f}  "
            + " ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(kinds.items()))
            + f"  {time.perf_counter() - started:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--share", type=float, default=0.1, help="conversations with details")
    parser.add_argument("--limit", type=int, default=None, help="at most this many conversations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vars", default=None, help="more dbt vars, as YAML")
    parser.add_argument("--keep", type=Path, default=None, help="keep the build in this folder")
    parser.add_argument("--detectors", action="store_true", help="compare the PII detectors")
    args = parser.parse_args()
    if args.detectors:
        run_detectors(args)
        return
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="kura-privacy-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run_build(args, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
