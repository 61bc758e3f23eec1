"""Every SQL query the library runs, in one place: one function per query, returning its text.

The Python models read their inputs and their own previous state through
:class:`kura_dbt.frames.Warehouse` (DuckDB or Snowpark) and ``kura estimate`` through a
DB-API connection; both run the text these functions build. The same text runs on DuckDB and
Snowflake, so it keeps to what both parse (Snowpark's local testing checks it as Snowflake SQL).

What goes into the text, and how:

- a *relation* (``FROM`` target) arrives already rendered: ``{{ this }}`` as dbt renders it
  (``"db"."schema"."table"`` on DuckDB, ``DB.SCHEMA.TABLE`` on Snowflake) and the input views
  as :class:`~kura_dbt.frames.Warehouse` names them (through :func:`quote`). It is used as it is.
- a bare *identifier* we make (a view name, a schema and table read from
  ``information_schema``) goes through :func:`quote`, the one identifier-quoting helper;
- a *value* (a model name, a prompt version, a record type) goes through :func:`literal`, the one
  literal helper;
- column names are this package's own, fixed, unquoted (so that Snowflake resolves them in
  upper case, as :func:`kura_dbt.frames.to_output` writes them);
- a predicate is composed from an alias and values by a function here (``*_key``,
  ``usable_embedding``), never by editing another predicate's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from kura_dbt.redact import MARKERS

__all__ = [
    "audit_key",
    "anchors_of_map",
    "average_completion_tokens",
    "classification_inputs",
    "classification_key",
    "classifier_key",
    "clusters_ever",
    "clusters_with_parents",
    "conversation_assignments",
    "cortex_answers",
    "count_rows",
    "current_clusters",
    "current_embeddings",
    "discovered_members",
    "drop_view",
    "embedded_text",
    "embedding_key",
    "embeddings_by_model",
    "embeddings_not_on_map",
    "embeddings_of_model",
    "embeddings_of_texts",
    "embeddings_to_assign",
    "embeddings_to_map",
    "evaluation_of",
    "every_row",
    "example_embeddings",
    "last_run",
    "literal",
    "mean_summary_text_length",
    "mean_text_length_by_kind",
    "map_meta",
    "no_rows",
    "parked",
    "parked_audits",
    "parked_count",
    "parked_summaries",
    "pending_audits",
    "pending_classifications",
    "pending_embeddings",
    "pending_summaries",
    "previous_attempts",
    "quote",
    "relation",
    "summaries_with_text",
    "summary_key",
    "summary_texts",
    "tables_of_schema",
    "training_members",
    "usable_embedding",
]


class Producer(Protocol):
    """A summariser or an embedder as the state keys see it: backend ``name`` and ``model``."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...


class Summariser(Producer, Protocol):
    @property
    def prompt_version(self) -> str: ...


# --------------------------------------------------------------------------- quoting


def quote(identifier: str) -> str:
    """A bare identifier (one name, no dots) as a quoted SQL identifier. Quoted, it keeps its
    case on both warehouses: name the object with the same quoted text when creating it."""
    return '"' + str(identifier).replace('"', '""') + '"'


def relation(*parts: str) -> str:
    """``schema.table`` (or ``database.schema.table``) from bare names, each quoted."""
    return ".".join(quote(p) for p in parts)


def literal(value: object) -> str:
    """A SQL string literal; None is ``''``, as the state's key columns are compared through
    ``coalesce(column, '')``."""
    return "'" + ("" if value is None else str(value)).replace("'", "''") + "'"


def _column(alias: str | None, column: str) -> str:
    return column if alias is None else f"{alias}.{column}"


# --------------------------------------------------------------------------- fragments


def embedded_text(column: str, alias: str) -> str:
    """The text embedded from a ``kura__summaries`` row ``alias``: the ``column`` chosen by
    ``Settings.embedded_column``; a conversation without a request (a greeting, only code)
    falls back to its summary, so it is still clustered. Redaction's markers are left out
    (:func:`without_markers`)."""
    text = f"cast({alias}.summary as varchar)"
    if column != "summary":
        text = f"coalesce(nullif(trim(cast({alias}.{column} as varchar)), ''), {text})"
    return f"coalesce(nullif(trim({without_markers(text)}), ''), {text})"


