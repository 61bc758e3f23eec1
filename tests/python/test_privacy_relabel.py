"""A name the privacy auditor withheld is made again, not just withheld (issue 22): the
cluster texts scored below kura__privacy_min_score are remade with the details the offline
detector finds replaced by markers, and the same auditor scores the new text in the same
build (int_kura__privacy_relabels; kura__clusters shows it when it passes). The real local
auditor (presidio on spaCy's installed small pipeline) on a real DuckDB connection."""

from __future__ import annotations

import hashlib

import pandas as pd

from kura_dbt import pipeline

from .state_store import build

PERSON = "Help Kelly Moore renew her passport"
NOTHING = "Bus tickets and timetables"  # scored low, with nothing the detector can remove
SHOWN = "Hotel rooms"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _inputs() -> dict[str, pd.DataFrame]:
    texts = pd.DataFrame(
        {
            "kind": ["cluster_name", "cluster_description", "cluster_name", "summary"],
            "subject_id": ["L0-1", "L0-2", "L0-3", "c1"],
            "text": [PERSON, NOTHING, SHOWN, f"{PERSON}."],
        }
    )
    texts["text_hash"] = [_md5(t) for t in texts["text"]]
    # the audit of this build: the first two withheld (the second wrongly: a remade text must
    # still pass the audit to be shown), the third passed, the summary is not a cluster text
    audit = pd.DataFrame({"text_hash": list(texts["text_hash"]), "score": [1, 2, 5, 1]})
    return {"texts": texts, "audit": audit}


def test_a_withheld_cluster_name_is_made_again_without_the_detected_name_and_audited():
    relabel = pipeline.relabel_withheld
    config = {"auditor": "local", "progress": False, "privacy_min_score": 3}
    rows = build(relabel, None, config, **_inputs())
    by_hash = rows.set_index("text_hash")
    assert set(by_hash.index) == {_md5(PERSON), _md5(NOTHING)}
    person = by_hash.loc[_md5(PERSON)]
    assert "Kelly" not in person["replacement"] and "Moore" not in person["replacement"]
    assert "[NAME]" in person["replacement"] and "passport" in person["replacement"]
    assert person["replacement_hash"] == _md5(person["replacement"])
    assert person["score"] >= 3 and person["auditor"] == "local"  # audited again: it passes
    nothing = by_hash.loc[_md5(NOTHING)]
    assert pd.isna(nothing["replacement"]) and pd.isna(nothing["score"])  # stays withheld

    # the next build: nothing to remake
    again = build(relabel, rows, config, **_inputs())
    assert again.empty

    # a threshold of 1 shows everything: nothing is remade
    assert build(relabel, None, {**config, "privacy_min_score": 1}, **_inputs()).empty
