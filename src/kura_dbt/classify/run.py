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

from kura_dbt import sql
from kura_dbt.classify import CLASSIFIERS, OTHER
from kura_dbt.classify.base import (
    Classifier,
    Item,
    LeafCategory,
    Prediction,
    TrainingSet,
    bind,
)
from kura_dbt.classify.evaluate import evaluate
from kura_dbt.failures import check_failures
from kura_dbt.frames import WarehouseReader
from kura_dbt.incremental import text_hash
from kura_dbt.parking import RetryPolicy, state_columns
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


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        value = json.loads(value)
    return np.asarray(value, dtype=np.float32)


def read_taxonomy(wh: WarehouseReader, settings: Settings) -> PinnedTaxonomy:
    rows = wh.query(sql.every_row(wh.views["taxonomy"])).to_dict("records")
    return parse_rows(rows, source=str(settings.pinned_taxonomy))


def update_classifications(wh: WarehouseReader, settings: Settings, now: datetime) -> pd.DataFrame:
    """The state rows this build adds or replaces. ``wh`` has the views ``taxonomy`` (the
    analyst's file), ``embeddings``, ``summaries`` and ``cluster_state``; ``wh.state`` is the
    model's previous state on an incremental build."""
    if settings.pinned_taxonomy is None:  # discovery mode: nothing to classify
        return typed_frame([], CLASSIFICATION_SCHEMA)
    taxonomy = read_taxonomy(wh, settings)
    version = taxonomy.version
    classifier = CLASSIFIERS.build(settings.classifier, settings)
    bind(classifier, wh)
    last, evaluated = _previous_run(wh, version, classifier)
    first_of_version = last.get("taxonomy_version") != version
    emb = current_embeddings_sql(wh, settings)
    policy = RetryPolicy.of(settings)
    pending = _pending(wh, settings, version, classifier, emb, policy)

    rows: list[dict[str, Any]] = []
    discovered = _discovered_labels(wh, taxonomy) if first_of_version else {}
    labelled_now = pending["conversation_id"].map(lambda c: c in discovered).to_numpy(bool)
    to_classify = pending[~labelled_now].reset_index(drop=True)
    training = None
    if len(to_classify) > 0 or not evaluated:
        training = _training_set(
            wh, settings, taxonomy, classifier, version, pending, discovered, emb, rows, now
        )
    rows += _labelled_rows(pending[labelled_now], discovered, version, now, classifier)
    if training is not None and len(to_classify):
        classifier.fit(training)
    rows += _classified_rows(to_classify, classifier, version, now, policy)
    if first_of_version:
        rows += _category_rows(taxonomy, version, now)
    if not evaluated and training is not None:
        rows += _eval_rows(wh, settings, classifier, training, version, now)
    rows.append(_run_row(rows, last, len(pending), first_of_version, version, now, classifier))
    return typed_frame(rows, CLASSIFICATION_SCHEMA)


def _previous_run(
    wh: WarehouseReader, version: str, classifier: Classifier
) -> tuple[dict[str, Any], bool]:
    """The state's last ``run`` row (empty on a first build), and whether ``classifier`` was
    already evaluated on taxonomy ``version``."""
    if wh.state is None:
        return {}, False
    runs = wh.query(sql.last_run(wh.state, RUN))
    last = {} if runs.empty else runs.iloc[0].to_dict()
    evaluated = not wh.query(sql.evaluation_of(wh.state, EVAL, version, classifier)).empty
    return last, evaluated


def _pending(
    wh: WarehouseReader,
    settings: Settings,
    version: str,
    classifier: Classifier,
    emb: str,
    policy: RetryPolicy,
) -> pd.DataFrame:
    """The conversations to label or classify (:func:`kura_dbt.sql.pending_classifications`),
    by id."""
    inputs = sql.classification_inputs(
        emb, wh.views["summaries"], settings.embedded_column(), classifier.needs_vectors
    )
    query = sql.pending_classifications(
        inputs,
        wh.state,
        CONVERSATION,
        version,
        classifier,
        state_columns(wh, wh.state),
        policy.retry_gave_up,
    )
    return wh.query(query).sort_values("conversation_id").reset_index(drop=True)


def _labelled_rows(
    members: pd.DataFrame,
    discovered: dict[str, tuple[str, str]],
    version: str,
    now: datetime,
    classifier: Classifier,
) -> list[dict[str, Any]]:
    """The pending ``members`` of discovered clusters the file maps: labelled, no call."""
    rows = []
    for record in members.itertuples(index=False):
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
    return rows


def _classified_rows(
    to_classify: pd.DataFrame,
    classifier: Classifier,
    version: str,
    now: datetime,
    policy: RetryPolicy,
) -> list[dict[str, Any]]:
    """``to_classify`` through the (fitted) ``classifier``: a row per conversation sent (one
    the budget cap kept back stays pending); a run whose every attempt failed fails
    (:func:`kura_dbt.failures.check_failures`)."""
    from kura_dbt.budget import is_skipped

    predictions: list[Prediction] = []
    if len(to_classify):
        items = [
            Item(
                r.conversation_id,
                str(r.text or ""),
                _vector(r.embedding) if classifier.needs_vectors else None,
            )
            for r in to_classify.itertuples(index=False)
        ]
        predictions = classifier.classify(items)
    rows, attempted, retries = [], [], []
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
    return rows


