"""Labels stage: names and descriptions for the clusters of every level, and (for an LLM
labeller) the grouping of a level into parents. Backends by var ``kura__labeller``."""

from __future__ import annotations

from kura_dbt.labels.base import ClusterLabel, Labeller
from kura_dbt.labels.local import ClassTfidfLabeller
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = ["LABELLERS", "ClassTfidfLabeller", "ClusterLabel", "Labeller"]

LABELLERS: Registry[Labeller] = Registry("labeller")


@LABELLERS.register("local")
def _local(settings: Settings) -> Labeller:
    # the privacy thresholds act on the names shown (kura_dbt.taxonomy.privacy), not on the
    # discovery's: a changed threshold then re-derives names without a re-discovery
    return ClassTfidfLabeller(
        quote_example=settings.label_quotes_example,
        centroids_from_shipped_model=settings.embedder == "local",
    )


@LABELLERS.register("openai")
def _openai(settings: Settings) -> Labeller:
    from kura_dbt.labels.openai import OpenAILabeller

    return OpenAILabeller(settings.llm_settings(), seed=settings.seed)


@LABELLERS.register("cortex")
def _cortex(settings: Settings) -> Labeller:
    # the clusters are named locally here; int_kura__cortex_cluster_names asks Cortex for the
    # names in SQL, by label key, and kura__taxonomy shows Cortex's where it answered
    return _local(settings)