def without_markers(text: str) -> str:
    """``text`` (SQL) without redaction's markers (:data:`kura_dbt.redact.MARKERS`) and the
    space before each. An embedding model reads "[NAME]" as the word "name": in the requests
    of real chat logs (12 % of 350 OpenAssistant prompts hold one) it made a cluster of its
    own, of requests that share nothing but a redacted name. Plain ``replace`` calls, the
    same on DuckDB and Snowflake (their ``regexp_replace`` differ); the Cortex embeddings
    model leaves out the same markers (macro ``kura.embedded_text``)."""
    for marker in MARKERS:
        text = f"replace(replace({text}, ' {marker}', ''), '{marker}', '')"
    return text


def summary_key(alias: str, summariser: Summariser) -> str:
    """True when the state row ``alias`` was written by ``summariser`` (backend, model, prompt)."""
    return (
        f"coalesce({alias}.summariser, '') = {literal(summariser.name)} "
        f"and coalesce({alias}.model, '') = {literal(summariser.model)} "
        f"and coalesce({alias}.prompt_version, '') = {literal(summariser.prompt_version)}"
    )


def embedding_key(alias: str, embedder: Producer) -> str:
    """True when the state row ``alias`` was written by ``embedder`` (backend and model)."""
    return (
        f"coalesce({alias}.embedder, '') = {literal(embedder.name)} "
        f"and coalesce({alias}.model, '') = {literal(embedder.model)}"
    )


def previous_attempts(alias: str, same_key: str, columns: set[str]) -> str:
    """The attempts a previous state row ``alias`` already made for the current input key
    (``same_key``: a condition true when the row's key is the current one); 0 when the key
    changed or there is no row. A row from before the column existed counts as 1."""
    attempts = f"coalesce({alias}.attempts, 1)" if "attempts" in columns else "1"
    return f"case when {same_key} then {attempts} else 0 end"


def parked(alias: str, same_key: str, columns: set[str], retry_gave_up: bool) -> str:
    """True when the previous state row ``alias`` is parked for the current input key and the
    user did not ask for a retry (``retry_gave_up``): such a row is not sent."""
    if retry_gave_up or "gave_up" not in columns:
        return "false"
    return f"({same_key} and {alias}.error is not null and coalesce({alias}.gave_up, false))"


def parked_count(inputs: str, state: str, same_input: str) -> str:
    """``n``: the rows of ``inputs`` (alias ``i``) whose state row (alias ``f``, joined on
    ``same_input``: the same input, backend, model and prompt) is parked (see :func:`parked`);
    the state has a ``gave_up`` column."""
    return (
        f"select count(*) as n from {inputs} as i join {state} as f on {same_input} "
        "where f.error is not null and coalesce(f.gave_up, false)"
    )


def usable_embedding(alias: str | None, model: str | None = None) -> str:
    """True for an embedding with a vector and no error; of ``model`` when one is given."""
    usable = f"{_column(alias, 'embedding')} is not null and {_column(alias, 'error')} is null"
    return usable if model is None else f"{usable} and {_column(alias, 'model')} = {literal(model)}"


def _of_model(alias: str | None, model: str | None) -> str:
    """True for a row of embedding ``model`` (any model when None)."""
    column = _column(alias, "model")
    return f"{column} is not null" if model is None else f"{column} = {literal(model)}"


# --------------------------------------------------------------------------- any table


def no_rows(relation: str) -> str:
    """Every column of ``relation`` and no row: its column names, read without reading data."""
    return f"select * from {relation} where 1 = 0"


def count_rows(relation: str) -> str:
    """``n``: the rows of ``relation``."""
    return f"select count(*) as n from {relation}"


def temp_view(view: str, query: str) -> str:
    """A view that lives as long as the connection (DuckDB), in no schema of the database."""
    return f"create or replace temporary view {view} as {query}"


