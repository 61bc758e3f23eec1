"""What the next build's embedder (var ``kura__embedder``) will send, for ``kura estimate``.

The texts to embed are those the ``kura__embeddings`` model selects with its own SQL
(:func:`kura_dbt.sql.pending_embeddings`: new, changed, other embedder or model, failed and not
parked), less the conversations the same build summarises again, plus the summaries the same
build writes (each one's text is new). The openai embedder sends them in requests of
``kura__embedding_batch_size`` texts (:class:`kura_dbt.embeddings.openai.OpenAIEmbedder`):
``ceil(texts / batch size)`` requests, exact. Input tokens: the texts there are, counted as
:func:`kura_dbt.llm.approx_tokens` counts (about four characters a token; the endpoint's own
tokenizer may count a little differently), and for the summaries not written yet the mean of
the texts embedded from those there are (or :data:`DEFAULT_EMBEDDED_TOKENS`). The cost is
at var ``kura__llm_embedding_cost_per_mtok``. The Cortex embedder (``cortex``, ``auto`` on
Snowflake: models/cortex/kura__embeddings.sql) selects its texts with the same rule, keyed on
``cortex`` and var ``kura__cortex_embedding_model``, and makes one AI_EMBED call per text; its
input tokens are counted the same way (the model counts them with COUNT_TOKENS). The local
embedder makes no call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kura_dbt import sql
from kura_dbt.frames import WarehouseReader

__all__ = ["DEFAULT_EMBEDDED_TOKENS", "estimate_embeddings"]

DEFAULT_EMBEDDED_TOKENS = 40  # a summary's tokens before any is stored
CORTEX_EMBEDDING_MODEL = "snowflake-arctic-embed-m-v1.5"  # var kura__cortex_embedding_model


@dataclass(frozen=True)
class _CortexEmbedder:
    """models/cortex/kura__embeddings.sql as its state rows name it."""

    model: str
    name: str = "cortex"


def estimate_embeddings(
    warehouse: WarehouseReader,
    settings: Any,
    name: str,
    resummarised: Iterable[str],
    new_summaries: int,
    variables: Mapping[str, Any],
    column: str | None = None,
) -> dict[str, Any]:
    """The embedder's part of the next build: ``warehouse`` has ``summaries``
    (``kura__summaries``, None before the first build) and ``state`` (``kura__embeddings``);
    ``name`` the embedder as the build resolves it; ``resummarised`` the conversations the build
    summarises (their texts change), ``new_summaries`` how many summaries it writes;
    ``column`` the summaries' column embedded (default: :meth:`kura_dbt.settings.Settings.
    embedded_column`)."""
    from kura_dbt.embeddings import EMBEDDERS
    from kura_dbt.llm import approx_tokens

    cortex = name == "cortex"
    model = str(variables.get("kura__cortex_embedding_model") or CORTEX_EMBEDDING_MODEL)
    embedder = _CortexEmbedder(model) if cortex else EMBEDDERS.build(name, settings)
    column = column or settings.embedded_column()
    summaries = warehouse.views.get("summaries")
    texts: list[str] = []
    mean: float | None = None
    if summaries:
        texts = _pending_texts(warehouse, settings, embedder, column, set(resummarised))
        frame = warehouse.query(sql.summaries_with_text(summaries, column))
        if len(frame):
            mean = sum(approx_tokens(str(t)) for t in frame["text"]) / len(frame)
    price = variables.get("kura__llm_embedding_cost_per_mtok")
    out: dict[str, Any] = {
        "embedder": name,
        "model": {"openai": settings.embedding_model, "cortex": model}.get(name, name),
        "texts": len(texts),
        "new_summary_texts": new_summaries,
        "calls": 0,
        "prompt_tokens": 0,
        "tokens_from_history": mean is not None,
        "cost_usd": 0.0,
    }
    if name not in ("openai", "cortex"):  # the local embedder sends nothing
        return out
    count = len(texts) + new_summaries
    batch = 1 if cortex else settings.embedding_batch_size or 256  # openai's default batch
    per_new = DEFAULT_EMBEDDED_TOKENS if mean is None else int(round(mean))
    out["calls"] = -(-count // batch)
    out["prompt_tokens"] = sum(approx_tokens(t) for t in texts) + new_summaries * per_new
    out["cost_usd"] = None if price is None else out["prompt_tokens"] * float(price) / 1_000_000
    return out


def _pending_texts(
    warehouse: WarehouseReader, settings: Any, embedder: Any, column: str, resummarised: set[str]
) -> list[str]:
    """The texts the ``kura__embeddings`` model selects now (its own SQL), less those of the
    conversations summarised again and the blank ones (:func:`kura_dbt.pipeline._hashed`)."""
    from kura_dbt.parking import RetryPolicy, state_columns

    summaries, state = warehouse.views["summaries"], warehouse.state
    query = sql.pending_embeddings(
        summaries,
        state,
        column,
        embedder,
        state_columns(warehouse, state),
        RetryPolicy.of(settings).retry_gave_up,
    )
    todo = warehouse.query(query)
    return [
        str(t)
        for cid, t in zip(todo["conversation_id"], todo["text"], strict=True)
        if str(cid) not in resummarised and str(t).strip()
    ]
