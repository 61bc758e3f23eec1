"""Classification into a pinned taxonomy (var ``kura__pinned_taxonomy``). Backends by var
``kura__classifier``: ``local`` (logistic regression on the embeddings, calibrated, with an
abstain threshold), ``openai`` (few-shot through any OpenAI-compatible endpoint) and ``cortex``
(Snowflake ``AI_CLASSIFY``, called by the SQL model ``int_kura__cortex_classifications``;
``auto`` is cortex on a Snowflake target, resolved by dbt, and local elsewhere).

Modules: ``base`` (the interface), ``local``, ``openai``, ``cortex``, ``evaluate`` (held-out
quality per category), ``run`` (what the ``int_kura__classification_state`` model runs).
"""

from __future__ import annotations

from kura_dbt.classify.base import (
    OTHER,
    Classifier,
    Item,
    LeafCategory,
    Prediction,
    TrainingSet,
)
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = [
    "CLASSIFIERS",
    "OTHER",
    "Classifier",
    "Item",
    "LeafCategory",
    "Prediction",
    "TrainingSet",
]

CLASSIFIERS: Registry[Classifier] = Registry("classifier")


@CLASSIFIERS.register("local")
def _local(settings: Settings) -> Classifier:
    from kura_dbt.classify.local import LocalClassifier

    return LocalClassifier(min_confidence=settings.classifier_min_confidence, seed=settings.seed)


@CLASSIFIERS.register("openai")
def _openai(settings: Settings) -> Classifier:
    from kura_dbt.classify.openai import LLMClassifier

    return LLMClassifier(settings.llm_settings(), batch_size=settings.classifier_batch_size)


@CLASSIFIERS.register("cortex")
def _cortex(settings: Settings) -> Classifier:
    from kura_dbt.classify.cortex import CortexClassifier

    return CortexClassifier()
