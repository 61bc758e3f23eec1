"""The local labeller: short phrases from the clusters' own words, readable and unique."""

import re

import numpy as np

from kura_dbt.hierarchy import build_hierarchy
from kura_dbt.labels import ClassTfidfLabeller, ClusterLabel
from kura_dbt.labels.base import unique_sibling_names
from kura_dbt.labels.local import (
    MONTHS,
    PHRASE_EDGE_WORDS,
    STOP_WORDS,
    WEEKDAYS,
    is_substantive,
)
from kura_dbt.summaries._data import load
from kura_dbt.summaries.english import EN_STOP, FUNCTION_WORDS


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text.casefold())


def _label(clusters: list[list[str]], **kwargs) -> list[ClusterLabel]:
    return ClassTfidfLabeller(**kwargs).label(
        clusters, [texts[0] for texts in clusters], [len(t) for t in clusters]
    )


def _all_words(label: ClusterLabel) -> list[str]:
    return _words(label.name) + [w for k in label.keywords for w in _words(k)]


def test_months_weekdays_numbers_and_filler_never_name_a_cluster():
    days = ["Monday", "Friday", "Sunday", "Tuesday"]
    months = ["March", "May", "June", "March"]
    bus = [
        f"The user needs help with a bus ticket to Fresno on {d} the 3rd of {m}, please. "
        f"Follow-up: They want 2 seats."
        for d, m in zip(days, months, strict=True)
    ]
    hotel = [
        f"The user asks the assistant to help find a hotel room in Napa on {d} 12 {m}. "
        f"Follow-up: They need it please."
        for d, m in zip(days, months, strict=True)
    ]
    alarm = [
        f"The user wants to set an alarm for {d} in {m} at 7am. They need help, please."
        for d, m in zip(days, months, strict=True)
    ]
    labels = _label([bus, hotel, alarm])
    banned = {w.lower() for w in MONTHS | WEEKDAYS} | {
        "help", "want", "wants", "need", "needs", "please", "user", "asks", "assistant",
        "question", "follow-up", "3rd", "12", "2", "7am", "seats",
    }  # fmt: skip
    for label in labels:
        assert label.name and label.keywords
        assert not set(_all_words(label)) & (banned - {"seats"}), label
        assert not any(w.isdigit() for w in _all_words(label))
    assert "bus" in _words(labels[0].name)
    assert "hotel" in _words(labels[1].name)
    assert "alarm" in _words(labels[2].name)


def test_a_filler_word_names_a_cluster_when_it_defines_it():
    thanks = ["Thanks a lot!", "thanks, that was it", "Many thanks", "thanks again"]
    other = [
        "The user asks about a rental car in Fresno.",
        "The user wants a rental car at the airport.",
        "A rental car for two days.",
    ]
    labels = _label([thanks, other])
    assert labels[0].name == "Thanks"
    assert labels[1].name == "Rental car"


def test_no_word_twice_no_stutter_and_short_phrases():
    curie = [
        "Curie curie discovered radium and polonium",
        "Marie Curie curie won two Nobel prizes",
        "Curie and radium research, curie curie",
    ]
    trained = [
        "A model trained trained on text data",
        "How is a language model trained trained?",
        "Trained trained model on a language dataset",
    ]
    labels = _label([curie, trained])
    for label in labels:
        name_words = [w for w in _words(label.name)]
        assert len(name_words) == len(set(name_words)), label.name  # no repeated word
        assert len(name_words) <= 4
        for phrase in label.keywords:
            assert 1 <= len(_words(phrase)) <= 3
        keyword_words = [w for k in label.keywords for w in _words(k)]
        assert len(keyword_words) == len(set(keyword_words)), label.keywords  # diverse
    assert "curie" in _words(labels[0].name)
    assert "curie curie" not in labels[0].name.casefold()
    assert "trained trained" not in labels[1].name.casefold()


