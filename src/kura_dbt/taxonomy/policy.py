"""When a build re-discovers the taxonomy instead of assigning to it (var ``kura__rediscover``).

``auto`` (the default) re-discovers when

1. there is no taxonomy yet (the first build, or every cluster retired);
2. the embedding model changed (old centroids live in another space): also under ``never``;
3. a setting declared re-discover changed (``Effect.REDISCOVER`` in ``kura_dbt.settings``;
   docs/reference/vars.md lists them);
4. drift: at least ``rediscover_min_conversations`` conversations were assigned since the last
   discovery (tonight's included) and more than ``rediscover_novel_share`` of them were novel
   (farther from every cluster than its radius);
5. growth: the number of clustered conversations grew by more than ``rediscover_growth``
   (1.0: doubled) since the last discovery.

``always`` re-discovers on every build; ``never`` only in cases 1 and 2.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from kura_dbt.settings import Effect, Settings, settings_vars

POLICIES = ("auto", "always", "never")


@dataclass(frozen=True)
class Figures:
    """What a build knows before it decides."""

    has_taxonomy: bool
    conversations: int  # embedded conversations now
    new: int  # pending tonight (new or changed)
    novel: int  # of those, novel against the current taxonomy
    conversations_at_discovery: int
    new_since_discovery: int  # before tonight
    novel_since_discovery: int  # before tonight
    embedding_model: str | None
    previous_embedding_model: str | None
    settings_key: str
    previous_settings_key: str | None

    @property
    def novel_share(self) -> float | None:
        total = self.new_since_discovery + self.new
        if not self.has_taxonomy:
            return None
        return None if total == 0 else (self.novel_since_discovery + self.novel) / total

    @property
    def growth(self) -> float | None:
        if self.conversations_at_discovery <= 0:
            return None
        return self.conversations / self.conversations_at_discovery - 1.0


@dataclass(frozen=True)
class Decision:
    discover: bool
    reason: str


def clustering_settings_key(settings: Settings) -> str:
    """A fingerprint of the settings declared to re-discover (``Effect.REDISCOVER`` in
    :mod:`kura_dbt.settings`), in declaration order: changing one re-discovers."""
    relevant = [
        var.fingerprint(settings) if var.fingerprint else getattr(settings, var.field)
        for var in settings_vars(type(settings))
        if Effect.REDISCOVER in var.invalidates and not var.via
    ]
    return hashlib.md5(json.dumps(relevant, default=str).encode()).hexdigest()[:12]


def decide(settings: Settings, figures: Figures) -> Decision:
    policy = str(settings.rediscover).strip().lower()
    if policy not in POLICIES:
        raise ValueError(
            f"kura: var kura__rediscover is {settings.rediscover!r}; valid: {', '.join(POLICIES)}"
        )
    if not figures.has_taxonomy:
        return Decision(True, "first discovery: no taxonomy yet")
    if (
        figures.previous_embedding_model
        and figures.embedding_model != figures.previous_embedding_model
    ):
        return Decision(
            True,
            "embedding model changed "
            f"({figures.previous_embedding_model} -> {figures.embedding_model})",
        )
    if policy == "always":
        return Decision(True, "kura__rediscover: always")
    if policy == "never":
        return Decision(False, "kura__rediscover: never")
    if figures.previous_settings_key and figures.settings_key != figures.previous_settings_key:
        return Decision(True, "clustering settings changed")
    share, growth = figures.novel_share, figures.growth
    seen = figures.new_since_discovery + figures.new
    if share is not None and seen >= settings.rediscover_min_conversations:
        if share > settings.rediscover_novel_share:
            return Decision(
                True,
                f"drift: novel share {share:.3f} > kura__rediscover_novel_share "
                f"{settings.rediscover_novel_share}",
            )
    if growth is not None and growth > settings.rediscover_growth:
        return Decision(
            True, f"growth {growth:.3f} > kura__rediscover_growth {settings.rediscover_growth}"
        )
    if figures.new == 0:
        return Decision(False, "no new conversations")
    return Decision(False, "assigned to the existing taxonomy")
