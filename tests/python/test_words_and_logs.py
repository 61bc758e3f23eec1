"""What reaches a user's eyes besides the data: counted nouns said right, and no progress bar
from the embedding library in a dbt log."""

from __future__ import annotations

import pytest

from kura_dbt.display import plural
from kura_dbt.taxonomy.pinned import TaxonomyError


def test_counted_nouns():
    assert [plural(n, "user") for n in (0, 1, 2)] == ["0 users", "1 user", "2 users"]
    assert plural(1, "category", "categories") == "1 category"
    assert plural(3, "category", "categories") == "3 categories"
    assert "has 1 problem:" in str(TaxonomyError("t.csv", ["row 2, field name: empty"]))
    assert "has 2 problems:" in str(TaxonomyError("t.csv", ["a", "b"]))


def test_loading_the_local_model_draws_no_progress_bar(capfd):
    pytest.importorskip("sentence_transformers")
    from transformers.utils import logging as transformers_logging

    from kura_dbt.embeddings.local import _load_local_model

    _load_local_model.cache_clear()
    try:
        _load_local_model("cpu")
    finally:
        _load_local_model.cache_clear()
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert transformers_logging.is_progress_bar_enabled()  # left as it was for everyone else


def test_an_exported_description_carries_no_count_that_goes_stale():
    from kura_dbt.commands.taxonomy import without_count

    assert without_count('177 conversations about bus, flight. Most typical: "x"') == (
        'Conversations about bus, flight. Most typical: "x"'
    )
    assert without_count("1 conversation about cab") == "Conversations about cab"
    assert without_count('25 conversations. Most typical: "y"') == 'Most typical: "y"'
    # a cluster with no subject (kura_dbt.labels.local)
    assert without_count("60 conversations on various subjects, among them tea, Rome") == (
        "Conversations on various subjects, among them tea, Rome"
    )
    # an analyst's own text, or an LLM labeller's, is kept as it is
    assert without_count("The users asked about trains.") == "The users asked about trains."