def test_phrases_are_preferred_to_their_words_and_plurals_fold():
    cars = [
        "The user needs a rental car in Phoenix.",
        "Find a rental car for Friday.",
        "A rental car, medium-sized, from the airport.",
        "Rental cars near LAX.",
    ]
    movies = ["Watch a movie tonight", "A horror movie to watch", "Movies with Tom Hanks"]
    labels = _label([cars, movies])
    assert labels[0].name == "Rental car"
    # "movies" and "movie" are one word
    assert "movie" in labels[1].keywords and "movies" not in labels[1].keywords


def test_sibling_names_are_unique_on_a_templated_set():
    """Templated conversations: two clusters share their vocabulary ("Microsoft APIs") and
    differ by one product; each gets its next distinctive phrase."""
    template = "The user asks how to call the Microsoft APIs for {p} with {q} from their app."
    teams = [template.format(p="Teams", q=q) for q in ("chat", "channels", "chat", "meetings")]
    outlook = [template.format(p="Outlook", q=q) for q in ("mail", "calendar", "mail", "mail")]
    graph = [
        "The user asks about the weather in Oslo.",
        "The user asks: weather tomorrow in Oslo?",
        "Weather forecast for Bergen.",
    ]
    labels = _label([teams, outlook, teams[:3] + outlook[:1], graph])
    # unique even as sets of words ("Teams, chat" and "Chat, Teams" would be one name)
    names = [frozenset(_words(label.name)) for label in labels]
    assert len(set(names)) == len(names), [label.name for label in labels]
    assert "teams" in _words(labels[0].name)
    assert "outlook" in _words(labels[1].name)
    assert "weather" in _words(labels[3].name)
    # two clusters with nothing to tell them apart are numbered, in order
    same = _label([teams, teams])
    assert [label.name for label in same] == [same[0].name, f"{same[0].name} (2)"]


def test_unique_sibling_names_across_levels():
    labels = {
        "L0-0000": ClusterLabel("Microsoft APIs", "", ["Microsoft APIs", "Teams", "chat"]),
        "L0-0001": ClusterLabel("Microsoft APIs", "", ["Microsoft APIs", "Outlook", "mail"]),
        "L1-0000": ClusterLabel("Microsoft APIs", "", ["Microsoft APIs"]),
        "L0-0002": ClusterLabel("Weather", "", ["weather"]),
        "L0-0003": ClusterLabel("Weather", "", ["weather"]),
    }
    parent_of = {"L0-0000": "L2-0000", "L0-0001": "L2-0000", "L1-0000": "L2-0000"}
    changed = unique_sibling_names(labels, parent_of)
    names = {cid: changed.get(cid, labels[cid]).name for cid in labels}
    assert names["L0-0000"] == "Microsoft APIs, Teams"
    assert names["L0-0001"] == "Microsoft APIs, Outlook"
    assert names["L1-0000"] == "Microsoft APIs"
    assert names["L0-0002"] == "Weather"  # roots are siblings too
    assert names["L0-0003"] == "Weather (2)"
    assert unique_sibling_names({k: labels[k] for k in ("L0-0000",)}, {}) == {}


def _blobs(n_clusters: int, per_cluster: int, dim: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    X = np.concatenate([c + 0.05 * rng.normal(size=(per_cluster, dim)) for c in centres])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), np.repeat(np.arange(n_clusters), per_cluster)


TOPICS = [
    # (family, phrasings of the topic): the clusters of a family sit close together
    ("code", ["debug my Python script", "a Python script raises KeyError", "Python script slow"]),
    ("code", ["write an SQL query joining tables", "SQL query too slow", "fix this SQL query"]),
    ("code", ["a JavaScript function in React", "JavaScript function returns undefined"]),
    ("media", ["watch a horror movie with friends", "a horror movie for tonight"]),
    ("media", ["play a country song", "country song on the kitchen speaker"]),
    ("media", ["a podcast episode about history", "recommend a podcast episode"]),
    ("travel", ["book a one way flight to Chicago", "one way flight from Denver"]),
    ("travel", ["reserve a rental car at the airport", "rental car until Friday"]),
    ("travel", ["call a cab to the station", "a cab for two people"]),
]


