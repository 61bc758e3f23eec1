"""What is embedded leaves redaction's markers out: an embedding model reads "[NAME]" as the
word "name", and on real chat logs the requests that only share a redacted name became a
cluster of their own (benchmarks/build_quality.py --sets oasst: a base cluster of 26, 22 of
them holding "[NAME]", named "Name"). The Python embedder (kura_dbt.sql.embedded_text) and the
Cortex model (macro kura.embedded_text) embed and hash the same text."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd
import pytest

from kura_dbt import sql
from kura_dbt.audit.offline import REDACTED_ENTITIES
from kura_dbt.redact import MARKERS, PLACEHOLDERS

from .state_store import embed, text_hash

MACRO = Path(__file__).resolve().parents[2] / "macros" / "cortex" / "embedded_text.sql"


def _embedded(summary: str, request: str | None, column: str = "request") -> str:
    frame = pd.DataFrame({"summary": [summary], "request": [request]})  # noqa: F841 (read below)
    with duckdb.connect() as con:
        return con.execute(f"select {sql.embedded_text(column, 's')} from frame as s").fetchone()[0]


def test_every_marker_redaction_writes_is_left_out():
    assert set(PLACEHOLDERS.values()) | set(REDACTED_ENTITIES.values()) == set(MARKERS)


@pytest.mark.parametrize(
    ("request_text", "embedded"),
    [
        ("Who is [NAME]?", "Who is?"),
        ("Write to [NAME] at [EMAIL] or call [PHONE]", "Write to at or call"),
        ("[NAME] and [NAME] argue about [ADDRESS]", "and argue about"),
        ("Find me a bus to Fresno.", "Find me a bus to Fresno."),  # unchanged: same hash
        ("Rewrite this recipe so it is vegan [pasted recipe]", None),  # not a redaction marker
    ],
)
def test_the_embedded_request_has_no_markers(request_text, embedded):
    expected = request_text if embedded is None else embedded
    assert _embedded("The user asks: ...", request_text) == expected


def test_a_text_of_markers_only_is_embedded_as_it_is():
    """Nothing else to embed: the text stays (a blank text would never be clustered)."""
    assert _embedded("The user asks: [NAME]", "[NAME]") == "[NAME]"
    assert _embedded("[NAME]", None, "summary") == "[NAME]"


def test_the_embedder_hashes_and_embeds_the_text_without_markers():
    summaries = pd.DataFrame(
        {
            "conversation_id": ["a", "b"],
            "summary": ['The user asks: "Who is [NAME]?"', 'The user asks: "Who is [NAME]?"'],
            "request": ["Who is [NAME]?", "Who is Ada?"],
            "error": [None, None],
        }
    )
    frame = embed(summaries, None, {"embedder": "local"}).set_index("conversation_id")
    assert frame.loc["a", "text_hash"] == text_hash("Who is?")
    assert frame.loc["b", "text_hash"] == text_hash("Who is Ada?")


def test_the_cortex_macro_renders_the_library_s_sql():
    source = MACRO.read_text(encoding="utf-8")
    listed = re.search(r"set markers = \[(.*?)\]\s*-%}", source, re.S)
    assert listed is not None
    assert tuple(re.findall(r"'(\[[A-Z_]+\])'", listed.group(1))) == MARKERS
    module = jinja2.Environment().from_string(source).make_module()
    for column in ("request", "summary"):
        rendered = str(module.embedded_text(column, "summaries")).strip()
        assert rendered == sql.embedded_text(column, "summaries")


def test_requests_that_share_only_a_redacted_name_are_not_alike():
    """The cause, with the shipped model: two unrelated requests that each hold "[NAME]" are
    nearer each other than the same requests without it."""
    from kura_dbt.embeddings.local import LocalEmbedder

    a, b = "Could you share a [NAME] recipe with me?", "Who would win in a fight: [NAME] or [NAME]?"
    plain = [_embedded("", a), _embedded("", b)]
    assert "[NAME]" not in " ".join(plain)
    vectors = LocalEmbedder().embed([a, b, *plain])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert float(unit[0] @ unit[1]) > float(unit[2] @ unit[3]) + 0.05
