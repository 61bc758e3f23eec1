"""Names that hold whatever the history (issue 22, item 2): a visible parent is named from its
visible children only, on every build, so that raising the privacy thresholds re-derives the
names they affect without a re-discovery, and an unchanged threshold asks the labeller
nothing."""

from __future__ import annotations

import pandas as pd

from kura_dbt.labels import ClassTfidfLabeller
from kura_dbt.taxonomy.privacy import Thresholds, measures, public_labels

HIDDEN_WORD = "xylophone"


def _clusters() -> pd.DataFrame:
    """Top T over parent P (bus tickets + a small xylophone cluster) and base C (hotels)."""
    typical = 'Most typical: "The user asks {}."'
    rows = [
        ("A", 0, "P", "Bus tickets", "bus tickets", 6, "to book a bus ticket to Boston"),
        ("B", 0, "P", "Xylophone lessons", "xylophone lessons", 2, "about lessons for Dana"),
        ("C", 0, "T", "Hotel rooms", "hotel rooms", 6, "to book a hotel room"),
        (
            "P",
            1,
            "T",
            "Bus tickets and xylophone lessons",
            "bus tickets, xylophone",
            8,
            "xylophone",
        ),
        ("T", 2, None, "Bookings and xylophone lessons", "bookings, xylophone", 14, "xylophone"),
    ]
    rows = [
        (cid, level, parent, name, f"{n} conversations about {about}. " + typical.format(quote), n)
        for cid, level, parent, name, about, n, quote in rows
    ]
    columns = ["cluster_id", "level", "parent_id", "name", "description", "size_at_discovery"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["keywords"] = "[]"
    return frame


def _membership() -> pd.DataFrame:
    bases = ["A"] * 6 + ["B"] * 2 + ["C"] * 6
    users = [f"u{i % 3}" for i in range(6)] + ["dana", "dana"] + [f"v{i}" for i in range(6)]
    return pd.DataFrame(
        {"conversation_id": [f"c{i}" for i in range(14)], "cluster_id": bases, "user_id": users}
    )


class Counting(ClassTfidfLabeller):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def label(self, *args, **kwargs):
        self.calls += 1
        return super().label(*args, **kwargs)


def _shown(frame: pd.DataFrame) -> dict[str, str]:
    out = {}
    for r in frame.itertuples():
        public = isinstance(r.public_name, str)
        name, description = (
            (r.public_name, r.public_description) if public else (r.name, r.description)
        )
        out[r.cluster_id] = f"{name} {description}"
    return out


def test_measures_count_every_level_like_the_marts():
    sizes = measures(_clusters(), _membership())
    assert sizes == {"A": (6, 3), "B": (2, 1), "C": (6, 6), "P": (8, 4), "T": (14, 10)}


def test_raising_the_thresholds_renames_the_parents_of_a_hidden_child_and_nothing_else():
    clusters, sizes = _clusters(), measures(_clusters(), _membership())
    labeller = Counting()
    low = public_labels(clusters, sizes, Thresholds(1, 1), labeller)
    assert low["public_name"].isna().all() and labeller.calls == 0  # the discovery's names

    high = public_labels(clusters, sizes, Thresholds(2, 3), labeller)  # hides B
    shown = _shown(high)
    for cid in ("P", "T"):  # visible, named from visible children only
        assert HIDDEN_WORD not in shown[cid].lower() and "dana" not in shown[cid].lower()
    assert "bus" in shown["P"].lower()
    assert high.set_index("cluster_id").loc[["A", "B", "C"], "public_name"].isna().all()
    assert labeller.calls == 2  # P, then T from P's new label

    # the next build with the same thresholds: the same keys, no call
    again = public_labels(high, sizes, Thresholds(2, 3), labeller)
    assert labeller.calls == 2
    assert _shown(again) == shown

    # the thresholds come down: the discovery's names are shown again, without a call
    back = public_labels(again, sizes, Thresholds(1, 1), labeller)
    assert back["public_name"].isna().all() and labeller.calls == 2


def test_a_visible_parent_of_hidden_children_only_names_nothing():
    clusters = _clusters()
    sizes = measures(clusters, _membership())
    sizes["A"] = (2, 1)  # A is small too: P's children are both hidden, P (8, 4) is not
    labelled = public_labels(clusters, sizes, Thresholds(2, 3), ClassTfidfLabeller())
    p = labelled.set_index("cluster_id").loc["P"]
    assert "bus" not in p["public_name"].lower() and HIDDEN_WORD not in p["public_name"].lower()
    assert p["public_description"].startswith("8 conversations in clusters each below")


def test_an_llm_labellers_public_labels_are_counted_and_held_to_the_budget_cap():
    """The public labels of an LLM labeller (the real openai client against the local fake
    server) record their calls and tokens for kura__llm_usage (stage public_labels), and run
    under the budget cap (kura__llm_max_calls): P is labelled, T's call is refused, shown
    unnamed (naming nothing) and asked for again on the next build."""
    import os
    from datetime import datetime

    from kura_dbt.budget import BUDGET_SKIP
    from kura_dbt.labels import LABELLERS
    from kura_dbt.settings import Settings
    from kura_dbt.taxonomy import public_label_stage

    from .fake_openai import FakeOpenAI

    os.environ["KURA_TEST_KEY"] = "sk-test-0123456789"
    clusters, sizes = _clusters(), measures(_clusters(), _membership())
    now = datetime(2026, 12, 7, 5, 0)
    with FakeOpenAI(api_key="sk-test-0123456789") as server:
        config = {
            "labeller": "openai",
            "llm_model": "test-model",
            "llm_base_url": server.base_url,
            "llm_api_key_env": "KURA_TEST_KEY",
            "llm_max_calls": "1",
            "progress": "false",
        }
        settings = Settings.from_config(config)
        labeller = LABELLERS.build("openai", settings)
        with public_label_stage(labeller, settings) as monitor:
            high = public_labels(clusters, sizes, Thresholds(2, 3), labeller, now)
        assert len(server.requests) == 1 and monitor is not None and monitor.capped
        rows = high.set_index("cluster_id")
        p, t = rows.loc["P"], rows.loc["T"]
        assert p["public_llm_calls"] == 1 and p["public_prompt_tokens"] > 0
        assert p["public_completion_tokens"] > 0 and p["public_label_error"] is None
        assert p["public_labelled_at"] == now and isinstance(p["public_label_key"], str)
        assert t["public_llm_calls"] == 0 and t["public_label_error"].startswith(BUDGET_SKIP)
        assert t["public_label_key"] is None  # asked for again on the next build
        assert HIDDEN_WORD not in t["public_name"].lower()
        assert rows.loc[["A", "B", "C"], "public_labelled_at"].isna().all()

        # the next build (a fresh cap): only T is asked for
        with public_label_stage(labeller, settings):
            again = public_labels(high, sizes, Thresholds(2, 3), labeller, now)
        assert len(server.requests) == 2
        assert again.set_index("cluster_id").loc["T", "public_label_error"] is None