def drop_view(view: str) -> str:
    return f"drop view if exists {view}"


def tables_of_schema() -> str:
    """The tables of the schema bound to ``?`` (matched without case: Snowflake keeps unquoted
    names in upper case), with their names as stored."""
    return (
        "select table_schema, table_name from information_schema.tables "
        "where upper(table_schema) = upper(?)"
    )


# --------------------------------------------------------------------------- summaries

_TRANSCRIPT_COLUMNS = "t.conversation_id, t.content_hash, t.messages_json"


def pending_summaries(
    transcripts: str,
    state: str | None,
    summariser: Summariser,
    columns: set[str],
    retry_gave_up: bool,
    transcript: bool = False,
) -> str:
    """The conversations of ``transcripts`` to summarise, with ``reason``, ``previous_error``
    and ``previous_attempts`` (see :func:`kura_dbt.pipeline.pending_summaries`); ``columns``:
    the state table's columns (read with :func:`no_rows`); ``transcript``: with the
    transcript's text too (what the Cortex model sends)."""
    selected = _TRANSCRIPT_COLUMNS + (", t.transcript" if transcript else "")
    if state is None:
        return f"select {selected}, 'new' as reason, 0 as previous_attempts from {transcripts} as t"
    key = summary_key("f", summariser) + " and f.content_hash = t.content_hash"
    return (
        f"select {selected}, f.error as previous_error, case "
        "when f.conversation_id is null then 'new' "
        "when f.content_hash is distinct from t.content_hash then 'changed' "
        "when f.error is not null then 'failed' "
        "else 'other model or prompt version' end as reason, "
        f"{previous_attempts('f', key, columns)} as previous_attempts "
        f"from {transcripts} as t "
        f"left join {state} as f on f.conversation_id = t.conversation_id "
        f"left join {state} as s "
        "on s.conversation_id = t.conversation_id and s.content_hash = t.content_hash "
        f"and {summary_key('s', summariser)} and s.error is null "
        f"where s.conversation_id is null and not {parked('f', key, columns, retry_gave_up)}"
    )


def parked_summaries(transcripts: str, state: str, summariser: Summariser) -> str:
    """``n``: conversations whose summary is parked for their current input."""
    same = "f.conversation_id = i.conversation_id and f.content_hash = i.content_hash"
    return parked_count(transcripts, state, f"{same} and {summary_key('f', summariser)}")


def average_completion_tokens(state: str, producer: Producer, backend: str = "summariser") -> str:
    """``mean``: completion tokens of the one-call answers the same backend and model gave
    (summaries; ``backend``: the state's column that names the backend, ``auditor`` for the
    privacy scores)."""
    return (
        f"select avg(completion_tokens) as mean from {state} "
        "where error is null and completion_tokens > 0 and llm_calls = 1 "
        f"and coalesce({backend}, '') = {literal(producer.name)} "
        f"and coalesce(model, '') = {literal(producer.model)}"
    )


# --------------------------------------------------------------------------- embeddings


def summaries_with_text(summaries: str, column: str) -> str:
    """Summaries with a usable summary and ``text``: what is embedded (:func:`embedded_text`)."""
    return (
        f"select s.conversation_id, s.summary, s.error, {embedded_text(column, 's')} as text "
        f"from {summaries} as s where s.summary is not null and s.error is null"
    )


def pending_embeddings(
    summaries: str,
    state: str | None,
    column: str,
    embedder: Producer,
    columns: set[str],
    retry_gave_up: bool,
) -> str:
    """The summaries to embed: new, changed text, other embedder or model, or failed and not
    parked, with ``previous_error`` and ``previous_attempts``."""
    usable = summaries_with_text(summaries, column)
    if state is None:
        return usable
    key = f"f.text_hash = md5(s.text) and {embedding_key('f', embedder)}"
    return (
        f"select s.conversation_id, s.summary, s.error, s.text, f.error as previous_error, "
        f"{previous_attempts('f', key, columns)} as previous_attempts "
        f"from ({usable}) as s left join {state} as f on f.conversation_id = s.conversation_id "
        f"left join {state} as e "
        "on e.conversation_id = s.conversation_id and e.text_hash = md5(s.text) "
        f"and {embedding_key('e', embedder)} and e.error is null "
        f"where e.conversation_id is null and not {parked('f', key, columns, retry_gave_up)}"
    )


