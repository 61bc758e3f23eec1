"""A pinned taxonomy: the file's validation, the local classifier (calibrated, abstaining), the
LLM classifier against the local OpenAI-compatible server (the real openai client and
instructor), and the held-out evaluation."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from kura_dbt.classify import CLASSIFIERS, OTHER
from kura_dbt.classify.base import Item, LeafCategory, TrainingSet
from kura_dbt.classify.evaluate import evaluate, metrics
from kura_dbt.classify.local import LocalClassifier, fit_temperature
from kura_dbt.classify.openai import LLMClassifier
from kura_dbt.llm import LLMSettings
from kura_dbt.settings import Settings
from kura_dbt.taxonomy.pinned import TaxonomyError, parse_rows, read_file, write_file

GOOD = [
    {"category_id": "travel", "name": "Travel", "description": "Trips", "cluster_id": ""},
    {
        "category_id": "buses",
        "name": "Bus tickets",
        "description": "Book a bus",
        "parent_id": "travel",
        "cluster_id": "L0-aaa",
        "example_1": "I need a bus to Boston",
    },
    {"category_id": "buses", "cluster_id": "L0-bbb", "example_1": "Coach to Leeds"},
    {
        "category_id": "weather",
        "name": "Weather",
        "description": "",
        "cluster_id": "L1-ccc",
        "example_1": "Will it rain tomorrow?",
    },
]


def test_a_valid_file_merges_rows_with_one_id_and_has_a_content_version():
    taxonomy = parse_rows(GOOD, "t.csv")
    buses = taxonomy.categories["buses"]
    assert buses.cluster_ids == ("L0-aaa", "L0-bbb") and buses.rows == (2, 3)
    assert buses.examples == ("I need a bus to Boston", "Coach to Leeds")
    assert taxonomy.leaves() == ["buses", "weather"]
    assert (taxonomy.level("travel"), taxonomy.level("buses")) == (1, 0)
    # row order does not change the version; content does
    assert parse_rows(list(reversed(GOOD[:1])) + GOOD[1:], "x").version == taxonomy.version
    renamed = [dict(r) for r in GOOD]
    renamed[3]["name"] = "Forecasts"
    assert parse_rows(renamed, "x").version != taxonomy.version
    # discovered clusters map to the leaf naming them or their nearest ancestor
    parents = {"L0-aaa": "L1-x", "L0-bbb": "L1-x", "L0-ddd": "L1-ccc", "L1-ccc": None}
    assert taxonomy.label_of_cluster(parents) == {
        "L0-aaa": "buses",
        "L0-bbb": "buses",
        "L0-ddd": "weather",
        "L1-ccc": "weather",
    }


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            {4: {"parent_id": "nowhere"}},
            "row 4 (category_id 'weather'), field parent_id: unknown parent 'nowhere'",
        ),
        (
            {3: {"name": "Coaches"}},
            "row 3 (category_id 'buses'), field name: duplicate id 'buses' (first on row 2)",
        ),
        (
            {4: {"cluster_id": "L0-aaa"}},
            "row 4 (category_id 'weather'), field cluster_id: duplicate id 'L0-aaa', "
            "already on row 2",
        ),
        (
            {4: {"example_1": ""}},
            "row 4 (category_id 'weather'), field description: category 'weather' has no "
            "description and no examples",
        ),
        ({4: {"category_id": "Other"}}, "row 4 (category_id 'Other'), field category_id"),
        ({2: {"category_id": ""}}, "row 2, field category_id: empty"),
        ({1: {"parent_id": "buses"}}, "field parent_id: parents form a cycle"),
        ({1: {"descripton": "typo"}}, "unknown column(s) descripton"),
    ],
)
def test_validation_names_the_row_and_the_field(edit, expected):
    rows = [dict(r) for r in GOOD]
    for n, change in edit.items():
        rows[n - 1].update(change)
    with pytest.raises(TaxonomyError) as caught:
        parse_rows(rows, "my_taxonomy.csv")
    assert "my_taxonomy.csv" in str(caught.value)
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_csv_and_yaml_files_round_trip_and_the_cli_validates(tmp_path: Path):
    rows = [
        {
            "category_id": "buses",
            "name": "Bus tickets",
            "description": "Book a bus",
            "parent_id": None,
            "cluster_id": "L0-aaa",
            "examples": ["a, with comma", 'b "quoted"'],
        }
    ]
    for name in ("t.csv", "t.yml"):
        write_file(rows, tmp_path / name)
        assert read_file(tmp_path / name).categories["buses"].examples == (
            "a, with comma",
            'b "quoted"',
        )
    from kura_dbt.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["taxonomy", "validate", str(tmp_path / "t.csv")])
    assert ok.exit_code == 0 and "1 category " in ok.output
    with (tmp_path / "bad.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category_id", "name", "description", "parent_id"])
        writer.writerow(["a", "A", "an a", "zzz"])
        writer.writerow(["b", "B", "", ""])
    bad = runner.invoke(app, ["taxonomy", "validate", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 1
    assert "row 2 (category_id 'a'), field parent_id: unknown parent 'zzz'" in bad.output
    assert "row 3 (category_id 'b'), field description" in bad.output


def _blobs(n_per: int, seed: int, k: int = 4, spread: float = 0.35):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 32))
    X = np.concatenate([c + spread * rng.normal(size=(n_per, 32)) for c in centres])
    y = [f"c{i}" for i in range(k) for _ in range(n_per)]
    return X.astype(np.float32), y, centres


def _training(X, y) -> TrainingSet:
    ids = sorted(set(y))
    return TrainingSet(
        [LeafCategory(c, c, f"category {c}", []) for c in ids],
        [f"t{i}" for i in range(len(y))],
        list(y),
        X,
        [False] * len(y),
    )


def test_local_classifier_learns_calibrates_and_abstains():
    X, y, centres = _blobs(60, 0)
    classifier = LocalClassifier(min_confidence=0.8, seed=1).fit(_training(X, y))
    X_test, y_test, _ = _blobs(30, 0)
    predictions = classifier.classify([Item(str(i), "", v) for i, v in enumerate(X_test)])
    accuracy = np.mean([p.category_id == t for p, t in zip(predictions, y_test, strict=True)])
    assert accuracy > 0.95
    assert all(0.8 <= p.confidence <= 1 for p in predictions if p.category_id != OTHER)
    # on the way from one category to another: somewhere doubtful, so `other`, with the best
    # guess kept
    path = [
        ((1 - w) * centres[0] + w * centres[1]).astype(np.float32) for w in np.linspace(0, 1, 201)
    ]
    walked = classifier.classify([Item(str(i), "", v) for i, v in enumerate(path)])
    assert walked[0].category_id == "c0" and walked[-1].category_id == "c1"
    doubtful = [p for p in walked if p.category_id == OTHER]
    assert doubtful and all(p.note == "abstained" and p.confidence < 0.8 for p in doubtful)
    assert {p.nearest_category_id for p in doubtful} <= {"c0", "c1"}
    with pytest.raises(ValueError, match="kura__classifier_min_confidence"):
        LocalClassifier(min_confidence=1.5)


def test_temperature_scaling_fixes_overconfident_scores():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, size=2000)
    scores = rng.normal(size=(2000, 3))
    scores[np.arange(2000), truth] += 1.0
    # the right class wins about 2/3 of the time, but the scores claim near-certainty
    overconfident = scores * 20
    t = fit_temperature(overconfident, truth)
    assert t > 5
    calibrated = np.exp(overconfident / t)
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    top = calibrated.max(axis=1)
    right = calibrated.argmax(axis=1) == truth
    assert abs(top.mean() - right.mean()) < 0.05  # confidence matches accuracy


def test_evaluation_holds_out_members_and_reports_confusions():
    X, y, _ = _blobs(40, 5, k=3, spread=0.9)
    training = _training(X, y)
    rows, usage = evaluate(lambda: LocalClassifier(0.0, seed=2), training, 0.25, seed=4)
    assert usage["llm_calls"] == 0
    assert {r["category_id"] for r in rows} == {"c0", "c1", "c2"}
    assert all(r["support"] == 10 and r["train_size"] == 30 for r in rows)
    assert all(0 <= r["recall"] <= 1 for r in rows)
    table = metrics(["a", "a", "a", "b"], ["a", "b", OTHER, "b"], ["a", "b"], ["a", "b"])
    a, b = table
    assert (a["precision"], a["recall"], a["support"]) == (1.0, 1 / 3, 3)
    assert (b["precision"], b["recall"]) == (0.5, 1.0)
    assert a["most_confused_with"] == "b" and a["confused_count"] == 1  # b before other
    assert a["abstained"] == 1 and a["accuracy"] == 0.5


CATEGORIES = [
    LeafCategory("buses", "Bus tickets", "Find and book bus journeys", ["I need a bus to Boston"]),
    LeafCategory("weather", "Weather", "Check the weather forecast", ["Weather tomorrow?"]),
]


def test_llm_classifier_batches_validates_reasks_and_falls_back_to_other():
    from tests.python.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        settings = LLMSettings(
            model="test-model",
            base_url=server.base_url,
            max_retries=2,
            backoff_base_s=0.01,
            max_validation_retries=1,
        )
        classifier = LLMClassifier(settings, batch_size=2)
        classifier.fit(TrainingSet(CATEGORIES, ["coach journey booking"], ["buses"], None, [False]))
        assert "coach journey booking" in classifier.categories[0].examples  # member as a shot
        items = [
            Item("a", "book a bus journey please"),
            Item("b", "weather forecast for Paris"),
            Item("c", "tell me a joke"),
            Item("d", "[[invalid-category]] a bus journey"),
            Item("e", "[[500-once]] weather forecast"),
            Item("g", "a bus journey"),
            Item("f", "[[500-always]] weather forecast"),
        ]
        predictions = classifier.classify(items)
        requests = len(server.requests)
    by_id = {i.conversation_id: p for i, p in zip(items, predictions, strict=True)}
    assert by_id["a"].category_id == "buses" and by_id["b"].category_id == "weather"
    assert by_id["c"].category_id == OTHER and by_id["c"].note == "answered other"
    # an id that is not on the list: re-asked (that conversation only), then `other`
    assert by_id["d"].category_id == OTHER and by_id["d"].note == "invalid answer"
    assert by_id["d"].error is None
    # a fault that passes on retry is retried; one that persists is an error (retried next run)
    assert by_id["e"].category_id == "weather" and by_id["e"].error is None
    assert by_id["g"].category_id == "buses"
    assert by_id["f"].category_id is None and "500" in by_id["f"].error
    # every HTTP request is counted once, on the first conversation of its batch
    assert sum(p.llm_calls for p in predictions) == requests
    # 4 batches (one of them retried once, one three times) + 1 re-ask of `d`
    assert requests == 4 + 1 + 2 + 1
    assert by_id["f"].llm_calls == 3


def test_classifiers_are_chosen_by_var():
    assert CLASSIFIERS.names() == ["cortex", "local", "openai"]
    settings = Settings.from_config({"classifier": "openai", "classifier_batch_size": "4"})
    built = CLASSIFIERS.build(settings.classifier, settings)
    assert isinstance(built, LLMClassifier) and built.batch_size == 4
    with pytest.raises(ValueError, match="kura__classifier"):
        CLASSIFIERS.build("ai_classify", settings)
    cortex = CLASSIFIERS.build("cortex", settings)  # reads int_kura__cortex_classifications
    assert (cortex.name, cortex.model, cortex.needs_vectors) == ("cortex", "ai_classify", False)
    with pytest.raises(ValueError, match="int_kura__cortex_classifications"):
        cortex.bind(SimpleNamespace(views={}))


def test_the_cli_starts_without_the_heavy_libraries_and_exports_the_format_s_examples():
    """`kura --help` and the commands that do not need them load neither scikit-learn nor pandas
    (the taxonomy command imports the pinned format only when it runs); its default number of
    examples is the format's."""
    import inspect
    import subprocess
    import sys

    from kura_dbt.commands.taxonomy import export
    from kura_dbt.taxonomy.pinned import EXAMPLES_IN_EXPORT

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, kura_dbt.cli; "
            "print(sorted(m for m in ('sklearn', 'pandas', 'duckdb', 'torch') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"
    assert inspect.signature(export).parameters["examples"].default == EXAMPLES_IN_EXPORT


