"""One settings source for every stage.

dbt renders the ``kura__*`` vars into one JSON object that every Python model passes as its
``kura_settings`` config (``python_models/_python_models.yml``, one YAML anchor); the library
reads it here, once, into a typed :class:`Settings`. The defaults below are the library's and
equal the vars' defaults in ``dbt_project.yml`` (a test checks that they agree), so the library
used without dbt behaves as the package does.

Rendered vars arrive as strings ("None", "42"): :func:`setting` coerces them and names the var
when a value cannot be read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

_NULLS = {"", "none", "null"}
EMBEDDING_TEXTS = ("auto", "request", "summary")


def setting(config: Mapping[str, Any], key: str, default: Any = None, kind: type = str) -> Any:
    """One setting coerced to ``kind``; a missing or null value gives ``default``.

    A value that cannot be read as ``kind`` fails with the setting's name and the value.
    """
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return default
    try:
        if kind is bool:
            return (
                value
                if isinstance(value, bool)
                else str(value).strip().lower() in {"true", "1", "yes"}
            )
        if kind is int:
            return int(float(value))
        if kind is float:
            return float(value)
        if kind is list:
            return list(json.loads(value) if isinstance(value, str) else value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"kura: setting {key!r} must be {kind.__name__} (var kura__{key}), got {value!r}"
        ) from exc


def _json_object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {} if value.strip().lower() in _NULLS else dict(json.loads(value))
    return dict(value)


@dataclass(frozen=True)
class Settings:
    """Every setting a stage reads; each field is the dbt var ``kura__<field>`` (the embedding
    model and dimensions are ``kura__llm_embedding_model`` / ``_dimensions``)."""

    # summaries
    summariser: str = "auto"  # auto: local here; dbt resolves it (cortex on Snowflake)
    summariser_max_chars: int = 20_000
    extra_facets: list[Any] = field(default_factory=list)
    # embeddings
    embedder: str = "auto"
    embedding_batch_size: int | None = None  # None: the backend's own default
    embedding_model: str = "text-embedding-3-small"
    embedding_dimensions: int | None = None
    # which summaries column is embedded: auto (the user's request for the local summariser,
    # the summary for an LLM summariser) | request | summary
    embedding_text: str = "auto"
    # clustering
    clusterer: str = "kmeans"
    n_base_clusters: int | None = None
    # automatic k: at least (conversations / this) base clusters (kmeans, minibatch_kmeans)
    target_cluster_size: int | None = 50
    hdbscan_min_cluster_size: int = 10
    # a taxonomy that stays put: assignment on ordinary builds, re-discovery on drift
    rediscover: str = "auto"  # auto | always | never
    rediscover_novel_share: float = 0.2  # auto: novel share of conversations since the discovery
    rediscover_growth: float = (
        1.0  # auto: growth of conversations since the discovery (1.0: doubled)
    )
    rediscover_min_conversations: int = 50  # auto: no drift decision on fewer new conversations
    assign_radius_quantile: float = (
        0.95  # a cluster's radius: this quantile of its members' distances
    )
    match_min_overlap: float = (
        0.5  # a re-discovered cluster keeps an old id at this Jaccard overlap
    )
    keep_name_min_overlap: float = 0.7  # ... and its old name (no labeller call) at this overlap
    # a pinned taxonomy (README "From discovery to monitoring"): the relation of the analyst's
    # edited taxonomy (None: discovery mode), the classifier, its abstain threshold, the LLM's
    # conversations per call, and the share of each category's members held out to evaluate it
    taxonomy: str | None = None
    classifier: str = "local"  # local | openai | cortex (| auto, resolved by dbt)
    classifier_min_confidence: float = 0.5
    classifier_batch_size: int = 10
    classifier_holdout: float = 0.2
    # names and hierarchy
    labeller: str = "auto"
    label_quotes_example: bool = True
    # privacy: a parent's local name uses only phrases of at least this many conversations
    min_cluster_conversations: int = 1
    max_top_clusters: int = 8
    hierarchy_branching: float = 5.0
    # map
    projector: str = "umap"
    map_max_fit_points: int = 50_000  # the map is fitted on at most this many; the rest are placed
    seed: int = 42
    # progress lines and run summaries of the Python models (kura_dbt.progress)
    progress: bool = True
    progress_interval_s: float = 30.0  # a line at least this often (and every 10 %)
    # the LLM endpoint, as a JSON object of the kura__llm_* vars (see kura_dbt.llm.LLMSettings)
    llm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Settings | Mapping[str, Any] | str | None) -> Settings:
        """Settings from a Python model's config: the ``kura_settings`` JSON object rendered
        from the vars, and/or plain keys (which win). Missing or null keys keep the defaults;
        a key that is not a setting is an error (a misspelt setting is never ignored)."""
        if isinstance(config, Settings):
            return config
        if isinstance(config, str):  # the rendered JSON object itself
            config = {"kura_settings": config}
        config = dict(config or {})
        merged = {**_json_object(config.pop("kura_settings", None)), **config}
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        llm = _json_object(merged.pop("llm", None))
        llm.update({k[4:]: merged.pop(k) for k in list(merged) if k.startswith("llm_")})
        unknown = sorted(set(merged) - names)
        if unknown:
            raise ValueError(
                f"kura: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        values: dict[str, Any] = {"llm": llm}
        for f in dataclasses.fields(cls):
            if f.name == "llm" or f.name not in merged:
                continue
            kind = _kind(hints[f.name])
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            values[f.name] = setting(merged, f.name, default, kind)
        return cls(**values)

    def embedded_column(self) -> str:
        """The ``kura__summaries`` column that is embedded and clustered (var
        ``kura__embedding_text``): ``request`` (the user's own substantive words, falling back
        to the summary when a conversation has no request) or ``summary``. ``auto`` embeds the
        request for the local summariser, whose summary is a template around it, and the
        summary for an LLM summariser, whose summary is the CLIO description of the task."""
        choice = self.embedding_text.strip().lower()
        if choice not in EMBEDDING_TEXTS:
            raise ValueError(
                f"kura: var kura__embedding_text must be one of {', '.join(EMBEDDING_TEXTS)}, "
                f"got {self.embedding_text!r}"
            )
        if choice == "auto":
            local = self.summariser.strip().lower() in ("local", "auto")  # auto: local here
            return "request" if local else "summary"
        return choice

    def llm_settings(self):
        """The endpoint settings (``kura_dbt.llm.LLMSettings``) for LLM backends."""
        from kura_dbt.llm import LLMSettings

        return LLMSettings.from_config({"llm": self.llm})


def _kind(hint: Any) -> type:
    for kind in (bool, int, float, list, str):
        if (
            hint is kind
            or kind in getattr(hint, "__args__", ())
            or getattr(hint, "__origin__", None) is kind
        ):
            return kind
    return str