# --------------------------------------------------------------------------- taxonomy


def current_embeddings(embeddings: str, summaries: str, column: str) -> str:
    """A subquery: the embeddings of each conversation's current text (``column``, as
    :func:`embedded_text`); a vector whose text changed or whose summary failed since it was
    embedded is left out."""
    return (
        f"(select e.conversation_id, e.text_hash, e.model, e.embedding from {embeddings} as e "
        f"inner join {summaries} as s on s.conversation_id = e.conversation_id "
        f"and s.error is null and e.text_hash = md5({embedded_text(column, 's')}) "
        f"where e.embedding is not null and e.error is null)"
    )


def embeddings_by_model(embeddings: str, usable_only: bool = False) -> str:
    """``model``, ``n``: embeddings per model, the most used first (ties by name)."""
    where = f" where {usable_embedding(None)}" if usable_only else ""
    return (
        f"select model, count(*) as n from {embeddings}{where} "
        "group by model order by n desc, model"
    )


def embeddings_of_model(embeddings: str, model: str | None) -> str:
    """Every embedding of ``model`` (any when None), with the state's column names."""
    return (
        "select conversation_id, text_hash, model as embedding_model, embedding "
        f"from {embeddings} where {_of_model(None, model)}"
    )


def embeddings_to_assign(embeddings: str, state: str, model: str | None, conversation: str) -> str:
    """The embeddings of ``model`` with no ``conversation`` state row for the same text and
    model: tonight's new or changed conversations."""
    return (
        "select e.conversation_id, e.text_hash, e.model as embedding_model, e.embedding "
        f"from {embeddings} as e left join {state} as s "
        f"on s.state_key = {literal(conversation + ':')} || e.conversation_id "
        "and s.text_hash = e.text_hash and s.embedding_model = e.model "
        f"where s.state_key is null and {_of_model('e', model)}"
    )


def current_clusters(state: str, columns: Iterable[str], cluster: str) -> str:
    """The clusters of the current taxonomy (not retired), with ``columns``."""
    return (
        f"select {', '.join(columns)} from {state} "
        f"where record_type = {literal(cluster)} and retired_epoch is null"
    )


def label_completion_per_call(state: str, cluster: str, labeller: str) -> str:
    """``mean``: completion tokens per call of the names (and groupings) ``labeller`` gave the
    clusters of the state, current and retired (NULL when it made no call)."""
    return (
        f"select sum(completion_tokens) * 1.0 / nullif(sum(llm_calls), 0) as mean from {state} "
        f"where record_type = {literal(cluster)} and coalesce(labeller, '') = {literal(labeller)} "
        "and llm_calls > 0 and completion_tokens > 0"
    )


def cortex_name_completion_per_call(names: str) -> str:
    """``mean``: completion tokens per answered call of ``int_kura__cortex_cluster_names``
    (NULL when none was answered)."""
    return (
        f"select avg(completion_tokens) * 1.0 as mean from {names} "
        "where error is null and completion_tokens > 0"
    )


def mean_summary_length(summaries: str) -> str:
    """``mean``: characters of a summary in ``kura__summaries`` (NULL when there is none)."""
    return f"select avg(length(summary)) as mean from {summaries} where summary is not null"


def last_run(state: str, run: str) -> str:
    """The last ``run`` row of the state."""
    return (
        f"select * from {state} where record_type = {literal(run)} order by run_number desc limit 1"
    )


def conversation_assignments(state: str, conversation: str) -> str:
    return (
        f"select conversation_id, cluster_id from {state} "
        f"where record_type = {literal(conversation)}"
    )


def conversation_users(conversations: str) -> str:
    """Each conversation's user (``stg_kura__conversations``)."""
    return f"select conversation_id, user_id from {conversations}"


