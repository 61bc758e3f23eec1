"""Names from the users' own requests (issue 20, item 3): a short request without its frame
is a candidate name, never one that spells out what one conversation says, and never for a
cluster of several subjects."""

import pytest

from kura_dbt.hierarchy import build_hierarchy
from kura_dbt.labels import ClassTfidfLabeller
from kura_dbt.labels.local import _Level, _request_candidates, unique_names
from kura_dbt.labels.requests import request_name, request_names
from kura_dbt.summaries.questions import spacy_pipeline
from tests.python.test_labels_local import _topic_corpus


def _asks(texts: list[str]) -> list[str]:
    return [f'The user asks: "{t}"' for t in texts]


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy_pipeline()
    assert pipeline is not None, "the local extra brings spaCy's pipeline"
    return pipeline


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("Why was my card payment declined?", "Card payment declined"),
        ("I am looking for a one-way flight, please.", "Look for a one-way flight"),
        ("I'd like to order a virtual card", "Order a virtual card"),
        ("Can you help me find a hotel?", "Find a hotel"),
        ("My card has not arrived yet.", "Card has not arrived"),
        ("I need event tickets", "Event tickets"),
        # an LLM's summary names the parties: "The user asks the assistant to ..."
        ("The user asks the assistant to book a hotel in Paris.", "Book a hotel in Paris"),
        ("The user asks for help debugging a Python script.", "Debug a Python script"),
        ("I think my card was stolen", "Card was stolen"),
        ("Finding a hotel near Reno", "Find a hotel near Reno"),
        # a question read as a statement: a perfect's "been" goes with its "has"
        ("Why has my top up been reverted?", "Top up reverted"),
        ("Has my transfer been sent?", "Transfer sent"),
        ("My card has been stolen", "Card has been stolen"),
        ("I wanna watch a movie", "Watch a movie"),
        # no name: one word left, more than five, a question of degree, a redaction marker
        ("I need a bus", None),
        ("Hi!", None),
        ("Write a short poem about the sea", None),
        ("How long does a transfer take?", None),
        # a question's word order, which no statement keeps
        ("Which countries do you support?", None),
        ("What happens once my card expires?", None),
        ("Apple Pay, do you support it?", None),
        ("Send money to [NAME]", None),
        ("Charged charged twice", None),
    ],
)
def test_a_request_without_its_frame(nlp, sentence, name):
    assert request_name(nlp(sentence)) == name


def test_no_request_names_without_a_pipeline():
    assert request_names([_asks(["Order a virtual card"])], None) == [[]]


THERAPIST = _asks(
    [
        "I'd like to find a therapist",
        "Can you help me find a therapist?",
        "Find a therapist near me",
        "I need to find a therapist in Oakland",
        "I want a therapist appointment next week",
        "Looking for a therapist for my son",
        "Could you find me a therapist?",
        "Is there a therapist in Berkeley?",
    ]
)
RESTAURANT = _asks(
    [
        "Find a restaurant for dinner",
        "Can you find me a restaurant in Napa?",
        "I'd like to find a restaurant that serves sushi",
        "Book a table at a restaurant",
        "Restaurant with outdoor seating",
        "Any vegan restaurant in town?",
    ]
)
HOTEL = _asks(
    [
        "Find a hotel in Paris",
        "I need a hotel for three nights",
        "Can you book a hotel room?",
        "Hotel with a pool near the beach",
        "Find me a cheap hotel",
    ]
)


def test_a_cluster_is_named_by_its_users_request():
    """Its phrase alone is "Therapist" (before this change); its users ask to find one."""
    clusters = [THERAPIST, RESTAURANT, HOTEL]
    labels = ClassTfidfLabeller().label(
        clusters, [c[0] for c in clusters], [len(c) for c in clusters]
    )
    assert labels[0].name == "Find a therapist", labels
    assert labels[0].keywords[0] == "therapist", labels[0]


def _candidates(clusters: list[list[str]], c: int, least: int) -> list[str]:
    labeller = ClassTfidfLabeller()
    level = labeller._member_level(clusters)
    picked = labeller._pick_member_phrases(level, c)
    asked = request_names(clusters, spacy_pipeline())[c]
    return [text for _, text in _request_candidates(level, c, picked, asked, clusters[c], least)]


def test_a_request_never_names_with_a_word_of_one_conversation():
    """Each city is in one request: "Find a therapist in Oakland" is no candidate, though it
    would be if one conversation were enough."""
    cities = ("Oakland", "Fresno", "Napa", "Reno", "Davis", "Chico")
    cluster = _asks([f"Find a therapist in {city}" for city in cities] + ["Find a therapist"])
    clusters = [cluster, HOTEL]
    offered = _candidates(clusters, 0, least=2)
    assert [text.casefold() for text in offered] == ["find a therapist"], offered
    assert any("Oakland" in text for text in _candidates(clusters, 0, least=1))


