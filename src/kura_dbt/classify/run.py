"""What the ``int_kura__classification_state`` model runs: classify every conversation into
the pinned taxonomy (var ``kura__pinned_taxonomy``), incrementally.

One incremental table, keyed by ``state_key``, with five kinds of rows (``record_type``):

- ``conversation``: its category (``other`` when none fits), status (``labelled``: a member of
  a discovered cluster that the file maps to the category, at the build that first applied
  this taxonomy version; ``classified``; ``other``; ``error``), confidence, the backend's best
  category, the taxonomy version, the classifier, and what it cost;
- ``category``: the pinned taxonomy of a version (plus ``other``), with its level;
- ``example``: a file example's embedding (the local classifier; embedded once per version);
- ``eval``: held-out quality per category, once per version and classifier;
- ``run``: one per build.

Pending conversations are selected in SQL: those with no row under the current taxonomy
version, text and embedding model, and classifier (labelled ones whatever the classifier), or
whose last attempt failed. A build with nothing pending fits nothing and calls nothing. A
changed file is a new version: every conversation is labelled or classified again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kura_dbt.classify import CLASSIFIERS, OTHER
from kura_dbt.classify.base import Item, LeafCategory, Prediction, TrainingSet, bind
from kura_dbt.classify.evaluate import evaluate
from kura_dbt.failures import check_failures
from kura_dbt.incremental import embedded_text_sql, text_hash
from kura_dbt.parking import RetryPolicy, parked_sql, previous_attempts_sql, state_columns
from kura_dbt.settings import Settings
from kura_dbt.tables import typed_frame
from kura_dbt.taxonomy import current_embeddings_sql
from kura_dbt.taxonomy import state as cluster_state
from kura_dbt.taxonomy.pinned import PinnedTaxonomy, TaxonomyError, parse_rows

CLASSIFICATION_SCHEMA: dict[str, str] = {
    "state_key": "string",
    "record_type": "string",
    "taxonomy_version": "string",
    "updated_at": "datetime64[us]",
    # conversation
    "conversation_id": "string",
    "category_id": "string",
    "status": "string",
    "confidence": "float64",
    "nearest_category_id": "string",
    "note": "string",
    "discovered_cluster_id": "string",
    "text_hash": "string",
    "embedding_model": "string",
    "classifier": "string",
    "classifier_model": "string",
    "llm_calls": "Int64",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "error": "string",
    # bounded retries (kura_dbt.parking): runs that sent it for its current input key (taxonomy
    # version, text, embedding model, classifier and model), and whether it is parked
    "attempts": "Int64",
    "gave_up": "boolean",
    # category
    "name": "string",
    "description": "string",
    "parent_id": "string",
    "level": "Int64",
    "is_leaf": "boolean",
    "cluster_ids": "string",
    "examples": "string",
    "source_rows": "string",
    # example
    "example_text": "string",
    "embedding": "string",
    # eval
    "support": "Int64",
    "train_size": "Int64",
    "predicted": "Int64",
    "true_positives": "Int64",
    "precision": "float64",
    "recall": "float64",
    "f1": "float64",
    "most_confused_with": "string",
    "confused_count": "Int64",
    "abstained": "Int64",
    "accuracy": "float64",
    # run
    "run_number": "Int64",
    "pending": "Int64",
    "labelled": "Int64",
    "classified": "Int64",
    "other": "Int64",
    "errors": "Int64",
    "reason": "string",
}

CONVERSATION, CATEGORY, EXAMPLE, EVAL, RUN = "conversation", "category", "example", "eval", "run"
OTHER_NAME = "Other"
OTHER_DESCRIPTION = (
    "Conversations that fit none of the pinned categories: the classifier was not confident "
    "enough, or answered other. Discovery on demand suggests new categories from them."
)
# held-out conversations per category for an LLM classifier's evaluation (it pays per call)
LLM_EVAL_CAP = 20
# labelled members per category read back to train on later builds of the same version
MAX_TRAINING_MEMBERS = 2000


def _literal(value: Any) -> str:
    return "'" + ("" if value is None else str(value)).replace("'", "''") + "'"


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        value = json.loads(value)
    return np.asarray(value, dtype=np.float32)


def read_taxonomy(wh: Any, settings: Settings) -> PinnedTaxonomy:
    rows = wh.query(f"select * from {wh.views['taxonomy']}").to_dict("records")
    return parse_rows(rows, source=str(settings.pinned_taxonomy))


def update_classifications(wh: Any, settings: Settings, now: datetime) -> pd.DataFrame:
    """The state rows this build adds or replaces. ``wh`` has the views ``taxonomy`` (the
    analyst's file), ``embeddings``, ``summaries`` and ``cluster_state``; ``wh.state`` is the
    model's previous state on an incremental build."""
    if settings.pinned_taxonomy is None:  # discovery mode: nothing to classify
        return typed_frame([], CLASSIFICATION_SCHEMA)
    taxonomy = read_taxonomy(wh, settings)
    version = taxonomy.version
    classifier = CLASSIFIERS.build(settings.classifier, settings)
    bind(classifier, wh)
    state = wh.state
    last = {}
    if state is not None:
        runs = wh.query(
            f"select * from {state} where record_type = '{RUN}' order by run_number desc limit 1"
        )
        last = {} if runs.empty else runs.iloc[0].to_dict()
    first_of_version = last.get("taxonomy_version") != version
    evaluated = (
        state is not None
        and not wh.query(
            f"select 1 from {state} where record_type = '{EVAL}' and taxonomy_version = "
            f"{_literal(version)} and classifier = {_literal(classifier.name)} "
            f"and classifier_model = {_literal(classifier.model)} limit 1"
        ).empty
    )

    emb = current_embeddings_sql(wh, settings)
    summaries = wh.views["summaries"]
    text = embedded_text_sql(settings.embedded_column(), "s")
    vector = "e.embedding" if classifier.needs_vectors else "null"
    select = (
        f"select e.conversation_id, e.text_hash, e.model as embedding_model, {vector} as "
        f"embedding, {text} as text from {emb} as e inner join {summaries} as s "
        "on s.conversation_id = e.conversation_id"
    )
    policy = RetryPolicy.of(settings)
    if state is None:
        pending = wh.query(
            f"select *, null as previous_error, 0 as previous_attempts from ({select}) as p"
        )
    else:
        known = state_columns(wh, state)
        key = (
            f"f.taxonomy_version = {_literal(version)} and f.text_hash = p.text_hash "
            "and f.embedding_model = p.embedding_model "
            f"and f.classifier = {_literal(classifier.name)} "
            f"and f.classifier_model = {_literal(classifier.model)}"
        )
        pending = wh.query(
            f"select p.*, f.error as previous_error, "
            f"{previous_attempts_sql('f', key, known)} as previous_attempts from ({select}) as p "
            f"left join {state} as f on f.state_key = '{CONVERSATION}:' || p.conversation_id "
            f"left join {state} as c on c.state_key = '{CONVERSATION}:' || p.conversation_id "
            f"and c.taxonomy_version = {_literal(version)} and c.text_hash = p.text_hash "
            "and c.embedding_model = p.embedding_model and c.error is null "
            f"and (c.status = 'labelled' or (c.classifier = {_literal(classifier.name)} "
            f"and c.classifier_model = {_literal(classifier.model)})) "
            f"where c.state_key is null and not {parked_sql('f', key, known, policy)}"
        )
    pending = pending.sort_values("conversation_id").reset_index(drop=True)

    rows: list[dict[str, Any]] = []
    discovered = _discovered_labels(wh, taxonomy) if first_of_version else {}
    labelled_now = pending["conversation_id"].map(lambda c: c in discovered).to_numpy(bool)
    to_classify = pending[~labelled_now].reset_index(drop=True)
    need_training = len(to_classify) > 0 or not evaluated
    training = (
        _training_set(
            wh, settings, taxonomy, classifier, version, pending, discovered, emb, rows, now
        )
        if need_training
        else None
    )

    for record in pending[labelled_now].itertuples(index=False):
        category, cluster = discovered[record.conversation_id]
        rows.append(
            _conversation_row(record, version, now, classifier)
            | {
                "category_id": category,
                "status": "labelled",
                "confidence": 1.0,
                "nearest_category_id": category,
                "discovered_cluster_id": cluster,
                "note": "member of a discovered cluster mapped by the taxonomy file",
            }
        )
    predictions: list[Prediction] = []
    if len(to_classify):
        classifier.fit(training)
        items = [
            Item(
                r.conversation_id,
                str(r.text or ""),
                _vector(r.embedding) if classifier.needs_vectors else None,
            )
            for r in to_classify.itertuples(index=False)
        ]
        predictions = classifier.classify(items)
    from kura_dbt.budget import is_skipped

    attempted, retries = [], []
    for record, p in zip(to_classify.itertuples(index=False), predictions, strict=True):
        if is_skipped(p.error):
            continue  # the budget cap kept it from being sent: still pending next run
        status = "error" if p.error else ("other" if p.category_id == OTHER else "classified")
        attempted.append(p.error)
        retries.append(isinstance(record.previous_error, str) or record.previous_attempts > 0)
        attempts = int(record.previous_attempts) + 1
        rows.append(
            _conversation_row(record, version, now, classifier)
            | {
                "category_id": p.category_id,
                "status": status,
                "confidence": p.confidence,
                "nearest_category_id": p.nearest_category_id,
                "note": p.note,
                "error": p.error,
                "llm_calls": p.llm_calls,
                "prompt_tokens": p.prompt_tokens,
                "completion_tokens": p.completion_tokens,
                "attempts": attempts,
                "gave_up": policy.gave_up(p.error, attempts),
            }
        )
    check_failures(
        "classifications",
        attempted,
        f"classifier {classifier.name}, model {classifier.model}",
        retries,
    )

    if first_of_version:
        rows += _category_rows(taxonomy, version, now)
    if not evaluated and training is not None:
        rows += _eval_rows(wh, settings, classifier, training, version, now)
    written = [r for r in rows if r["record_type"] == CONVERSATION]
    run_number = int(last.get("run_number") or 0) + 1
    rows.append(
        {
            "state_key": f"{RUN}:{run_number:06d}",
            "record_type": RUN,
            "taxonomy_version": version,
            "updated_at": now,
            "run_number": run_number,
            "classifier": classifier.name,
            "classifier_model": classifier.model,
            "pending": len(pending),
            "labelled": sum(r["status"] == "labelled" for r in written),
            "classified": sum(r["status"] == "classified" for r in written),
            "other": sum(r["status"] == "other" for r in written),
            "errors": sum(r["status"] == "error" for r in written),
            "llm_calls": sum(int(r.get("llm_calls") or 0) for r in written),
            "reason": "new taxonomy version"
            if first_of_version
            else ("new or changed conversations" if len(pending) else "nothing to classify"),
        }
    )
    return typed_frame(rows, CLASSIFICATION_SCHEMA)


def _conversation_row(record: Any, version: str, now: datetime, classifier: Any) -> dict:
    return {
        "state_key": f"{CONVERSATION}:{record.conversation_id}",
        "record_type": CONVERSATION,
        "taxonomy_version": version,
        "updated_at": now,
        "conversation_id": record.conversation_id,
        "text_hash": record.text_hash,
        "embedding_model": record.embedding_model,
        "classifier": classifier.name,
        "classifier_model": classifier.model,
    }


def _discovered_labels(wh: Any, taxonomy: PinnedTaxonomy) -> dict[str, tuple[str, str]]:
    """conversation id -> (category, discovered cluster) for the members of the discovered
    clusters the file maps (status ``discovered``: the conversations the clusters were found
    from). A cluster id the clustering state never had is an error naming its row."""
    view = wh.views["cluster_state"]
    clusters = wh.query(
        f"select cluster_id, parent_id, retired_epoch from {view} "
        f"where record_type = '{cluster_state.CLUSTER}'"
    )
    known = set(clusters["cluster_id"].dropna())
    problems = [
        f"row {taxonomy.row_of(c)} (category_id {c!r}), field cluster_id: unknown cluster "
        f"{cid!r} (not in kura__taxonomy; export again, or leave the field empty for a new "
        "category)"
        for c, category in taxonomy.categories.items()
        for cid in category.cluster_ids
        if cid not in known
    ]
    if problems:
        raise TaxonomyError(taxonomy.source, problems)
    current = clusters[clusters["retired_epoch"].isna()]
    parent_of = {
        cid: (p if isinstance(p, str) else None)
        for cid, p in zip(current["cluster_id"], current["parent_id"], strict=True)
    }
    mapping = taxonomy.label_of_cluster(parent_of)
    members = wh.query(
        f"select conversation_id, cluster_id from {view} "
        f"where record_type = '{cluster_state.CONVERSATION}' and status = 'discovered'"
    )
    return {
        conv: (mapping[cluster], cluster)
        for conv, cluster in zip(members["conversation_id"], members["cluster_id"], strict=True)
        if cluster in mapping
    }


def _training_set(
    wh: Any,
    settings: Settings,
    taxonomy: PinnedTaxonomy,
    classifier: Any,
    version: str,
    pending: pd.DataFrame,
    discovered: dict[str, tuple[str, str]],
    emb: str,
    rows: list[dict[str, Any]],
    now: datetime,
) -> TrainingSet:
    """Labelled members (this build's, or those stored under this version) and the file's
    examples, with vectors for a backend that needs them; new example vectors are appended to
    ``rows`` as ``example`` records."""
    leaves = taxonomy.leaves()
    if discovered:
        members = pending[pending["conversation_id"].isin(discovered.keys())].copy()
        members["category_id"] = [discovered[c][0] for c in members["conversation_id"]]
    elif wh.state is not None:
        text = embedded_text_sql(settings.embedded_column(), "s")
        vector = "e.embedding" if classifier.needs_vectors else "null"
        members = wh.query(
            f"select l.conversation_id, l.category_id, {vector} as embedding, {text} as text "
            f"from (select *, row_number() over (partition by category_id "
            f"order by md5(conversation_id)) as n from {wh.state} "
            f"where record_type = '{CONVERSATION}' and status = 'labelled' "
            f"and taxonomy_version = {_literal(version)}) as l "
            f"inner join {emb} as e on e.conversation_id = l.conversation_id "
            f"inner join {wh.views['summaries']} as s on s.conversation_id = l.conversation_id "
            f"where l.n <= {MAX_TRAINING_MEMBERS}"
        )
    else:
        members = pd.DataFrame(columns=["conversation_id", "category_id", "embedding", "text"])
    members = members.sort_values("conversation_id")
    texts = [str(t or "") for t in members["text"]]
    labels = list(members["category_id"])
    is_example = [False] * len(texts)
    categories = []
    counts = pd.Series(labels, dtype="object").value_counts().to_dict()
    example_texts: list[str] = []
    example_labels: list[str] = []
    for c in leaves:
        category = taxonomy.categories[c]
        categories.append(
            LeafCategory(c, category.name, category.description, list(category.examples))
        )
        shots = list(category.examples)
        if not shots and not counts.get(c):  # nothing else to learn it from
            shots = [f"{category.name}: {category.description}"]
        example_texts += shots
        example_labels += [c] * len(shots)
    vectors = None
    if classifier.needs_vectors:
        member_vectors = [_vector(v) for v in members["embedding"]]
        example_vectors = _example_vectors(
            wh, settings, version, example_texts, example_labels, emb, rows, now
        )
        stacked = member_vectors + example_vectors
        vectors = np.stack(stacked) if stacked else np.zeros((0, 0), dtype=np.float32)
    return TrainingSet(
        categories=categories,
        texts=texts + example_texts,
        labels=labels + example_labels,
        vectors=vectors,
        is_example=is_example + [True] * len(example_texts),
    )


def _example_vectors(
    wh: Any,
    settings: Settings,
    version: str,
    texts: list[str],
    labels: list[str],
    emb: str,
    rows: list[dict[str, Any]],
    now: datetime,
) -> list[np.ndarray]:
    """Each example's vector: stored under this version, else the vector of a conversation
    whose embedded text is the same (an exported example), else embedded now."""
    if not texts:
        return []
    hashes = [text_hash(t) for t in texts]
    known: dict[str, np.ndarray] = {}
    if wh.state is not None:
        stored = wh.query(
            f"select text_hash, embedding from {wh.state} where record_type = '{EXAMPLE}' "
            f"and taxonomy_version = {_literal(version)}"
        )
        known.update(
            {h: _vector(v) for h, v in zip(stored["text_hash"], stored["embedding"], strict=True)}
        )
    missing = sorted({h for h in hashes if h not in known})
    if missing:
        found = wh.query(
            f"select text_hash, any_value(embedding) as embedding from {emb} "
            f"where text_hash in ({', '.join(map(_literal, missing))}) group by text_hash"
        )
        known.update(
            {h: _vector(v) for h, v in zip(found["text_hash"], found["embedding"], strict=True)}
        )
    still = [i for i, h in enumerate(hashes) if h not in known]
    if still:
        from kura_dbt.embeddings import EMBEDDERS

        embedder = EMBEDDERS.build(settings.embedder, settings)
        vectors = embedder.embed([texts[i] for i in still])
        for i, v in zip(still, vectors, strict=True):
            known[hashes[i]] = np.asarray(v, dtype=np.float32)
    written = set()
    for h, t, label in zip(hashes, texts, labels, strict=True):
        if h in written:
            continue
        written.add(h)
        rows.append(
            {
                "state_key": f"{EXAMPLE}:{version}:{h}",
                "record_type": EXAMPLE,
                "taxonomy_version": version,
                "updated_at": now,
                "category_id": label,
                "example_text": t,
                "text_hash": h,
                "embedding": json.dumps([round(float(x), 6) for x in known[h]]),
            }
        )
    return [known[h] for h in hashes]


def _category_rows(taxonomy: PinnedTaxonomy, version: str, now: datetime) -> list[dict]:
    rows = []
    for cid, c in taxonomy.categories.items():
        rows.append(
            {
                "state_key": f"{CATEGORY}:{version}:{cid}",
                "record_type": CATEGORY,
                "taxonomy_version": version,
                "updated_at": now,
                "category_id": cid,
                "name": c.name,
                "description": c.description,
                "parent_id": c.parent_id,
                "level": taxonomy.level(cid),
                "is_leaf": not taxonomy.children.get(cid),
                "cluster_ids": json.dumps(list(c.cluster_ids)),
                "examples": json.dumps(list(c.examples), ensure_ascii=False),
                "source_rows": json.dumps(list(c.rows)),
            }
        )
    rows.append(
        {
            "state_key": f"{CATEGORY}:{version}:{OTHER}",
            "record_type": CATEGORY,
            "taxonomy_version": version,
            "updated_at": now,
            "category_id": OTHER,
            "name": OTHER_NAME,
            "description": OTHER_DESCRIPTION,
            "parent_id": None,
            "level": 0,
            "is_leaf": True,
            "cluster_ids": "[]",
            "examples": "[]",
            "source_rows": "[]",
        }
    )
    return rows


def _eval_rows(
    wh: Any,
    settings: Settings,
    classifier: Any,
    training: TrainingSet,
    version: str,
    now: datetime,
) -> list[dict]:
    cap = None if classifier.needs_vectors else LLM_EVAL_CAP

    def make() -> Any:  # a fresh backend, bound to the warehouse like the build's own
        fresh = CLASSIFIERS.build(settings.classifier, settings)
        bind(fresh, wh)
        return fresh

    results, usage = evaluate(
        make,
        training,
        settings.classifier_holdout,
        settings.seed,
        cap,
    )
    rows = []
    for n, r in enumerate(results):
        rows.append(
            {
                "state_key": f"{EVAL}:{version}:{classifier.name}:{classifier.model}:"
                f"{r['category_id']}",
                "record_type": EVAL,
                "taxonomy_version": version,
                "updated_at": now,
                "classifier": classifier.name,
                "classifier_model": classifier.model,
                **r,
                # the evaluation's LLM usage, on its first row (sums are exact)
                **(
                    {k: v for k, v in usage.items()}
                    if n == 0
                    else {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
                ),
            }
        )
    return rows