def conversation_groups(conversations: str) -> str:
    """Each conversation's user and day (``stg_kura__conversations``): the novelty radii's
    calibration groups (:func:`kura_dbt.clustering.assign.calibration_groups`)."""
    return (
        "select conversation_id, user_id, cast(cast(created_at as date) as varchar) as day "
        f"from {conversations}"
    )


def clusters_ever(state: str, cluster: str) -> str:
    """Every cluster id the state ever held, retired ones too."""
    return f"select cluster_id from {state} where record_type = {literal(cluster)}"


def summary_texts(summaries: str) -> str:
    return f"select conversation_id, summary from {summaries} where summary is not null"


# --------------------------------------------------------------------------- map


def map_meta(state: str) -> str:
    """The map's fits: projector, embedding model and version, the latest first."""
    return (
        f"select projector, embedding_model, max(map_version) as version from {state} "
        "where is_anchor group by projector, embedding_model order by version desc"
    )


def embeddings_to_map(embeddings: str, model: str) -> str:
    """Every usable embedding of ``model``: what a fit places."""
    return (
        f"select conversation_id, text_hash, embedding from {embeddings} "
        f"where {usable_embedding(None, model)}"
    )


def embeddings_not_on_map(embeddings: str, state: str, model: str) -> str:
    """The usable embeddings of ``model`` with no map point for the same text and model."""
    return (
        f"select e.conversation_id, e.text_hash, e.embedding from {embeddings} as e "
        f"left join {state} as m on m.conversation_id = e.conversation_id "
        "and m.text_hash = e.text_hash and m.embedding_model = e.model "
        f"where {usable_embedding('e', model)} and m.conversation_id is null"
    )


def anchors_of_map(embeddings: str, state: str, model: str) -> str:
    """The map's anchors: position and (usable, of ``model``) embedding."""
    return (
        f"select m.x, m.y, e.embedding from {state} as m inner join {embeddings} as e "
        "on m.conversation_id = e.conversation_id and m.text_hash = e.text_hash "
        f"where m.is_anchor and {usable_embedding('e', model)} order by m.conversation_id"
    )


# --------------------------------------------------------------------------- classification


def every_row(relation: str) -> str:
    """Every row and column of ``relation`` (the pinned taxonomy, a small table)."""
    return f"select * from {relation}"


def classifier_key(alias: str | None, classifier: Producer) -> str:
    """True when the state row ``alias`` was written by ``classifier`` (backend and model)."""
    return (
        f"{_column(alias, 'classifier')} = {literal(classifier.name)} "
        f"and {_column(alias, 'classifier_model')} = {literal(classifier.model)}"
    )


def evaluation_of(state: str, evaluation: str, version: str, classifier: Producer) -> str:
    """One ``evaluation`` row of taxonomy ``version`` by ``classifier``, if there is one."""
    return (
        f"select 1 from {state} where record_type = {literal(evaluation)} "
        f"and taxonomy_version = {literal(version)} and {classifier_key(None, classifier)} "
        "limit 1"
    )


def _vector_or_null(with_vectors: bool) -> str:
    return "e.embedding" if with_vectors else "null"


def classification_inputs(current: str, summaries: str, column: str, with_vectors: bool) -> str:
    """Every conversation with a current embedding (``current``: :func:`current_embeddings`):
    its text hash, embedding model, embedding (NULL when ``with_vectors`` is false) and the
    embedded ``text`` (:func:`embedded_text`)."""
    return (
        "select e.conversation_id, e.text_hash, e.model as embedding_model, "
        f"{_vector_or_null(with_vectors)} as embedding, {embedded_text(column, 's')} as text "
        f"from {current} as e inner join {summaries} as s on s.conversation_id = e.conversation_id"
    )


def classification_key(alias: str, version: str) -> str:
    """True when the state row ``alias`` is for the same taxonomy ``version``, text and
    embedding model as the input row ``p`` (:func:`classification_inputs`)."""
    return (
        f"{alias}.taxonomy_version = {literal(version)} and {alias}.text_hash = p.text_hash "
        f"and {alias}.embedding_model = p.embedding_model"
    )


