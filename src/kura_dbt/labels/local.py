"""Local cluster labeller: names and descriptions from the clusters' own words.

Class-based TF-IDF (every cluster is one document; a term scores high when it is frequent in
this cluster and rare in the others at the same level) gives the keywords; the summary closest
to the cluster centroid gives a representative example. Nothing is invented: the name is made
of the cluster's most distinctive words, the description quotes its most central summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from kura_dbt.labels.base import ClusterLabel, Labeller

# Words that every conversation's summary shares (the local summariser's template and
# conversational filler): they would otherwise top every cluster's keyword list.
CONVERSATION_STOP_WORDS = frozenset(
    """
    user users asks ask asked asking assistant wants want wanted like would could please
    help need needs needed thanks thank hi hello hey okay ok yes sure know tell find
    looking look good great just also make get going really something anything thing things
    let lets does did doing done using use way able think new sounds fine right
    follow-up follow writes write they'd they're they've they'll i'd i'm i've i'll it's
    don't can't won't didn't doesn't isn't
    """.split()
)


class ClassTfidfLabeller(Labeller):
    """Names clusters with their top class-based TF-IDF keywords plus their most central text."""

    name = "local"

    def __init__(
        self,
        n_keywords: int = 5,
        n_name_keywords: int = 3,
        ngram_range: tuple[int, int] = (1, 2),
        max_description_chars: int = 240,
        quote_example: bool = True,
    ) -> None:
        if n_name_keywords > n_keywords:
            raise ValueError("n_name_keywords cannot exceed n_keywords")
        self.n_keywords = n_keywords
        self.n_name_keywords = n_name_keywords
        self.ngram_range = ngram_range
        self.max_description_chars = max_description_chars
        # Quoting the most central summary makes a cluster easy to read, but it shows one
        # conversation's (redacted) summary word for word; turn it off for shared reports.
        self.quote_example = quote_example

    def keywords(self, documents: Sequence[str]) -> list[list[str]]:
        """Top keywords for each class document (one string per cluster)."""
        if len(documents) == 0:
            return []
        vectorizer = CountVectorizer(
            stop_words=sorted(ENGLISH_STOP_WORDS | CONVERSATION_STOP_WORDS),
            ngram_range=self.ngram_range,
            token_pattern=r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b",
            lowercase=True,
        )
        try:
            counts = vectorizer.fit_transform(documents)
        except ValueError:  # every document empty or only stop words
            return [[] for _ in documents]
        terms = vectorizer.get_feature_names_out()
        counts = counts.astype(np.float64).tocsr()
        words_per_class = np.asarray(counts.sum(axis=1)).ravel()
        term_totals = np.asarray(counts.sum(axis=0)).ravel()
        avg_words = words_per_class.mean() if len(words_per_class) else 0.0
        idf = np.log1p(avg_words / np.maximum(term_totals, 1.0))
        result: list[list[str]] = []
        for row in range(counts.shape[0]):
            start, end = counts.indptr[row], counts.indptr[row + 1]
            cols = counts.indices[start:end]
            if len(cols) == 0 or words_per_class[row] == 0:
                result.append([])
                continue
            tf = counts.data[start:end] / words_per_class[row]
            scores = tf * idf[cols]
            # highest score first; ties broken alphabetically so the result is deterministic
            order = sorted(range(len(cols)), key=lambda i: (-scores[i], terms[cols[i]]))
            result.append(self._dedupe([terms[cols[i]] for i in order]))
        return result

    def _dedupe(self, ranked: list[str]) -> list[str]:
        """Keep the best terms, dropping a word already covered by a chosen phrase and vice
        versa."""
        chosen: list[str] = []
        for term in ranked:
            words = set(term.split())
            if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == self.n_keywords:
                break
        return chosen

    def label(
        self,
        texts_per_cluster: Sequence[Sequence[str]],
        central_texts: Sequence[str | None],
        sizes: Sequence[int],
        contrast_texts: Sequence[Sequence[str]] | None = None,
    ) -> list[ClusterLabel]:
        """Label clusters of one level. ``central_texts[i]`` is cluster i's most central text.
        ``contrast_texts`` is not used: the keywords already contrast the clusters."""
        documents = [" \n".join(t for t in texts if t) for texts in texts_per_cluster]
        all_keywords = self.keywords(documents)
        labels = []
        for keywords, central, size in zip(all_keywords, central_texts, sizes, strict=True):
            if keywords:
                name = ", ".join(k.capitalize() for k in keywords[: self.n_name_keywords])
            elif central:
                name = _shorten(central, 60)
            else:
                name = "Unnamed cluster"
            noun = "conversation" if size == 1 else "conversations"
            parts = [f"{size} {noun}"]
            if keywords:
                parts[0] += " about " + ", ".join(keywords)
            if central and self.quote_example:
                parts.append(f'Most typical: "{_shorten(central, self.max_description_chars)}"')
            labels.append(
                ClusterLabel(
                    name=name,
                    description=". ".join(parts),
                    keywords=list(keywords),
                )
            )
        return labels


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