def test_pending_classifications_keep_labels_and_parked_rows_and_follow_the_classifier():
    """The pending query (kura_dbt.sql.pending_classifications) on a real DuckDB state: a
    labelled row stays whatever the classifier, another classifier's or version's row is
    classified again, a failed one is retried with its attempts until it is parked; a model
    name with a quote is compared as a literal."""
    import duckdb

    from kura_dbt import sql

    con = duckdb.connect()
    con.execute(
        "create table inputs as select 'c' || i as conversation_id, 'h' || i as text_hash, "
        "'minilm' as embedding_model, null as embedding, 'text' as text from range(1, 8) t(i)"
    )
    con.execute(
        "create table state (state_key varchar, record_type varchar, taxonomy_version varchar, "
        "text_hash varchar, embedding_model varchar, classifier varchar, "
        "classifier_model varchar, status varchar, error varchar, attempts int, gave_up bool)"
    )
    mine = ("openai", "o'model")
    rows = [  # c1 has none
        ("c2", "v1", "local", "lr", "labelled", None, 1, False),
        ("c3", "v1", "local", "lr", "classified", None, 1, False),
        ("c4", "v1", *mine, "classified", None, 1, False),
        ("c5", "v1", *mine, "error", "timeout", 2, False),
        ("c6", "v1", *mine, "error", "timeout", 3, True),
        ("c7", "v0", *mine, "classified", None, 1, False),
    ]
    for conv, version, name, model, status, error, attempts, gave_up in rows:
        con.execute(
            "insert into state values (?, 'conversation', ?, ?, 'minilm', ?, ?, ?, ?, ?, ?)",
            [f"conversation:{conv}", version, "h" + conv[1:], name, model, status, error]
            + [attempts, gave_up],
        )
    who = SimpleNamespace(name=mine[0], model=mine[1])
    columns = {"attempts", "gave_up"}

    def pending(state: str | None, retry_gave_up: bool = False) -> dict[str, int]:
        query = sql.pending_classifications(
            "select * from inputs", state, "conversation", "v1", who, columns, retry_gave_up
        )
        found = con.sql(query).fetchall()
        names = [d[0] for d in con.sql(query).description]
        at = names.index("previous_attempts")
        return {r[0]: r[at] for r in found}

    assert pending(None) == {f"c{i}": 0 for i in range(1, 8)}
    assert pending("state") == {"c1": 0, "c3": 0, "c5": 2, "c7": 0}
    assert pending("state", retry_gave_up=True) == {"c1": 0, "c3": 0, "c5": 2, "c6": 3, "c7": 0}