def pending_classifications(
    inputs: str,
    state: str | None,
    conversation: str,
    version: str,
    classifier: Producer,
    columns: set[str],
    retry_gave_up: bool,
) -> str:
    """The rows of ``inputs`` (:func:`classification_inputs`) to classify, with
    ``previous_error`` and ``previous_attempts``: those with no ``conversation`` state row
    without error for the same key (:func:`classification_key`) and, unless labelled, the same
    classifier; a parked row is left out."""
    if state is None:
        return f"select *, null as previous_error, 0 as previous_attempts from ({inputs}) as p"
    key = f"{classification_key('f', version)} and {classifier_key('f', classifier)}"
    state_key = f"{literal(conversation + ':')} || p.conversation_id"
    return (
        "select p.*, f.error as previous_error, "
        f"{previous_attempts('f', key, columns)} as previous_attempts from ({inputs}) as p "
        f"left join {state} as f on f.state_key = {state_key} "
        f"left join {state} as c on c.state_key = {state_key} "
        f"and {classification_key('c', version)} and c.error is null "
        f"and (c.status = 'labelled' or ({classifier_key('c', classifier)})) "
        f"where c.state_key is null and not {parked('f', key, columns, retry_gave_up)}"
    )


def clusters_with_parents(state: str, cluster: str) -> str:
    """Every cluster the clustering state ever held, with its parent and retirement epoch."""
    return (
        f"select cluster_id, parent_id, retired_epoch from {state} "
        f"where record_type = {literal(cluster)}"
    )


def discovered_members(state: str, conversation: str) -> str:
    """The conversations the clusters were discovered from, with their cluster."""
    return (
        f"select conversation_id, cluster_id from {state} "
        f"where record_type = {literal(conversation)} and status = 'discovered'"
    )


def training_members(
    state: str,
    current: str,
    summaries: str,
    column: str,
    with_vectors: bool,
    conversation: str,
    version: str,
    limit: int,
) -> str:
    """Up to ``limit`` labelled ``conversation`` rows per category under taxonomy ``version``
    (a stable choice: by the hash of their id), with their current embedding (NULL when
    ``with_vectors`` is false) and embedded ``text``."""
    labelled = (
        "select *, row_number() over (partition by category_id order by md5(conversation_id)) "
        f"as n from {state} where record_type = {literal(conversation)} "
        f"and status = 'labelled' and taxonomy_version = {literal(version)}"
    )
    return (
        f"select l.conversation_id, l.category_id, {_vector_or_null(with_vectors)} as embedding, "
        f"{embedded_text(column, 's')} as text from ({labelled}) as l "
        f"inner join {current} as e on e.conversation_id = l.conversation_id "
        f"inner join {summaries} as s on s.conversation_id = l.conversation_id "
        f"where l.n <= {int(limit)}"
    )


def example_embeddings(state: str, example: str, version: str) -> str:
    """The file's example embeddings stored under taxonomy ``version``."""
    return (
        f"select text_hash, embedding from {state} where record_type = {literal(example)} "
        f"and taxonomy_version = {literal(version)}"
    )


def embeddings_of_texts(current: str, hashes: Iterable[str]) -> str:
    """One embedding per text hash of ``hashes`` found in ``current``."""
    return (
        f"select text_hash, any_value(embedding) as embedding from {current} "
        f"where text_hash in ({', '.join(map(literal, hashes))}) group by text_hash"
    )


def cortex_answers(answers: str, hashes: Iterable[str]) -> str:
    """The stored ``AI_CLASSIFY`` answers (``int_kura__cortex_classifications``) of the texts
    with these hashes."""
    return (
        "select text_hash, category_id, path, note, attempts, gave_up, error "
        f"from {answers} where text_hash in ({', '.join(map(literal, hashes))})"
    )


