"""What the next build's LLM labeller (var ``kura__labeller``) will send, for ``kura estimate``.

The labeller is asked only when the taxonomy is discovered or re-discovered (an ordinary
build assigns the new conversations to the clusters there are and keeps their names), and,
on every build, for the public labels of the visible parents with a hidden child
(:mod:`kura_dbt.taxonomy.privacy`). How many clusters a discovery makes is not known before
it fits, so the labeller's part is an upper bound (``*_at_most``), from the same bound on the
base clusters as the privacy audit's (:func:`kura_dbt.taxonomy.forecast.base_clusters_at_most`)
and the level schedule the hierarchy follows (:func:`kura_dbt.hierarchy.grouping.
level_schedule`). What a discovery with the openai labeller (:mod:`kura_dbt.labels.openai`)
asks, with ``k`` base clusters:

* a name for every base cluster: ``k`` calls;
* for every level above (frontier ``f`` clusters, grouped into ``t``): CLIO's grouping, one
  proposal per neighbourhood of about 40 clusters (``ceil(f / 40)``), one deduplication when
  the proposals are more than ``t``, one assignment per frontier cluster (``f``), then a name
  for every parent it makes (at most ``min(t, f - t)``: a parent has two children or more);
* a public label for each parent at most (the privacy thresholds decide which need one).

The bound is the most of these over every ``k`` up to the bound on base clusters; clusters
that survive a re-discovery keep their names, and a grouping seen before is reused, so a real
one sends fewer. On a build without a re-discovery, only public labels: at most one per
current parent. Retries (a 429, an answer that fails validation) are not counted, as for the
summaries. Tokens: each call's prompt rendered as the labeller renders it, with examples as
long as the mean summary (cut as the labeller cuts them) and children's names and
descriptions as long as :data:`kura_dbt.audit.estimate.DEFAULT_CLUSTER_TEXT_CHARS`; completion
tokens the mean of the names stored before, or :data:`DEFAULT_LABEL_COMPLETION_TOKENS`.

The Cortex labeller (``cortex``) asks AI_COMPLETE in SQL for a name per cluster whose label
key it has not answered: at most one per cluster of a re-discovery (the parents' grouping is
local). Its prompt tokens are those of the prompt models/cortex/int_kura__cortex_cluster_names.sql
builds (:func:`cortex_name_prompt`): the labeller's system prompt, at most
``CORTEX_BASE_EXAMPLES`` summaries cut at ``CORTEX_EXAMPLE_CHARS`` (as long as the mean
summary) or ``CORTEX_PARENT_EXAMPLES`` children's "name: description", and at most
``CORTEX_CONTRAST`` siblings' names, and the response format's schema
(:func:`kura_dbt.summaries.cortex.schema_tokens`). Completion tokens: the mean of the Cortex
names stored before, or :data:`DEFAULT_LABEL_COMPLETION_TOKENS`. The local labeller makes no call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kura_dbt.hierarchy.grouping import level_schedule
from kura_dbt.labels.openai import OpenAILabeller

NEIGHBOURHOOD = OpenAILabeller.neighbourhood_size  # clusters per proposal of CLIO's grouping

__all__ = [
    "DEFAULT_LABEL_COMPLETION_TOKENS",
    "DiscoveryCalls",
    "discovery_calls",
    "estimate_labels",
]

# completion tokens of one labeller answer before any is stored: a name of ten words and a
# two-sentence description in JSON (the proposals and assignments are shorter or alike)
DEFAULT_LABEL_COMPLETION_TOKENS = 60
DEFAULT_SUMMARY_CHARS = 200  # a summary's characters before any is stored
# what models/cortex/int_kura__cortex_cluster_names.sql puts in one prompt, at most
CORTEX_EXAMPLE_CHARS = 400  # left(summaries.summary, 400)
CORTEX_BASE_EXAMPLES = 15  # summaries of a base cluster
CORTEX_PARENT_EXAMPLES = 20  # children of a parent
CORTEX_CONTRAST = 10  # siblings' names


@dataclass(frozen=True)
class DiscoveryCalls:
    """The calls of one discovery by kind: ``levels`` holds (frontier, target) per level."""

    base: int
    levels: tuple[tuple[int, int], ...]
    neighbourhood_size: int

    @property
    def names(self) -> int:
        return self.base

    @property
    def proposals(self) -> int:
        return sum(math.ceil(f / self.neighbourhood_size) for f, _ in self.levels)

    @property
    def deduplications(self) -> int:
        return len(self.levels)

    @property
    def assignments(self) -> int:
        return sum(f for f, _ in self.levels)

    @property
    def parents(self) -> int:
        # a parent has two children or more: each takes one cluster or more off the frontier
        return sum(min(t, f - t) for f, t in self.levels)

    @property
    def total(self) -> int:
        return self.names + self.proposals + self.deduplications + self.assignments + self.parents


def discovery_calls(
    base_at_most: int, max_top: int, branching: float, neighbourhood_size: int = NEIGHBOURHOOD
) -> DiscoveryCalls:
    """The most calls a discovery with at most ``base_at_most`` base clusters makes (the CLIO
    grouping of :class:`kura_dbt.labels.openai.OpenAILabeller`, its parents' names included,
    the public labels not): the largest over every number of base clusters up to the bound."""
    worst = DiscoveryCalls(0, (), neighbourhood_size)
    for k in range(1, base_at_most + 1):
        targets = level_schedule(k, max_top, branching)
        frontiers = [k, *targets][: len(targets)]
        calls = DiscoveryCalls(k, tuple(zip(frontiers, targets, strict=True)), neighbourhood_size)
        if calls.total > worst.total:
            worst = calls
    return worst


def estimate_labels(
    name: str,
    settings: Any,
    taxonomy: Any,
    current_parents: int,
    summary_chars: float | None,
    history: float | None,
    cortex_model: str,
) -> dict[str, Any]:
    """The labeller's part of the next build: ``name`` the labeller as the build resolves it
    (``local``, ``openai`` or ``cortex``), ``taxonomy`` its re-discovery (:class:`kura_dbt.
    taxonomy.forecast.Forecast`), ``current_parents`` the parents of the current taxonomy (each
    may need a public label), ``summary_chars`` the mean summary's characters, ``history`` the
    mean completion tokens per call of the names stored before."""
    llm = settings.llm_settings()
    discovers = taxonomy.rediscover != "no"
    calls = (
        discovery_calls(
            taxonomy.base_at_most, settings.max_top_clusters, settings.hierarchy_branching
        )
        if discovers
        else DiscoveryCalls(0, (), NEIGHBOURHOOD)
    )
    public = {"yes": calls.parents, "possible": max(calls.parents, current_parents)}
    out: dict[str, Any] = {
        "labeller": name,
        "model": {"openai": llm.model, "cortex": cortex_model}.get(name, ""),
        "rediscover": taxonomy.rediscover,
        "rediscover_reason": taxonomy.reason,
        "names_at_most": 0,
        "grouping_calls_at_most": 0,
        "public_labels_at_most": 0,
        **dict.fromkeys(("calls", "prompt_tokens", "completion_tokens"), 0),
        **dict.fromkeys(("calls_at_most", "prompt_tokens_at_most", "completion_tokens_at_most"), 0),
        "cost_usd": 0.0,
        "cost_usd_at_most": 0.0,
        "completion_per_call": None,
        "completion_from_history": False,
    }
    if name not in ("openai", "cortex"):  # the local labeller: nothing is sent
        return out
    out["names_at_most"] = calls.names + calls.parents
    per_call = history or DEFAULT_LABEL_COMPLETION_TOKENS
    if name == "cortex":  # a name per cluster, in SQL; the grouping is the local one
        out["calls_at_most"] = out["names_at_most"]
        base, parent = cortex_name_tokens(summary_chars)
        out["prompt_tokens_at_most"] = calls.names * base + calls.parents * parent
    else:
        out["grouping_calls_at_most"] = calls.proposals + calls.deduplications
        out["grouping_calls_at_most"] += calls.assignments
        out["public_labels_at_most"] = public.get(taxonomy.rediscover, current_parents)
        tokens = _PromptTokens(settings, llm, summary_chars)
        out["calls_at_most"] = (
            out["names_at_most"] + out["grouping_calls_at_most"] + out["public_labels_at_most"]
        )
        public_tokens = out["public_labels_at_most"] * tokens.public
        out["prompt_tokens_at_most"] = tokens.of(calls) + public_tokens
    out["completion_tokens_at_most"] = int(round(out["calls_at_most"] * per_call))
    out["cost_usd_at_most"] = llm.cost(
        out["prompt_tokens_at_most"], out["completion_tokens_at_most"]
    )
    out["completion_per_call"] = float(per_call)
    out["completion_from_history"] = history is not None
    return out


def cortex_name_prompt(examples: list[str], contrast: list[str]) -> str:
    """The prompt models/cortex/int_kura__cortex_cluster_names.sql sends for one cluster:
    ``examples`` its lines ("- summary", or a child's "- name: description"), ``contrast`` its
    siblings' ("- name")."""
    from kura_dbt.summaries.cortex import label_request

    return (
        label_request()["system_prompt"]
        + "\n\n<inside_examples>\n"
        + "\n".join(examples)
        + "\n</inside_examples>\n<outside_examples>\n"
        + "\n".join(contrast)
        + "\n</outside_examples>"
    )


def cortex_name_tokens(summary_chars: float | None) -> tuple[int, int]:
    """The prompt tokens of one Cortex name, at most: of a base cluster (summaries as long as
    ``summary_chars``, cut as the model cuts them) and of a parent (children's names and
    descriptions as long as :data:`kura_dbt.audit.estimate.DEFAULT_CLUSTER_TEXT_CHARS`)."""
    from kura_dbt.audit.estimate import DEFAULT_CLUSTER_TEXT_CHARS
    from kura_dbt.llm import approx_tokens
    from kura_dbt.summaries.cortex import label_request, schema_tokens

    chars = DEFAULT_SUMMARY_CHARS if summary_chars is None else summary_chars
    summary = "- " + "x" * min(CORTEX_EXAMPLE_CHARS, max(1, int(round(chars))))
    name = int(DEFAULT_CLUSTER_TEXT_CHARS["cluster_name"])
    child = "- " + "x" * name + ": " + "x" * int(DEFAULT_CLUSTER_TEXT_CHARS["cluster_description"])
    contrast = ["- " + "x" * name] * CORTEX_CONTRAST
    schema = schema_tokens(label_request())
    base = approx_tokens(cortex_name_prompt([summary] * CORTEX_BASE_EXAMPLES, contrast))
    parent = approx_tokens(cortex_name_prompt([child] * CORTEX_PARENT_EXAMPLES, contrast))
    return schema + base, schema + parent


class _PromptTokens:
    """The prompt tokens of each kind of call, rendered as :class:`kura_dbt.labels.openai.
    OpenAILabeller` renders them, with texts of the lengths the module docstring says."""

    def __init__(self, settings: Any, llm: Any, summary_chars: float | None) -> None:
        from kura_dbt.audit.estimate import DEFAULT_CLUSTER_TEXT_CHARS
        from kura_dbt.labels.openai import OpenAILabeller

        self.llm = llm
        self.labeller = OpenAILabeller(llm, seed=settings.seed)
        cut = self.labeller.max_example_chars
        chars = DEFAULT_SUMMARY_CHARS if summary_chars is None else summary_chars
        self.summary = "x" * min(cut, max(1, int(round(chars))))
        self.name_chars = int(DEFAULT_CLUSTER_TEXT_CHARS["cluster_name"])
        child = self.name_chars + 2 + int(DEFAULT_CLUSTER_TEXT_CHARS["cluster_description"])
        self.child = "x" * min(cut, child)
        inside, outside = self.labeller.max_examples, self.labeller.max_contrast
        from kura_dbt.labels.openai import LABEL_PROMPT, ClusterName

        label = self._overhead(LABEL_PROMPT, ClusterName)
        self.base = label + self._text([self.summary] * inside, [self.summary] * outside)
        self.parent = label + self._text([self.child] * inside, [self.summary] * outside)
        self.public = label + self._text([self.child] * inside, [])

    def _overhead(self, system: str, model: Any) -> int:
        from kura_dbt.llm import approx_tokens, request_overhead_tokens

        return approx_tokens(system) + request_overhead_tokens(model, self.llm.mode)

    def _text(self, inside: list[str], outside: list[str], extra: str = "") -> int:
        from kura_dbt.llm import approx_tokens

        return approx_tokens(self.labeller.prompt(inside, outside) + extra)

    def of(self, calls: DiscoveryCalls) -> int:
        """The prompt tokens of a discovery's calls (:class:`DiscoveryCalls`)."""
        from kura_dbt.labels.openai import DEDUPE_PROMPT, PROPOSE_PROMPT, ProposedNames

        total = calls.names * self.base + calls.parents * self.parent
        inside, outside = self.labeller.max_examples, self.labeller.max_contrast
        for frontier, target in calls.levels:
            hoods = math.ceil(frontier / calls.neighbourhood_size)
            want = f"\nPropose about {max(1, round(target / hoods))} category names."
            propose = self._text([self.child] * inside, [self.child] * outside, want)
            total += hoods * (self._overhead(PROPOSE_PROMPT, ProposedNames) + propose)
            names = [f"{'x' * (self.name_chars - 2)} {i}" for i in range(target)]
            listing = "\n".join(f"- {n}" for n in names)
            # the proposals: about the target's number of names from every neighbourhood
            proposed = "\n".join(f"- {n}" for n in names * 2)
            total += self._overhead(DEDUPE_PROMPT, ProposedNames) + self._approx(
                f"<candidates>\n{proposed}\n</candidates>\n"
                f"Return at most {target} and at least 2 categories."
            )
            assign = self._assign_overhead(names) + self._approx(
                f"<group>\n{self.child}\n</group>\n<categories>\n{listing}\n</categories>"
            )
            total += frontier * assign
        return total

    def _approx(self, text: str) -> int:
        from kura_dbt.llm import approx_tokens

        return approx_tokens(text)

    def _assign_overhead(self, names: list[str]) -> int:
        """The assignment's system prompt and answer schema: the category names' choice, as
        :meth:`kura_dbt.labels.openai._GroupingMixin._assign` builds it."""
        from typing import Literal

        from pydantic import Field, create_model

        from kura_dbt.labels.openai import ASSIGN_PROMPT

        choice = create_model(
            "AssignedCategory",
            category=(  # type: ignore[arg-type]
                Literal[tuple(names)],
                Field(description="One category name, copied exactly from the list."),
            ),
        )
        return self._overhead(ASSIGN_PROMPT, choice)
