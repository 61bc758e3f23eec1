"""kura_dbt.cache: what the local models (spaCy's pipeline in the offline privacy detector, the
local embedder) computed once in a process is not computed again for the same text, the key
holds everything the result depends on, and the memory it takes is bounded."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from kura_dbt.cache import LruCache


def test_the_least_recently_used_goes_first_and_the_size_holds():
    cache = LruCache[str, int](3)
    cache.put_many({"a": 1, "b": 2, "c": 3})
    assert cache.get_many(["a", "x"]) == {"a": 1}  # "a" read: now the most recent
    cache.put_many({"d": 4})
    assert len(cache) == 3
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    cache.put_many({"c": 30})  # a new value replaces the old one
    assert cache.get_many(["c"]) == {"c": 30} and len(cache) == 3
    assert len(LruCache[str, int](0).get_many(["a"])) == 0
    with pytest.raises(ValueError, match="at least 0"):
        LruCache[str, int](-1)


def test_threads_writing_at_once_keep_the_bound():
    cache = LruCache[int, int](50)

    def write(offset: int) -> None:
        for i in range(500):
            cache.put_many({offset + i: i})
            cache.get_many([offset + i - 1, offset])

    threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


def _unique(text: str) -> str:
    """``text`` with a marker no other test uses: not in the process's caches yet."""
    return f"{text} (ref {uuid.uuid4().hex[:8]})"


# ---- the offline detector: spaCy's pipeline once per text --------------------------------


@pytest.fixture
def analysed(monkeypatch):
    """The texts each call of presidio's batch analyzer was given (the real analyzer runs)."""
    presidio = pytest.importorskip("presidio_analyzer")
    calls: list[list[str]] = []
    real = presidio.BatchAnalyzerEngine.analyze_iterator

    def counting(self, texts, *args, **kwargs):
        calls.append(list(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(presidio.BatchAnalyzerEngine, "analyze_iterator", counting)
    return calls


def test_the_detector_runs_spacy_once_per_text_and_detector_version(analysed, monkeypatch):
    from kura_dbt.audit import offline

    named = _unique("My name is Kelly Moore and I need a new passport.")
    plain = _unique("Debug Python data pipelines")
    first = offline.detect_many([named, plain, named])
    assert analysed == [[named, plain]]  # a text twice in one call is analysed once
    assert first[0] == first[2] and ("PERSON", "Kelly Moore") in first[0]

    again = offline.detect_many([plain, named])
    assert len(analysed) == 1  # nothing new: spaCy not run
    assert again == [first[1], first[0]]

    # the redaction asks for other entities: its own key, its own run
    assert offline.redact_details([named])[0].startswith("My name is [NAME] and")
    assert analysed[-1] == [named]
    assert offline.redact_details([named]) == offline.redact_details([named])
    assert len(analysed) == 2

    # another detector (a pattern or the threshold changed): analysed again
    monkeypatch.setattr(offline, "_version", lambda: "presidio-another")
    assert offline.detect_many([named]) == [first[0]]
    assert analysed[-1] == [named]


def test_the_detectors_cache_is_bounded(analysed, monkeypatch):
    from kura_dbt.audit import offline
    from kura_dbt.cache import LruCache

    monkeypatch.setattr(offline, "HITS", LruCache(2))
    texts = [_unique(f"Call Kelly Moore, text {i}") for i in range(3)]
    offline.detect_many(texts)
    assert len(offline.HITS) == 2
    offline.detect_many(texts[:1])  # the oldest went out: analysed again
    assert analysed[-1] == texts[:1]


# ---- the local embedder: the model once per text -----------------------------------------


@pytest.fixture
def encoded(monkeypatch):
    """The texts each call of the real model's encode was given."""
    pytest.importorskip("sentence_transformers")
    from kura_dbt.embeddings import local

    model = local._load_local_model("cpu")
    calls: list[list[str]] = []

    class Counting:
        def encode(self, texts, **kwargs):
            calls.append(list(texts))
            return model.encode(texts, **kwargs)

    monkeypatch.setattr(local, "_load_local_model", lambda device: Counting())
    return calls


def test_the_local_embedder_encodes_each_text_once(encoded):
    from kura_dbt.embeddings.local import LocalEmbedder

    bike, tax = _unique("how do I fix my bike's gears"), _unique("file my taxes late")
    embedder = LocalEmbedder()
    first = embedder.embed([bike, tax, bike])
    assert encoded == [[bike, tax]]
    np.testing.assert_array_equal(first[0], first[2])
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)

    new = _unique("a recipe for bread")
    second = LocalEmbedder(batch_size=8).embed([tax, new])
    assert encoded[-1] == [new]  # only the text not seen before
    np.testing.assert_array_equal(second[0], first[1])
    assert float(second[1] @ second[0]) < 0.99  # the new text's own vector

    second[0] *= 0  # a caller's array is its own: the cache keeps its vector
    np.testing.assert_array_equal(embedder.embed([tax])[0], first[1])
    assert len(encoded) == 2