def _topic_corpus(per_cluster: int = 12):
    rng = np.random.default_rng(7)
    families = sorted({f for f, _ in TOPICS})
    dim = 24
    fam_centre = {f: rng.normal(size=dim) * 3 for f in families}
    X, labels, texts = [], [], []
    fillers = ["Follow-up: on Monday please.", "They need help in March.", "Thanks!", ""]
    for t, (family, phrasings) in enumerate(TOPICS):
        centre = fam_centre[family] + rng.normal(size=dim)
        for i in range(per_cluster):
            X.append(centre + 0.05 * rng.normal(size=dim))
            labels.append(t)
            words = phrasings[i % len(phrasings)]
            texts.append(f"The user asks the assistant to {words}. {fillers[i % len(fillers)]}")
    X = np.array(X, dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, np.array(labels), texts


def test_a_parent_is_named_from_its_own_conversations():
    X, labels, texts = _topic_corpus()
    frame = build_hierarchy(X, labels, texts, ["u"] * len(labels), max_top=3, branching=3)
    by_id = frame.set_index("cluster_id")
    parents = frame[frame["child_count"] > 0]
    assert len(parents) >= 3
    for pid, kids in frame[frame["parent_id"].notna()].groupby("parent_id"):
        parent_words = set(_words(by_id.loc[pid, "name"]))
        child_words = {w for name in kids["name"] for w in _words(name)}
        child_words |= {w for k in kids["keywords"] for w in _words(k)}
        # the parent's name speaks for its children: their phrases, found in its conversations
        assert parent_words and parent_words <= child_words, (by_id.loc[pid, "name"], kids)
        # and the children of a parent come from one family: its name uses none of the others'
        members = set(np.flatnonzero(np.isin(labels, _base_labels(frame, pid))))
        member_words = {w for i in members for w in _words(texts[i])}
        assert parent_words <= member_words
    # no two siblings (nor two roots) share a name
    siblings = frame.groupby(frame["parent_id"].fillna("root"))["name"]
    assert all(names.str.casefold().is_unique for _, names in siblings)


def _base_labels(frame, cid) -> list[int]:
    kids = frame[frame["parent_id"] == cid]
    if kids.empty:
        return [int(cid.split("-")[1])]
    return [b for k in kids["cluster_id"] for b in _base_labels(frame, k)]


def test_the_typical_example_skips_greetings_and_empty_texts():
    cluster = [
        "The user only writes: hello!",
        "No request: the user only greets, thanks or chats without asking anything.",
        "Hi",
        "",
        "thanks!!",
        'The user asks: "How do I reset my router password?"',
        "The user asks how to reset a router.",
    ]
    labeller = ClassTfidfLabeller()
    [label] = labeller.label([cluster], ["The user only writes: hello!"], [len(cluster)])
    assert 'Most typical: "The user asks: "How do I reset my router password?""' in (
        label.description
    )
    assert "hello" not in label.description
    # a parent whose most central conversation is a greeting quotes its children's examples
    child_a = ClusterLabel("Router", label.description, label.keywords)
    child_b = ClusterLabel("Printer", '3 conversations about printer. Most typical: "Hi"', [])
    [parent] = labeller.label(
        [[f"{c.name}: {c.description}" for c in (child_a, child_b)]], ["Hello there!"], [10]
    )
    assert "router password" in parent.description
    assert "Hello there" not in parent.description
    assert not is_substantive("Hello there!") and not is_substantive("   ")
    assert is_substantive("The user asks for a poem about the sea.")


def test_no_quote_when_quoting_is_off_and_version_is_new():
    labeller = ClassTfidfLabeller(quote_example=False)
    [label] = labeller.label([["a poem about the sea", "a sea poem"]], ["a poem"], [2])
    assert "Most typical" not in label.description
    assert labeller.version and labeller.version != ""
    # a parent is named from its own conversations, not from its children's names
    assert not labeller.names_from_children and not labeller.cacheable


def test_children_without_words_give_a_plain_name():
    labeller = ClassTfidfLabeller()
    children = ["Unnamed cluster: 3 conversations", "Numbers: 2 conversations about 42, a"]
    [label] = labeller.label([children], [None], [5])
    assert label.name == "Unnamed cluster" and label.keywords == []
    [empty, greeting] = labeller.label([[""], ["Hi"]], [None, "Hi"], [1, 1])
    assert empty.name == "Unnamed cluster" and "Most typical" not in greeting.description


def test_names_are_deterministic():
    X, labels, texts = _topic_corpus(8)
    a = build_hierarchy(X, labels, texts, ["u"] * len(labels), max_top=3, branching=3)
    b = build_hierarchy(X, labels, texts, ["u"] * len(labels), max_top=3, branching=3)
    assert a.equals(b)


def test_a_visible_parent_never_spells_out_a_child_below_the_privacy_threshold():
    """kura__min_cluster_conversations: a phrase that only a small child (hidden by the
    thresholds) carries never reaches its parent's name or keywords; a phrase that children
    carry together in enough conversations does."""
    children = [
        "Apartment: 20 conversations about apartment, bedrooms",
        "Restaurant: 50 conversations about restaurant, table booking",
        "Bus: 40 conversations about bus, tickets",
        "Train: 30 conversations about train, tickets",
    ]
    open_labeller = ClassTfidfLabeller()
    [before] = open_labeller.label([children], [None], [140])
    assert "apartment" in _all_words(before)  # without a threshold the small child is named
    private = ClassTfidfLabeller(min_phrase_conversations=35)
    [after] = private.label([children], [None], [140])
    words = _all_words(after)
    assert "apartment" not in words and "bedrooms" not in words
    assert "restaurant" in words and "tickets" in words  # 70 conversations together
    assert "train" not in words  # 30 < 35
    assert private.version != open_labeller.version  # other names: the cache is not reused


def test_one_list_of_function_words_for_the_labeller_and_the_summariser():
    """english.json holds the function words once; the labeller and the summariser each add
    a named list of their own to them, and neither addition repeats a function word."""
    english = load("english")
    assert "stop_words" not in english  # no second full list
    conversational = frozenset(english["conversational_words"])
    assert STOP_WORDS == FUNCTION_WORDS | PHRASE_EDGE_WORDS
    assert EN_STOP == FUNCTION_WORDS | conversational
    assert not PHRASE_EDGE_WORDS & FUNCTION_WORDS and not conversational & FUNCTION_WORDS
    assert {"the", "which", "would", "hasn't"} <= FUNCTION_WORDS


def test_names_are_phrases_as_users_write_them():
    """Issue 20, item 3: a name reads like an analyst's ("Card payment declined", "Book a
    rental car"), chosen by meaning among the cluster's phrases, not a list of its words."""
    clusters = [
        [
            'The user asks: "my card payment was declined"',
            'The user asks: "Why was my card payment declined?"',
            'The user asks: "card payment declined again at the shop"',
        ],
        [
            'The user asks: "I want to book a rental car"',
            'The user asks: "book a rental car for Friday"',
            'The user asks: "can I book a rental car at the airport"',
        ],
        ['The user asks: "what is the exchange rate"', 'The user asks: "exchange rate for euros"'],
    ]
    names = [label.name for label in _label(clusters)]
    assert names[0] in ("Card payment declined", "Card payment was declined"), names
    assert names[1] == "Book a rental car", names
    assert names[2] == "Exchange rate"
    assert not any("," in name for name in names)


def test_a_parent_lists_the_topics_of_its_own_members():
    """A parent's name comes from its own conversations: the topics that different members
    write about ("JavaScript function, Python script, SQL query"), not each child's first
    word."""
    X, labels, texts = _topic_corpus()
    frame = build_hierarchy(X, labels, texts, ["u"] * len(labels), max_top=3, branching=3)
    roots = frame[frame["parent_id"].isna()]["name"].str.casefold().tolist()
    code = next(name for name in roots if "python" in name)
    assert "python script" in code and "sql query" in code, roots


def test_redaction_markers_never_name_a_cluster():
    """[NAME], [ACCOUNT], [PHONE] ... are where a detail was removed, not what a cluster is
    about (though "account" and "phone" are topics elsewhere)."""
    refunds = [
        f"[NAME] wants a refund for order {i}, call [PHONE] or write to [EMAIL] about [ACCOUNT]"
        for i in range(12)
    ]
    hotels = [f"book a hotel room in Paris for {i} nights for [NAME]" for i in range(12)]
    for label in _label([refunds, hotels]):
        words = {w.lower() for w in _all_words(label)}
        assert not words & {"name", "phone", "email", "account"}, label


def test_a_parent_never_has_the_name_of_one_of_its_children():
    """A parent named from its own conversations can pick its largest child's phrase; it gets
    its next keyword instead (the demo: "Balance in my account" above "Balance in my account"
    and "Alarms I have set"), and the children keep theirs."""
    from kura_dbt.labels.base import ClusterLabel, distinct_from_children

    labels = {
        "L1-p": ClusterLabel("Balance in my account", "", ["balance", "account", "alarms"]),
        "L0-a": ClusterLabel("Balance in my account", "", ["balance"]),
        "L0-b": ClusterLabel("Alarms I have set", "", ["alarms"]),
        "L1-q": ClusterLabel("Weather", "", ["weather"]),
        "L0-c": ClusterLabel("weather ", "", ["weather"]),
        "L0-d": ClusterLabel("Forecast", "", ["forecast"]),
    }
    parent_of = {"L0-a": "L1-p", "L0-b": "L1-p", "L0-c": "L1-q", "L0-d": "L1-q"}
    changed = distinct_from_children(labels, parent_of)
    assert changed["L1-p"].name == "Balance in my account, alarms"
    assert changed["L1-q"].name == "Weather (and more)"  # no keyword of its own left
    assert set(changed) == {"L1-p", "L1-q"}
    assert distinct_from_children({**labels, **changed}, parent_of) == {}
    # an added keyword keeps the capitals inside it (SGD's parent "Bus" read "Bus, ca")
    bus = {
        "L1-b": ClusterLabel("Bus", "", ["bus", "CA", "Sacramento"]),
        "L0-e": ClusterLabel("Bus", "", ["bus"]),
        "L1-c": ClusterLabel("Alarms", "", ["alarms", "Reminders"]),
        "L0-f": ClusterLabel("Alarms", "", ["alarms"]),
    }
    renamed = distinct_from_children(bus, {"L0-e": "L1-b", "L0-f": "L1-c"})
    assert renamed["L1-b"].name == "Bus, CA"
    assert renamed["L1-c"].name == "Alarms, reminders"


# a cluster with no subject in common (real chat logs at the default granularity): 20
# questions on 20 subjects; no phrase speaks for 15 % of them
_SUBJECTLESS_QUESTIONS = [
    "Why does kombucha have bubbles?",
    "Who invented the honeycomb?",
    "What is a meme?",
    "When was google created?",
    "How do moths find light?",
    "What happened in Tienanmen Square?",
    "Why is the Tsugaru dialect hard?",
    "What does being creative mean in marketing?",
    "How might Nintendo games look under Disney?",
    "Is Pluto a planet?",
    "What are the dangers of central bank currencies?",
    "Why do cats purr?",
    "What is the ritual for summoning spirits?",
    "Which holidays are the most obscure?",
    "What is the history of the fork?",
    "How tall is Mount Everest?",
    "Why is the sea salty?",
    "What is the best time of year for birding?",
    "Who painted the Mona Lisa?",
    "How old is the universe?",
]
_BUS = [f"Find me a bus to {city} on Friday." for city in ("Fresno", "Sacramento", "Reno")] * 5


def _asks(texts):
    return [f'The user asks: "{t}"' for t in texts]


def test_a_cluster_with_no_subject_in_common_says_so_and_what_its_requests_do():
    genres = "poem story essay limerick haiku speech letter song toast riddle joke ballad".split()
    subjects = "rain grief spring dogs robots kings oceans mice taxes war jazz bees".split()
    writing = [f"Write a {g} about {s}." for g, s in zip(genres, subjects, strict=True)]
    writing += [f"Explain {s}." for s in ("gravity", "inflation", "DNA", "the Moon")]
    clusters = [_asks(_SUBJECTLESS_QUESTIONS), _asks(writing), _asks(_BUS)]
    labels = ClassTfidfLabeller(semantic=False).label(
        clusters, [c[0] for c in clusters], [len(c) for c in clusters]
    )
    questions, requests, bus = labels
    assert questions.name.startswith("Various questions: ")
    assert questions.description.startswith("20 conversations on various subjects")
    # 12 of 16 open with "write", each about another thing
    assert requests.name.startswith("Various requests to write"), requests.name
    assert not bus.name.startswith("Various")  # "bus" speaks for all of them


def test_a_cluster_of_a_few_subjects_lists_them_and_is_not_various():
    # each subject speaks for 4 of the 35 (11 %), three of them together for 34 %
    subjects = ("hotel", "rental car", "flight", "apartment", "taxi", "restaurant", "museum")
    cities = """Fresno Reno Boise Tulsa Omaha Tampa Austin Dallas Miami Denver Boston Chicago
    Atlanta Phoenix Seattle Portland Memphis Raleigh Orlando Detroit Houston Oakland Newark
    Albany Toledo Dayton Eugene Bangor""".split()
    texts = [
        f"I need a {s} in {cities[4 * i + n]}." for i, s in enumerate(subjects) for n in range(4)
    ]
    texts += _SUBJECTLESS_QUESTIONS[:7]
    clusters = [_asks(texts), _asks(_BUS)]
    labels = ClassTfidfLabeller(semantic=False).label(
        clusters, [c[0] for c in clusters], [len(c) for c in clusters]
    )
    assert not labels[0].name.startswith("Various"), labels[0].name


def test_a_child_with_no_subject_is_read_in_a_parents_texts():
    from kura_dbt.labels.local import _parse_children

    kids = [
        [
            "Various questions: tea, Rome: 20 conversations on various subjects, among them "
            'tea, Rome. Most typical: "Why is tea bitter?"',
            "Bus: 15 conversations about bus, ticket",
        ]
    ]
    parsed = _parse_children(kids)
    assert parsed is not None
    assert [(k.name, k.size, k.keywords) for k in parsed[0]] == [
        ("Various questions: tea, Rome", 20, ["tea", "Rome"]),
        ("Bus", 15, ["bus", "ticket"]),
    ]


def test_a_quoted_sentence_opening_does_not_capitalise_a_phrase():
    """A word capitalised only because it opens a quoted request ('The user asks: "Imagine
    ..."') is written in lower case in names and keywords; a name (OpenAssistant) read
    "Various requests: theory, Imagine"."""
    subjects = ["a tree", "a cloud", "a river", "a lighthouse", "a mountain", "a city", "a fox"]
    cluster = [f'The user asks: "Imagine you are {s}. Write a poem about it."' for s in subjects]
    other = [f'The user asks: "How do I cook {s} pasta?"' for s in ("fresh", "dry", "green")]
    label = _label([cluster, other], semantic=False)[0]
    assert "imagine" in label.keywords, label
    assert "Imagine" not in label.keywords and "Imagine" not in label.name[1:], label


def test_a_name_read_from_one_users_words_writes_each_word_as_most_users_do():
    """A name that two phrases make together is one user's span ("act like an ai"); its
    words are written as most users write them ("act like an AI")."""
    cluster = [
        'The user asks: "Can you act like an ai that lost its memory?"',
        'The user asks: "please act like an ai from the future"',
        'The user asks: "now act like an ai in a spaceship"',
        'The user asks: "Is AI dangerous? What would AI do in a spaceship?"',
        'The user asks: "What would an AI say to an AI researcher?"',
    ]
    other = [f'The user asks: "How do I cook {s} pasta?"' for s in ("fresh", "dry", "green")]
    label = _label([cluster, other])[0]
    assert " ai" not in f" {label.name}", label
    assert "AI" in label.name, label


def test_a_cluster_of_various_subjects_lists_subjects_not_verbs_or_adjectives():
    """Its examples are what the questions are about: the words most of them share here are
    a verb ("happen") and an adjective ("bad"), each in three of 23, before two subjects in
    two; OpenAssistant's read "Various requests: theory, imagine" and "Various questions:
    bad, claim"."""
    shared = [
        "What would happen if the Moon were bad cheese?",
        "What would happen to bees if flowers were bad?",
        "Would it happen that bad bees leave the Moon?",
    ]
    cluster = _asks(_SUBJECTLESS_QUESTIONS + shared)
    labels = ClassTfidfLabeller(semantic=False).label(
        [cluster, _asks(_BUS)], [cluster[0], _BUS[0]], [len(cluster), len(_BUS)]
    )
    name = labels[0].name
    assert name.startswith("Various questions: "), name
    examples = name.removeprefix("Various questions: ").split(", ")
    assert len(examples) == 2 and not {"happen", "bad"} & set(examples), name
    assert not {"happen", "bad"} & set(labels[0].keywords), labels[0]


def test_a_span_its_users_open_with_a_question_word_keeps_it():
    """A name read from the users' words keeps the question word they open it with: "How long
    does a transfer take", never "Long does a transfer take" (banking77's names before)."""
    clusters = [
        [
            'The user asks: "How long does a transfer take?"',
            'The user asks: "how long does a transfer take to arrive"',
            'The user asks: "How long does a transfer take from the UK?"',
            'The user asks: "how long will a transfer take"',
            'The user asks: "How long does a transfer usually take?"',
        ],
        [
            'The user asks: "my card payment was declined"',
            'The user asks: "Why was my card payment declined?"',
            'The user asks: "card payment declined again at the shop"',
        ],
    ]
    names = [label.name for label in _label(clusters)]
    assert "long" in names[0].casefold(), names
    assert names[0].startswith("How long"), names


def _span_heads(texts: list[str], words: tuple[str, str]) -> list[str]:
    """The names the labeller reads from its users' words (spans) for two of a cluster's
    phrases, given as they are written."""
    other = ['The user asks: "What is the weather in Paris?"'] * 3
    labeller = ClassTfidfLabeller()
    level = labeller._member_level([texts, other])
    key_of = {surface.casefold(): key for key, surface in level.surface.items()}
    chosen = [key_of[w] for w in words]
    return [head for _, head in labeller._candidates(level, chosen, texts) if head]


def test_a_span_is_found_whatever_the_number_of_its_words():
    """Two phrases are read together in any number their users write them: "event tickets"
    is found for the phrase "events" (its usual form here), and a phrase matches whole words
    only ("card" is not in "cardboard"). Before, the usual form was searched as a prefix, so
    SGD's 40 conversations asking for event tickets were named "Tickets"."""
    tickets = [
        'The user asks: "Are there any events this weekend?"',
        'The user asks: "Which events are on near me?"',
        'The user asks: "Find events in Berlin."',
        'The user asks: "Get me three event tickets."',
        'The user asks: "I want two event tickets."',
    ]
    heads = [h.casefold() for h in _span_heads(tickets, ("events", "tickets"))]
    assert "event tickets" in heads, heads
    boxes = [
        'The user asks: "My card arrived in a cardboard box."',
        'The user asks: "The cardboard box of my card was open."',
        'The user asks: "Is my card box real?"',
    ]
    heads = [h.casefold() for h in _span_heads(boxes, ("card", "box"))]
    assert "card box" in heads and not any("cardboard" in h for h in heads), heads


def test_a_span_in_a_questions_word_order_keeps_its_question_word_or_names_nothing():
    """A span most of its users open with a question word keeps the commonest one, counting
    them all ("which" and "what" together); a span in a question's word order that most of them
    do not open so is no name ("Countries do you support", banking77 before)."""
    asked = [
        'The user asks: "Which countries do you support?"',
        'The user asks: "Which countries do you support for transfers?"',
        'The user asks: "What countries do you support?"',
        'The user asks: "Countries do you support?"',
    ]
    heads = [h.casefold() for h in _span_heads(asked, ("countries", "support"))]
    assert heads == ["which countries do you support"], heads
    bare = [
        'The user asks: "countries do you support"',
        'The user asks: "Countries do you support now?"',
        'The user asks: "countries do you support, please"',
        'The user asks: "Which countries do you support?"',
    ]
    heads = _span_heads(bare, ("countries", "support"))
    assert heads == [], heads
