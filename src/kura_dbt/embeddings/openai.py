"""Embeddings from any OpenAI-compatible endpoint (``/v1/embeddings``: OpenAI, Azure OpenAI,
vLLM, Ollama, LM Studio ...), with the same settings, retries, pacing and key handling as the
LLM summariser.

Texts go in batches of ``batch_size``, up to ``max_concurrency`` batches at once. A batch that
still fails after its retries does not stop the run: its texts get no vector and an error,
and are embedded again on the next run. When every batch fails (a wrong key, model or URL),
the stage fails with the first error: the failure policy of every stage
(:mod:`kura_dbt.failures`), applied by the pipeline, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from kura_dbt.embeddings.base import EmbeddingRun
from kura_dbt.llm import LLMSettings, call_with_retries, gather_bounded, run_llm


class OpenAIEmbedder:
    name = "openai"

    def __init__(
        self,
        settings: LLMSettings,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        batch_size: int = 64,
        client: Any = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(
                f"kura: var kura__embedding_batch_size must be at least 1, got {batch_size}"
            )
        if dimensions is not None and dimensions < 1:
            raise ValueError(
                f"kura: var kura__llm_embedding_dimensions must be positive, got {dimensions}"
            )
        self.settings = settings
        self.api_model = model
        # the stored model name covers the requested size: changing it re-embeds
        self.model = model if dimensions is None else f"{model}@{dimensions}"
        self.dimensions = dimensions
        self.batch_size = batch_size
        self._client = client

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors only (NaN rows for texts that failed); see :meth:`embed_with_usage`."""
        return self.embed_with_usage(texts).vectors

    def embed_with_usage(self, texts: Sequence[str]) -> EmbeddingRun:
        texts = list(texts)
        if not texts:
            return EmbeddingRun(np.zeros((0, self.dimensions or 0), dtype=np.float32))
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        # paced and rate-limited as the embedding model (providers limit each model separately)
        settings = replace(self.settings, model=self.api_model)
        results = run_llm(settings, lambda client: self._all(client, batches), self._client)
        width = next((len(r.value[0]) for r in results if r.value), self.dimensions or 0)
        run = EmbeddingRun(np.full((len(texts), width), np.nan, dtype=np.float32))
        row = 0
        for batch, result in zip(batches, results, strict=True):
            vectors = result.value
            if vectors is not None and len(vectors) != len(batch):
                result.error = (
                    f"the endpoint returned {len(vectors)} embeddings for {len(batch)} texts"
                )
                vectors = None
            if vectors is not None:
                matrix = np.asarray(vectors, dtype=np.float32)
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                run.vectors[row : row + len(batch)] = matrix / np.where(norms == 0, 1, norms)
            run.errors += [result.error if vectors is None else None] * len(batch)
            run.prompt_tokens += _split_tokens(result.prompt_tokens, batch)
            run.llm_calls += [result.attempts] + [0] * (len(batch) - 1)
            row += len(batch)
        return run

    async def _all(self, client: Any, batches: list[list[str]]):
        raw = getattr(client, "client", client)  # the openai client inside instructor's

        def job(batch: list[str]):
            async def call():
                extra = {} if self.dimensions is None else {"dimensions": self.dimensions}
                response = await raw.embeddings.create(model=self.api_model, input=batch, **extra)
                ordered = sorted(response.data, key=lambda item: item.index)
                return [item.embedding for item in ordered], response

            return lambda: call_with_retries(call, self.settings)

        return await gather_bounded([job(b) for b in batches], self.settings.max_concurrency)


def _split_tokens(total: int, batch: Sequence[str]) -> list[int | None]:
    """A batch's prompt tokens shared out by text length; the shares add up to the total."""
    if not total:
        return [None] * len(batch)
    lengths = np.array([max(1, len(t)) for t in batch], dtype=float)
    shares = np.floor(total * lengths / lengths.sum()).astype(int)
    shares[-1] += total - shares.sum()
    return [int(s) for s in shares]