def audit_key(alias: str, auditor: Summariser) -> str:
    """True when the state row ``alias`` was scored by ``auditor`` (backend, model, prompt)."""
    return (
        f"coalesce({alias}.auditor, '') = {literal(auditor.name)} "
        f"and coalesce({alias}.model, '') = {literal(auditor.model or '')} "
        f"and coalesce({alias}.prompt_version, '') = {literal(auditor.prompt_version)}"
    )


def _distinct_texts(texts: str) -> str:
    """One kind and text per text hash of ``texts`` (int_kura__privacy_texts)."""
    return f"select text_hash, min(kind) as kind, min(text) as text from {texts} group by text_hash"


def pending_audits(
    texts: str,
    state: str | None,
    auditor: Summariser,
    columns: set[str] | None = None,
    retry_gave_up: bool = False,
) -> str:
    """The distinct texts (one kind and text per hash) whose privacy score is missing, failed
    and not parked (:mod:`kura_dbt.parking`), or came from another auditor, model or prompt
    version, with ``previous_error`` and ``previous_attempts``; ``columns``: the state table's
    columns (read with :func:`no_rows`)."""
    distinct = _distinct_texts(texts)
    if state is None:
        return (
            "select text_hash, kind, text, cast(null as varchar) as previous_error, "
            f"0 as previous_attempts from ({distinct}) as texts order by text_hash"
        )
    key = audit_key("done", auditor)
    columns = columns or set()
    return f"""select texts.text_hash, texts.kind, texts.text, done.error as previous_error,
    {previous_attempts("done", key, columns)} as previous_attempts
from ({distinct}) as texts
left join {state} as done on done.text_hash = texts.text_hash
where (done.text_hash is null or done.error is not null or not ({key}))
    and not {parked("done", key, columns, retry_gave_up)}
order by texts.text_hash"""


def mean_summary_text_length(texts: str) -> str:
    """``mean``: characters of a summary, request or task among the texts to audit."""
    return (
        f"select avg(length(text)) as mean from {texts} "
        "where kind in ('summary', 'request', 'task')"
    )


def mean_text_length_by_kind(texts: str, kinds: Sequence[str]) -> str:
    """``kind``, ``mean``: characters of a text of each of ``kinds`` among the texts to audit."""
    listed = ", ".join(literal(k) for k in kinds)
    return (
        f"select kind, avg(length(text)) as mean from {texts} "
        f"where kind in ({listed}) group by kind"
    )


def parked_audits(texts: str, state: str, auditor: Summariser) -> str:
    """``n``: distinct texts whose privacy audit is parked for the current auditor."""
    same = f"f.text_hash = i.text_hash and {audit_key('f', auditor)}"
    return parked_count(f"({_distinct_texts(texts)})", state, same)


def withheld_cluster_texts(
    texts: str,
    audit: str,
    state: str | None,
    min_score: int,
    auditor: Summariser,
    detector: str,
    kinds: Sequence[str],
) -> str:
    """The distinct cluster texts (names, descriptions, keywords) the auditor scored below
    ``min_score`` and that ``int_kura__privacy_relabels`` has not remade yet with this auditor,
    model, prompt version and detector (or failed on)."""
    listed = ", ".join(literal(k) for k in kinds)
    withheld = f"""select texts.text_hash, min(texts.kind) as kind, min(texts.text) as text
from {texts} as texts
inner join {audit} as audit on audit.text_hash = texts.text_hash
where texts.kind in ({listed}) and audit.score < {int(min_score)}
group by texts.text_hash"""
    if state is None:
        return f"{withheld}\norder by text_hash"
    return f"""select withheld.text_hash, withheld.kind, withheld.text
from ({withheld}) as withheld
left join {state} as done on done.text_hash = withheld.text_hash
where done.text_hash is null
    or done.error is not null
    or coalesce(done.auditor, '') != {literal(auditor.name)}
    or coalesce(done.model, '') != {literal(auditor.model or "")}
    or coalesce(done.prompt_version, '') != {literal(auditor.prompt_version)}
    or coalesce(done.detector_version, '') != {literal(detector)}
order by withheld.text_hash"""