def test_one_request_of_several_subjects_does_not_name_them():
    """A parent of several subjects (the demo's "Apartment, car, bus") keeps its list: one
    subject's request ("Find a rental car") speaks for too few of its conversations, though
    it names a cluster of that subject alone."""
    cars = _asks(["Find a rental car in Fresno", "Rent a car", "Find a rental car"])
    buses = _asks(["Find a bus to Reno", "Bus tickets for two", "Book a bus seat"])
    flats = _asks(["Find an apartment", "Apartment with two bedrooms", "Rent an apartment"])
    hotels = _asks(["Find a hotel in Reno", "Hotel with a pool", "Book a hotel room"])
    mixed = cars + buses + flats + hotels
    assert _candidates([mixed, THERAPIST], 0, least=2) == []
    assert "find a rental car" in _candidates([cars * 2, THERAPIST], 0, least=2)
    labels = ClassTfidfLabeller().label([mixed, THERAPIST], [mixed[0], THERAPIST[0]], [12, 8])
    assert labels[0].name == "Apartment, bus, car", labels[0]


def test_a_parent_is_named_by_its_subjects_not_by_a_request():
    """A parent groups several activities: the hierarchy tells the labeller it names one
    (``parents=True``), which then offers no request ("Find a therapist" names the base
    cluster, "Therapist" the parent of the same conversations)."""
    clusters = [THERAPIST, RESTAURANT, HOTEL]
    args = (clusters, [c[0] for c in clusters], [len(c) for c in clusters])
    assert ClassTfidfLabeller().label(*args)[0].name == "Find a therapist"
    assert ClassTfidfLabeller().label(*args, parents=True)[0].name == "Therapist"

    seen: list[bool] = []

    class Recording(ClassTfidfLabeller):
        def label(self, *args, parents=False, **kwargs):
            seen.append(parents)
            return super().label(*args, parents=parents, **kwargs)

    X, labels, texts = _topic_corpus()
    build_hierarchy(X, labels, texts, ["u"] * len(labels), max_top=3, labeller=Recording())
    assert seen[0] is False and set(seen[1:]) == {True}, seen


def test_names_are_unique_by_what_they_say():
    """Two names that hold the same phrase ("work") but say different things are not a clash:
    banking77's "Virtual card won't work" was "Virtual card won't work, virtual card"."""
    work, virtual, card = ("work",), ("virtual", "card"), ("card",)
    level = _Level(
        weight=[{work: 0.9, virtual: 1.0, card: 1.0}, {work: 0.9, card: 1.0}],
        eligible=[{work, virtual, card}, {work, card}],
        surface={work: "work", virtual: "virtual card", card: "card"},
        words={work: frozenset({"work"}), virtual: frozenset(virtual), card: frozenset(card)},
    )
    heads = [(1, "virtual card won't work"), (1, "card won't work")]
    names, _ = unique_names([[work], [work]], ["", ""], level, heads)
    assert names == ["Virtual card won't work", "Card won't work"]
    # the same words are a clash, told apart by what one cluster uses more than the other
    names, _ = unique_names([[work], [work]], ["", ""], level, [(1, "work"), (1, "work")])
    assert names == ["Work, virtual card", "Work"]


def test_twins_are_told_apart_by_a_subject_not_a_verb():
    """Two clusters that would share a name each take a phrase the other uses less; with their
    texts, the first of the most distinctive that is one word naming a subject (a longer one
    makes a long name). SGD's "Attractions to visit, check" (from "check in") is "Attractions
    to visit, trip" now."""
    attraction, check, museum, trip = ("attraction",), ("check",), ("museum",), ("trip",)
    tickets = ("museum", "ticket")
    keys = (attraction, check, museum, trip, tickets)
    level = _Level(
        weight=[
            {attraction: 1.0, check: 0.6, tickets: 0.5, museum: 0.4},
            {attraction: 1.0, trip: 0.3},
        ],
        eligible=[{attraction, check, tickets, museum}, {attraction, trip}],
        surface={k: " ".join(k) for k in keys}
        | {attraction: "attractions", tickets: "museum tickets"},
        words={k: frozenset(k) for k in keys},
    )
    texts = [
        [
            'The user asks: "Find attractions to visit. I want to check in on Friday."',
            'The user asks: "Any attractions near the museum? I will check in later."',
            'The user asks: "I must check in today. Are museum tickets cheap?"',
        ],
        ['The user asks: "Attractions for my trip?"'] * 2,
    ]
    names, _ = unique_names([[attraction], [attraction]], ["", ""], level, None, texts)
    assert names == ["Attractions, museum", "Attractions, trip"], names
    # without the texts, the most distinctive phrase, whatever it is
    names, _ = unique_names([[attraction], [attraction]], ["", ""], level)
    assert names == ["Attractions, check", "Attractions, trip"], names
