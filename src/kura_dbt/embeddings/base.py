"""The embedder interface: text -> L2-normalised float32 vectors, with usage per text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class EmbeddingRun:
    """What an embedder returns for a list of texts. Per text: its vector (a row of ``vectors``;
    NaN when it failed), its error, its share of the prompt tokens, and the HTTP requests made
    for it (a batch's requests are counted on its first text, so that sums are exact)."""

    vectors: np.ndarray
    errors: list[str | None] = field(default_factory=list)
    prompt_tokens: list[int | None] = field(default_factory=list)
    llm_calls: list[int] = field(default_factory=list)


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline needs from an embedder. ``name`` and ``model`` are stored with every
    vector and are part of the cache key: changing either re-embeds."""

    name: str
    model: str

    @property
    def dimensions(self) -> int | None:
        """The vectors' width, or ``None`` where it is the model's own (not requested)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors only, one row per text."""
        ...

    def embed_with_usage(self, texts: Sequence[str]) -> EmbeddingRun:
        """Vectors with each text's error, prompt tokens and requests."""
        ...