def _run_row(
    rows: list[dict[str, Any]],
    last: dict[str, Any],
    pending: int,
    first_of_version: bool,
    version: str,
    now: datetime,
    classifier: Classifier,
) -> dict[str, Any]:
    """This build's ``run`` row: the counts of the conversation ``rows`` it writes."""
    written = [r for r in rows if r["record_type"] == CONVERSATION]
    run_number = int(last.get("run_number") or 0) + 1
    return {
        "state_key": f"{RUN}:{run_number:06d}",
        "record_type": RUN,
        "taxonomy_version": version,
        "updated_at": now,
        "run_number": run_number,
        "classifier": classifier.name,
        "classifier_model": classifier.model,
        "pending": pending,
        "labelled": sum(r["status"] == "labelled" for r in written),
        "classified": sum(r["status"] == "classified" for r in written),
        "other": sum(r["status"] == "other" for r in written),
        "errors": sum(r["status"] == "error" for r in written),
        "llm_calls": sum(int(r.get("llm_calls") or 0) for r in written),
        "reason": "new taxonomy version"
        if first_of_version
        else ("new or changed conversations" if pending else "nothing to classify"),
    }


def _conversation_row(
    record: Any, version: str, now: datetime, classifier: Classifier
) -> dict[str, Any]:
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


def _discovered_labels(wh: WarehouseReader, taxonomy: PinnedTaxonomy) -> dict[str, tuple[str, str]]:
    """conversation id -> (category, discovered cluster) for the members of the discovered
    clusters the file maps (status ``discovered``: the conversations the clusters were found
    from). A cluster id the clustering state never had is an error naming its row."""
    view = wh.views["cluster_state"]
    clusters = wh.query(sql.clusters_with_parents(view, cluster_state.CLUSTER))
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
    members = wh.query(sql.discovered_members(view, cluster_state.CONVERSATION))
    return {
        conv: (mapping[cluster], cluster)
        for conv, cluster in zip(members["conversation_id"], members["cluster_id"], strict=True)
        if cluster in mapping
    }


def _training_set(
    wh: WarehouseReader,
    settings: Settings,
    taxonomy: PinnedTaxonomy,
    classifier: Classifier,
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
    members = _members(wh, settings, classifier, version, pending, discovered, emb)
    texts = [str(t or "") for t in members["text"]]
    labels = list(members["category_id"])
    counts = pd.Series(labels, dtype="object").value_counts().to_dict()
    categories, example_texts, example_labels = _leaf_examples(taxonomy, counts)
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
        is_example=[False] * len(texts) + [True] * len(example_texts),
    )


def _members(
    wh: WarehouseReader,
    settings: Settings,
    classifier: Classifier,
    version: str,
    pending: pd.DataFrame,
    discovered: dict[str, tuple[str, str]],
    emb: str,
) -> pd.DataFrame:
    """The labelled members to learn from, by id: this build's (the pending members of
    ``discovered`` clusters), else up to ``MAX_TRAINING_MEMBERS`` per category stored under
    this version, with ``category_id``, ``embedding`` and ``text``."""
    if discovered:
        members = pending[pending["conversation_id"].isin(discovered.keys())].copy()
        members["category_id"] = [discovered[c][0] for c in members["conversation_id"]]
    elif wh.state is not None:
        members = wh.query(
            sql.training_members(
                wh.state,
                emb,
                wh.views["summaries"],
                settings.embedded_column(),
                classifier.needs_vectors,
                CONVERSATION,
                version,
                MAX_TRAINING_MEMBERS,
            )
        )
    else:
        members = pd.DataFrame(columns=["conversation_id", "category_id", "embedding", "text"])
    return members.sort_values("conversation_id")


def _leaf_examples(
    taxonomy: PinnedTaxonomy, counts: dict[str, int]
) -> tuple[list[LeafCategory], list[str], list[str]]:
    """The leaf categories, and the file's examples with their labels; a leaf with neither
    examples nor members (``counts``) learns from its name and description."""
    categories, texts, labels = [], [], []
    for c in taxonomy.leaves():
        category = taxonomy.categories[c]
        categories.append(
            LeafCategory(c, category.name, category.description, list(category.examples))
        )
        shots = list(category.examples)
        if not shots and not counts.get(c):  # nothing else to learn it from
            shots = [f"{category.name}: {category.description}"]
        texts += shots
        labels += [c] * len(shots)
    return categories, texts, labels


def _example_vectors(
    wh: WarehouseReader,
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
        stored = wh.query(sql.example_embeddings(wh.state, EXAMPLE, version))
        known.update(
            {h: _vector(v) for h, v in zip(stored["text_hash"], stored["embedding"], strict=True)}
        )
    missing = sorted({h for h in hashes if h not in known})
    if missing:
        found = wh.query(sql.embeddings_of_texts(emb, missing))
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
    wh: WarehouseReader,
    settings: Settings,
    classifier: Classifier,
    training: TrainingSet,
    version: str,
    now: datetime,
) -> list[dict]:
    cap = None if classifier.needs_vectors else LLM_EVAL_CAP

    def make() -> Classifier:  # a fresh backend, bound to the warehouse like the build's own
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
