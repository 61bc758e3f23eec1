"""Embeddings stage: summaries -> vectors. Backends by var ``kura__embedder``."""

from __future__ import annotations

from kura_dbt.embeddings.base import Embedder, EmbeddingRun
from kura_dbt.embeddings.local import LocalEmbedder
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = ["EMBEDDERS", "Embedder", "EmbeddingRun", "LocalEmbedder"]

EMBEDDERS: Registry[Embedder] = Registry("embedder")


@EMBEDDERS.register("local")
def _local(settings: Settings) -> Embedder:
    batch = settings.embedding_batch_size
    return LocalEmbedder(batch_size=64 if batch is None else batch)


@EMBEDDERS.register("openai")
def _openai(settings: Settings) -> Embedder:
    from kura_dbt.embeddings.openai import OpenAIEmbedder

    batch = settings.embedding_batch_size
    return OpenAIEmbedder(
        settings.llm_settings(),
        model=settings.embedding_model,
        dimensions=settings.embedding_dimensions,
        batch_size=256 if batch is None else batch,  # texts per request
    )


@EMBEDDERS.register("cortex")
def _cortex(settings: Settings) -> Embedder:
    raise ValueError(
        "kura: the cortex embedder runs in SQL on Snowflake (models/cortex/kura__embeddings.sql "
        "replaces the Python model); it has no Python backend, so what embeds in Python (the "
        "local classifier's file examples) needs kura__embedder local or openai"
    )
