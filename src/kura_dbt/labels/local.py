"""Local cluster labeller: short names an analyst can read, made of the clusters' own words.

A base cluster is named with one or two phrases (1 to 4 words) cut out of its own summaries and
scored class-TF-IDF style: a phrase scores high when many of the cluster's conversations use it
and few of the other clusters' (its siblings') do. The phrases of a name never repeat a word,
and dates, months, weekdays, bare numbers and conversational filler ("help", "user", "asks",
...) never name a cluster unless they define it (most of its conversations use the word and
the other clusters hardly do). With the shipped embedding model installed, the name is then
chosen by meaning (:mod:`kura_dbt.labels.semantic`): among those phrases, two of them as a
user wrote them together ("Card payment was declined", "Book a rental car") and lists of
phrases that different conversations use, the candidate nearest the cluster's centroid and
farthest from its siblings'. A parent is named the same way from its own conversations
(``names_from_children`` is off), so its name lists the topics its members write about. (The
children's "name: description" texts are still understood, for callers that pass them: then
a parent is named from its children's phrases, weighted by their sizes.) A cluster with
no subject in common (no phrase speaks for 15 % of its conversations, nor its best three for
30 %: on real chat logs, groups of unrelated questions) does not take the phrase nearest its
vague centroid ("Innovation" for 60 questions, few of which say it): its name says what its
requests do and lists two of its phrases as examples ("Various questions: Japanese,
alphabet"; "Various requests to write: ..."), and its description says "on various subjects".
Names are unique
within a level (so among siblings): clusters that would share a name get their next
distinctive phrase. The description quotes the cluster's most central conversation that says
something (never a greeting or an empty summary): the medoid, the conversation nearest all the
others by cosine similarity (the hierarchy orders a cluster's texts by their similarity to the
mean of its unit vectors, the same order as their summed similarity to the members). Nothing
is invented, and nothing is fetched.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from kura_dbt.labels.base import ClusterLabel, Labeller
from kura_dbt.labels.requests import request_names
from kura_dbt.labels.semantic import (
    Embed,
    best_candidates,
    cluster_vectors,
    local_embedder,
    user_words,
)
from kura_dbt.summaries.english import (
    AUXILIARIES,
    FUNCTION_WORDS,
    SUBJECT_PRONOUNS,
    request_form,
)
from kura_dbt.summaries.text import split_sentences

Key = tuple[str, ...]  # a phrase: its words, plural folded to singular

# Never the first or last word of a phrase: the function words that the summariser shares
# (kura_dbt/summaries/data/english.json), plus these. The summariser keeps them inside its key
# phrases, where they carry a request's detail ("a rental car around 1:30", "till the 12th");
# a name is a topic, and no topic starts or ends with one. (The summariser's conversational
# stop words are not stop words here; most, "help", "please", "today", ..., are FILLER_WORDS
# or TIME_WORDS, which may name a cluster that they define.)
PHRASE_EDGE_WORDS = frozenset(
    """
    almost along among another anybody anyway anywhere around became become cannot done
    either enough etc every everyone he's however least less mine neither onto others
    otherwise per perhaps quite rather several she's somehow somewhere they'd they'll
    they're they've thus till toward towards upon via whatever whenever wherever whoever
    whole within without yet you'd you'll
    """.split()
)
STOP_WORDS = FUNCTION_WORDS | PHRASE_EDGE_WORDS

# Allowed inside a three-word phrase ("book a table", "bus to Sacramento", "bank of ...").
CONNECTORS = frozenset("a an the of and for to in on with from at by".split())
# Conversational filler: it names a cluster only if it defines it (see ``_defines``).
# The summaries' own template ("The user asks the assistant to ... Follow-up: ..."): never a
# name, whatever the cluster.
TEMPLATE_WORDS = frozenset(
    """
    user users user's assistant assistants ask asks asked asking follow-up writes wrote
    pastes pasted
    """.split()
)
FILLER_WORDS = frozenset(
    """
    question questions answer answers
    help helps helped helping want wants wanted wanting need needs needed needing please
    like likes liked would could know knows tell tells told find finds finding found look
    looks looking looked search searching searched thanks thank hi hello hey okay ok yes sure
    really something anything thing things stuff way able think thinks thought sounds fine
    right good great nice new use uses using used make makes making made get gets getting got
    give gives giving show shows showing let lets go goes going went try tries trying tried
    follow-up follow writes write wrote written say says said wonder wondering wondered
    interested explain explains describe describes provide provides generate generates
    create creates list lists also just maybe kind sort lot lots bit number example examples
    based including include includes seem seems etc regarding related
    specific specifically particular certain possible different available best better
    generally usually actually basically currently typically normally recently exactly
    probably especially simply truly definitely literally honestly mostly mainly overall
    wanna gonna gotta lemme gimme
    """.split()
)
MONTHS = frozenset(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
WEEKDAYS = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri sat sun weekday weekdays weekend weekends
    """.split()
)
TIME_WORDS = frozenset(
    """
    today tomorrow tonight yesterday morning afternoon evening night noon midnight day days
    week weeks month months year years date dates time times hour hours minute minutes
    o'clock next last later soon early late daily weekly monthly
    """.split()
)
# Numbers in words, ordinals, "am" and "pm": like digits, never a name.
NUMBER_WORDS = frozenset(
    """
    am pm zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred thousand million billion half quarter dozen couple
    first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth
    thirtieth
    """.split()
)
SOFT_WORDS = FILLER_WORDS | TIME_WORDS
NEVER_WORDS = TEMPLATE_WORDS | MONTHS | WEEKDAYS | NUMBER_WORDS
# The question words that open what they ask about ("how long", "which countries")
QUESTION_WORDS = ("how", "which", "what", "whose")
# Words of a text that says nothing: a greeting, thanks, a test.
GREETING_WORDS = frozenset(
    """
    hi hello hey hiya howdy yo greetings greet greets greeted greeting good morning afternoon
    evening night day thanks thank thx ty bye goodbye cheers ok okay yes no yeah yep nope
    sure cool nice great lol haha hmm test testing only writes wrote sends says text message
    """.split()
)
# A number, an ordinal or a time of day ("42", "3rd", "1,200", "5pm"): never a name.
# the markers redaction leaves ([EMAIL], [PHONE], [NAME], [ADDRESS], [ACCOUNT], ...): never a
# name's word, even where the word is ("account", "card" and "phone" are topics)
_REDACTION_MARKER = re.compile(r"\[[A-Z][A-Z_ ]*\]")
_NUMBER = re.compile(r"^\d[\d,.'’]*(?:st|nd|rd|th|s|am|pm|k|m|h|x)?$")
_TOKEN = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
# where a phrase cannot run across: sentence and clause punctuation, brackets, quotes
_SENTENCE = re.compile(r"(?:[.!?:]+(?=\s|$)|\n)\s*")
_CLAUSE = re.compile(r"[.!?;:,()\[\]{}\"“”«»…|/\\<>=*#]+|\s[-–—]+\s|\n")
# a summary that says the user asked nothing (the local summariser's greeting_only summaries)
_CONTENT_FREE = re.compile(
    r"^\s*(?:no request\s*:|the user only (?:writes|says|sends|greets)\b)", re.IGNORECASE
)

_TEMPLATE_OPENING = re.compile(
    r"^\s*the user (?:asks the assistant to|asks|wants to|wants|needs to|needs|would like to)"
    r"\b:?\s*",
    re.IGNORECASE,
)

DESCRIPTION_TYPICAL = "Most typical"
# A cluster none of whose phrases (but filler and time words) is used by this share of its
# conversations has no subject in common (real chat logs: 350 OpenAssistant prompts at the
# default granularity; on banking77 and SGD no cluster is below it, benchmarks/name_quality.py):
# its name says so, and what its requests do ("Various questions: ..."), before its phrases.
DIFFUSE_COVERAGE = 0.15
QUESTION_SHARE = 0.5  # "Various questions" when at least this share are questions
VERB_SHARE = 0.3  # "Various requests to write" when this share open with that verb
SUBJECT_TEXTS = 200  # texts of a cluster of various subjects whose words are tagged
# a request names a cluster when the phrases it holds speak for at least this share of what
# the phrases of its name do (:func:`_request_candidates`)
REQUEST_COVER = 0.5
COVER_TEXTS = 200  # a cluster's texts in which the phrases' users are counted
# clusters that would share a name: of the phrases that tell one apart, the first one-word
# subject among this many (:func:`unique_names`)
CLASH_PHRASES = 5
# A parent is named from its children's "name: description" (``names_from_children``); the
# description is this labeller's own: "<size> conversations about <phrases>. Most typical: ..."
_CHILD = re.compile(
    r"^(?P<name>.+?): (?P<size>\d+) conversations?"
    r"(?: on various subjects)?(?:,? (?:about|among them) (?P<keywords>.*?))?"
    rf'(?:\. {DESCRIPTION_TYPICAL}: "(?P<quote>.*)")?$',
    re.DOTALL,
)


@dataclass
class _Token:
    raw: str
    lower: str
    fold: str = ""
    kind: str = "content"  # content | soft | number | connector | stop
    surface: str = ""  # as written, or in lower case where only a sentence start capitalised it


@dataclass
class _PhraseCounts:
    """The phrases of a level's conversations: their surface forms and words, which are soft,
    each cluster's document frequencies, and the words right before and after each use of a
    phrase (to find the fragments)."""

    surfaces: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    words: dict[Key, frozenset[str]] = field(default_factory=dict)
    soft: set[Key] = field(default_factory=set)
    doc_freq: list[Counter[Key]] = field(default_factory=list)
    uses: Counter[Key] = field(default_factory=Counter)
    left: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    right: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(
        self, clause: list[_Token], phrases: Iterable[tuple[int, int, Key, str, bool]]
    ) -> set[Key]:
        """Count the phrases of one clause; returns their keys."""
        seen: set[Key] = set()
        for i, n, key, raw, is_soft in phrases:
            seen.add(key)
            self.uses[key] += 1
            if i > 0 and clause[i - 1].kind == "content":
                self.left[key][clause[i - 1].fold] += 1
            if i + n < len(clause) and clause[i + n].kind == "content":
                self.right[key][clause[i + n].fold] += 1
            self.surfaces[key][raw] += 1
            if key not in self.words:
                self.words[key] = frozenset(w for w in key if w not in CONNECTORS)
            if is_soft:
                self.soft.add(key)
        return seen

    def fragments(self) -> set[Key]:
        """A fragment: a phrase nearly always used inside the same longer one ("rental" in
        "rental car", "call the Microsoft" in "call the Microsoft APIs"), which names instead."""
        fragments = set()
        for key, count in self.uses.items():
            for side, extend in (
                (self.left, lambda w, k: (w, *k)),
                (self.right, lambda w, k: (*k, w)),
            ):
                if key in side and count >= 2:
                    word, n = side[key].most_common(1)[0]
                    if n >= 0.8 * count and extend(word, key) in self.words:
                        fragments.add(key)
        return fragments

    def eligible(
        self, n_texts: Sequence[int], min_conversations: int = 1
    ) -> tuple[list[set[Key]], list[set[Key]]]:
        """Per cluster, the phrases that may name it, and those that may but for their
        frequency (``loose``): no fragment, no soft phrase that does not set it apart."""
        all_df: Counter[Key] = Counter()
        for df in self.doc_freq:
            all_df.update(df)
        all_n = sum(n_texts)
        fragments = self.fragments()
        eligible, loose = [], []
        for c, df in enumerate(self.doc_freq):
            keep = set()
            for key, count in df.items():
                if key in fragments:
                    continue
                if key in self.soft and not _defines(
                    count, n_texts[c], all_df[key] - count, all_n - n_texts[c]
                ):
                    continue
                keep.add(key)
            loose.append(keep)
            # a phrase of one conversation does not name a cluster of several (but can tell
            # it apart from a cluster with the same name)
            min_df = max(min(2, n_texts[c]), min_conversations)
            eligible.append({k for k in keep if df[k] >= min_df})
        return eligible, loose


@dataclass
class _Level:
    """Phrase weights of every cluster of one level: the share of a cluster's conversations
    that use a phrase (base clusters) or the size-weighted share of its children that name
    it (parents)."""

    weight: list[dict[Key, float]]
    eligible: list[set[Key]]
    surface: dict[Key, str]
    words: dict[Key, frozenset[str]]
    total: dict[Key, float] = field(default_factory=dict)

    loose: list[set[Key]] = field(default_factory=list)  # eligible but for their frequency
    fold: Callable[[str], str] = str.lower  # a word as the level's phrases hold it
    # a one-word phrase's usual way of writing, by its words in lower case (:meth:`cased`)
    _single: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.loose:
            self.loose = self.eligible
        if self.total:
            return
        totals: dict[Key, float] = defaultdict(float)
        for weights in self.weight:
            for key, w in weights.items():
                totals[key] += w
        self.total = dict(totals)

    def score(self, c: int, key: Key) -> float:
        """Class-TF-IDF: the cluster's share of the phrase times log(1 + 1 / its summed share
        over the level's clusters); a phrase of adjacent words gets a little more per word
        (it says more than each of its words, which it was used as often as)."""
        w = self.weight[c].get(key, 0.0)
        if w <= 0:
            return 0.0
        n_words = len(self.words[key])
        bonus = 1.0 + 0.15 * (n_words - 1) if n_words == len(key) else 1.0
        return w * math.log1p(1.0 / self.total[key]) * bonus

    def ranked(self, c: int) -> list[tuple[float, Key]]:
        """The cluster's eligible phrases, best first; a tie goes to a phrase without "a",
        "of", ..., then to the longer one, then alphabetically."""
        scored = [(self.score(c, k), k) for k in self.eligible[c]]
        scored = [(s, k) for s, k in scored if s > 0]
        scored.sort(
            key=lambda sk: (
                -sk[0],
                len(sk[1]) - len(self.words[sk[1]]),
                -len(sk[1]),
                self.surface[sk[1]],
            )
        )
        return scored

    def distinct(self, c: int, among: Sequence[int]) -> list[Key]:
        """The cluster's eligible phrases that it uses more than any other of ``among`` does,
        the largest difference first: what tells it apart from clusters that share its name."""
        scored = []
        for key in self.loose[c]:
            others = max((self.weight[g].get(key, 0.0) for g in among if g != c), default=0.0)
            margin = self.weight[c][key] - others
            if margin > 0:
                scored.append((margin, key))
        scored.sort(key=lambda mk: (-mk[0], len(mk[1]), self.surface[mk[1]]))
        return [k for _, k in scored]

    def cased(self, text: str) -> str:
        """``text`` (words as one user wrote them) with each word that is a phrase of the
        level written as most users write it ("act like an ai" -> "act like an AI")."""
        if not self._single:
            self._single = {
                s.casefold(): s for k, s in self.surface.items() if len(k) == 1 and " " not in s
            }
        return " ".join(self._single.get(w.casefold(), w) for w in text.split())


class ClassTfidfLabeller(Labeller):
    """Names clusters with their most distinctive phrases, a parent with its children's; the
    description quotes the most central conversation that says something."""

    name = "local"
    # 3: names chosen by meaning among phrases and pairs of them; parents named from their
    # own conversations; 4: a cluster with no subject in common is "Various questions: ...";
    # 5: a word capitalised only by a quoted sentence opening, or written so in one user's
    # span, is written as most users write it; 6: a "Various ..." cluster lists subjects;
    # 7: a short request of its users, without its frame, is a candidate name ("Order a
    # virtual card"); 8: a request keeps no question's word order ("Countries do you
    # support") and a span keeps the question word its users open it with ("How long does a
    # transfer take"); 9: two phrases are read together in any number their users write them
    # ("Event tickets" for "events" and "tickets"), whole words only, and a span in a
    # question's word order keeps its question word or names nothing; twins are told apart
    # by a subject ("Attractions to visit, trip", not "..., check")
    version = "9"
    # a parent is named from its conversations, as a base cluster is (its children's names
    # and descriptions are still understood, for callers that pass them)
    names_from_children = False
    uses_levels = True  # a base cluster may be named by its users' request, a parent not

    def __init__(
        self,
        n_keywords: int = 5,
        max_ngram: int = 4,
        max_name_words: int = 4,
        max_parent_phrases: int = 3,
        max_description_chars: int = 240,
        quote_example: bool = True,
        min_phrase_conversations: int = 1,
        semantic: bool = True,
        centroids_from_shipped_model: bool = False,
    ) -> None:
        if n_keywords < 1 or max_ngram < 1 or max_name_words < 1 or max_parent_phrases < 1:
            raise ValueError("n_keywords, max_ngram, max_name_words, max_parent_phrases >= 1")
        self.n_keywords = n_keywords
        self.max_ngram = max_ngram
        self.max_name_words = max_name_words
        self.max_parent_phrases = max_parent_phrases
        self.max_description_chars = max_description_chars
        # Quoting the most central summary makes a cluster easy to read, but it shows one
        # conversation's (redacted) summary word for word; turn it off for shared reports.
        self.quote_example = quote_example
        # names chosen by meaning with the shipped embedding model, when it is installed
        self.semantic = semantic
        # the build's embeddings come from the same model: its centroids stand for the clusters
        self.uses_centroids = semantic and centroids_from_shipped_model
        self._embed: Embed | bool | None = None
        # privacy (var kura__min_cluster_conversations): a parent is named only with phrases
        # its children carry in at least this many conversations together, so a visible
        # parent never spells out what only a child hidden by the thresholds is about
        self.min_phrase_conversations = max(1, int(min_phrase_conversations))
        if self.min_phrase_conversations > 1:  # other names: cached names are not reused
            self.version = f"{type(self).version}-min{self.min_phrase_conversations}"

    # ------------------------------------------------------------------ interface

    def label(
        self,
        texts_per_cluster: Sequence[Sequence[str]],
        central_texts: Sequence[str | None],
        sizes: Sequence[int],
        contrast_texts: Sequence[Sequence[str]] | None = None,
        centroids: Sequence[np.ndarray] | None = None,
        parents: bool = False,
    ) -> list[ClusterLabel]:
        """Label the clusters of one level. ``texts_per_cluster[i]`` are cluster i's texts,
        most central first, or (a parent) its children's "name: description". The clusters of
        the level are each other's contrast; ``contrast_texts`` is not used. ``centroids``
        (``uses_centroids``: the build embedded with the shipped model) stand for the clusters
        when names are chosen by meaning; without them a sample of each cluster's texts is
        embedded. ``parents`` (``uses_levels``): the level is above the base, whose clusters
        are named by their subjects, not by one of their users' requests."""
        children = _parse_children(texts_per_cluster)
        if children is None:
            level, picks, typical, heads, diffuse = self._member_names(
                texts_per_cluster, central_texts, centroids, parents
            )
        else:
            diffuse = [None] * len(sizes)
            level = self._children_level(children)
            picks = [self._pick_parent_phrases(level, c, children[c]) for c in range(len(sizes))]
            typical = [
                _typical([central, *(kid.quote for kid in sorted(kids, key=lambda k: -k.size))])
                for central, kids in zip(central_texts, children, strict=True)
            ]
            heads = [(1, None)] * len(sizes)
        names, name_parts = unique_names(
            [parts for parts, _ in picks],
            [_fallback_name(t) for t in typical],
            level,
            heads,
            texts_per_cluster if children is None else None,
        )
        return [
            self._described(
                level, names[c], size, name_parts[c], picks[c][1], diffuse[c], typical[c]
            )
            for c, size in enumerate(sizes)
        ]

    def _member_names(
        self,
        texts_per_cluster: Sequence[Sequence[str]],
        central_texts: Sequence[str | None],
        centroids: Sequence[np.ndarray] | None,
        parents: bool = False,
    ) -> tuple[
        _Level,
        list[tuple[list[Key], list[Key]]],
        list[str | None],
        list[tuple[int, str | None]],
        list[str | None],
    ]:
        """Base clusters (or parents named from their conversations): the level's phrases, each
        cluster's (name phrases, other phrases), typical text, name head and, for a cluster with
        no subject in common, its kind ("Various questions"), whose phrases are then examples."""
        level = self._member_level(texts_per_cluster)
        picks = [self._pick_member_phrases(level, c) for c in range(len(texts_per_cluster))]
        typical = [
            _typical([central, *texts])
            for central, texts in zip(central_texts, texts_per_cluster, strict=True)
        ]
        heads = self._semantic_names(level, picks, texts_per_cluster, centroids, parents)
        topical = [[k for k in chosen if not level.words[k] <= SOFT_WORDS] for _, chosen in picks]
        diffuse = [
            _diffuse_kind(level, c, texts, topical[c]) for c, texts in enumerate(texts_per_cluster)
        ]
        for c, kind in enumerate(diffuse):
            if kind is not None:  # its phrases are examples of subjects, listed
                subjects = _subjects(level, topical[c], texts_per_cluster[c]) or topical[c]
                picks[c] = (subjects[:2], subjects)
                heads[c] = (1, None)
        return level, picks, typical, heads, diffuse

    def _described(
        self,
        level: _Level,
        name: str,
        size: int,
        in_name: Sequence[Key],
        others: Sequence[Key],
        kind: str | None,
        example: str | None,
    ) -> ClusterLabel:
        """A cluster's label: its name (after its kind, for a cluster of various subjects),
        keywords (the name's phrases, then others with no word of theirs) and description."""
        if kind is not None:
            name = f"{kind}: {_render(level, in_name, None) if in_name else name}"
        keywords = [level.surface[k] for k in in_name]
        words = {w for k in in_name for w in level.words[k]}
        for key in others:
            if len(keywords) >= self.n_keywords:
                break
            if not level.words[key] & words:
                keywords.append(level.surface[key])
                words |= level.words[key]
        noun = "conversation" if size == 1 else "conversations"
        description = f"{size} {noun}" + (" on various subjects" if kind else "")
        if keywords:
            description += (", among them " if kind else " about ") + ", ".join(keywords)
        if example and self.quote_example:
            quote = _shorten(example, self.max_description_chars)
            description += f'. {DESCRIPTION_TYPICAL}: "{quote}"'
        return ClusterLabel(name=name, description=description, keywords=keywords)

    def _semantic_names(
        self,
        level: _Level,
        picks: list[tuple[list[Key], list[Key]]],
        texts_per_cluster: Sequence[Sequence[str]],
        centroids: Sequence[np.ndarray] | None = None,
        parents: bool = False,
    ) -> list[tuple[int, str | None]]:
        """With the shipped embedding model: each cluster's name becomes the candidate nearest
        its texts and farthest from its siblings' (:mod:`kura_dbt.labels.semantic`): one of
        its phrases, two of them as the users wrote them together ("card payment was
        declined"), two or three of them listed, or a short request of its users without its
        frame ("Find a therapist", :func:`_request_candidates`; base clusters only: a parent
        groups several activities). Changes ``picks`` in place; per cluster, how many of the
        name's phrases its head covers and the head's text (None: listed)."""
        heads: list[tuple[int, str | None]] = [(1, None)] * len(picks)
        embed = self._embedder()
        if embed is None or not picks:
            return heads
        from kura_dbt.summaries.questions import spacy_pipeline

        requests = request_names(texts_per_cluster, None if parents else spacy_pipeline())
        least = max(2, self.min_phrase_conversations)  # as a phrase that may name (eligible)
        options = [
            self._candidates(level, pick[1], texts)
            + _request_candidates(level, c, pick, asked, texts, least)
            for c, (pick, texts, asked) in enumerate(
                zip(picks, texts_per_cluster, requests, strict=True)
            )
        ]
        rendered = [[_render(level, keys, head) for keys, head in o] for o in options]
        if centroids is not None and len(centroids) == len(picks):
            vectors = np.stack([np.asarray(v, dtype=np.float32) for v in centroids])
        else:
            vectors = cluster_vectors(texts_per_cluster, embed)
        best = best_candidates(rendered, vectors, embed)
        for c, j in enumerate(best):
            if j is not None:
                keys, head = options[c][j]
                picks[c] = (list(keys), picks[c][1])
                heads[c] = (len(keys) if head else 1, head)
        return heads

    def _candidates(
        self, level: _Level, chosen: Sequence[Key], texts: Sequence[str]
    ) -> list[tuple[list[Key], str | None]]:
        """A cluster's candidate names: (its phrases, the text that reads them as one or
        None for a list). Two phrases are read as one only as a span of a user's text that
        holds both (whole words, in any number), in that order, at most two words apart,
        within ``max_name_words`` + 1 words; a list only of phrases that different
        conversations use."""
        out: list[tuple[list[Key], str | None]] = [([k], None) for k in chosen]
        top = list(chosen[:4])
        clauses = [
            _Clause.of(c, level.fold) for t in texts[:50] if t for c in _CLAUSE.split(user_words(t))
        ]
        for a, b in permutations(top, 2):
            spans: Counter[str] = Counter()
            asked: Counter[tuple[str, str]] = Counter()  # (span, the question word before it)
            for clause in clauses:
                found = _span(clause, a, b)
                span, before = found if found else ("", "")
                gap = len(span.split()) - len(a) - len(b) if span else 9
                if span and gap <= 2 and len(span.split()) <= self.max_name_words + 1:
                    spans[span] += 1
                    if before in QUESTION_WORDS:
                        asked[span, before] += 1
            if spans:
                span, count = min(spans.items(), key=lambda kv: (-kv[1], kv[0]))
                # a span most of its users open with a question word is read with the commonest
                # one: "How long does a transfer take", not "Long does a transfer take"; without
                # it a question's word order is no name ("Countries do you support")
                word = max(QUESTION_WORDS, key=lambda w: asked[span, w])
                if 2 * sum(asked[span, w] for w in QUESTION_WORDS) > count:
                    span = f"{word} {span}"
                elif _inverted(span):
                    continue
                out.append(([a, b], level.cased(span)))
        # a list only of phrases that different conversations use (a parent's topics: "SQL
        # query, Python script"); phrases used together are read together, above
        users = [t.casefold() for t in texts[:COVER_TEXTS] if t]
        listed: list[Key] = []
        held: list[set[int]] = []
        for key in chosen:
            mine = {i for i, t in enumerate(users) if level.surface[key].casefold() in t}
            if all(len(mine & other) <= 0.25 * min(len(mine), len(other)) for other in held):
                listed.append(key)
                held.append(mine)
            words = sum(len(level.words[k]) for k in listed)
            if len(listed) >= 2 and words <= self.max_name_words + len(listed):
                out.append((list(listed), None))
            if len(listed) == 3:
                break
        return out

    def _embedder(self) -> Embed | None:
        if self.semantic and self._embed is None:
            self._embed = local_embedder() or False
        return self._embed if callable(self._embed) else None

    # ------------------------------------------------------------------ base clusters

    def _member_level(self, texts_per_cluster: Sequence[Sequence[str]]) -> _Level:
        """A base cluster's phrases: those of its conversations, weighted by the share of its
        conversations that use each."""
        tokenised = [[_clauses(t) for t in texts if t] for texts in texts_per_cluster]
        fold = _folder(tok.lower for texts in tokenised for t in texts for cl in t for tok in cl)
        counts = _PhraseCounts()
        for texts in tokenised:
            df: Counter[Key] = Counter()
            for clauses in texts:
                seen: set[Key] = set()
                for clause in clauses:
                    for tok in clause:
                        tok.fold = fold(tok.lower)
                    seen.update(counts.add(clause, self._phrases(clause)))
                df.update(seen)
            counts.doc_freq.append(df)
        n_texts = [max(len(texts), 1) for texts in tokenised]
        weight = [
            {k: v / n for k, v in df.items()}
            for df, n in zip(counts.doc_freq, n_texts, strict=True)
        ]
        # privacy (kura__min_cluster_conversations): a phrase names a cluster only when that
        # many of its conversations use it
        eligible, loose = counts.eligible(n_texts, self.min_phrase_conversations)
        surface = {k: _best_surface(v) for k, v in counts.surfaces.items()}
        return _Level(weight, eligible, surface, counts.words, loose=loose, fold=fold)

    def _phrases(self, clause: list[_Token]) -> Iterable[tuple[int, int, Key, str, bool]]:
        """Every phrase of 1 to ``max_ngram`` words of a clause: a content word at either end
        (a filler word only alone; a number word only before others), only connectors or
        words inside, no word twice."""
        for i, first in enumerate(clause):
            if first.kind not in ("content", "soft", "number"):
                continue
            for n in range(1, self.max_ngram + 1):
                if i + n > len(clause):
                    break
                seq = clause[i : i + n]
                if first.kind == "number" and n == 1:
                    continue
                if n > 1 and first.kind == "soft":
                    break
                if any(t.kind not in ("content", "soft", "connector") for t in seq[1:-1]):
                    break
                if n > 1 and seq[-1].kind != "content":
                    continue
                folds = [t.fold for t in seq if t.kind != "connector"]
                if len(set(folds)) != len(folds):  # "curie curie": a stutter
                    break
                key = tuple(t.fold if t.kind != "connector" else t.lower for t in seq)
                raw = " ".join(t.surface for t in seq)
                yield i, n, key, raw, any(t.kind in ("soft", "number") for t in seq)

    def _pick_member_phrases(self, level: _Level, c: int) -> tuple[list[Key], list[Key]]:
        """The name's phrases and the keywords (in order) of base cluster ``c``: the best
        phrases by score, each replaced by a longer phrase that most of its uses belong to
        ("flight" -> "one way flight"), none repeating a word of another."""
        ranked = level.ranked(c)
        chosen: list[Key] = []
        used: set[str] = set()
        for score, key in ranked:
            if len(chosen) >= self.n_keywords:
                break
            if level.words[key] & used:
                continue
            share = level.weight[c][key]
            longer = [
                (level.score(c, q), q)
                for q in level.eligible[c]
                if len(q) > len(key)
                and len(level.words[q]) == len(q)  # no "a", "of" inside
                and _contains(q, key)
                and not (level.words[q] & used)
                and level.weight[c][q] >= 0.75 * share
            ]
            if longer:
                key = max(longer, key=lambda sq: (sq[0], len(sq[1]), level.surface[sq[1]]))[1]
            chosen.append(key)
            used |= level.words[key]
        # the name: the best phrase; the next ones while the name speaks for less than half of
        # the conversations, or a second one nearly as distinctive as a one-word first
        name: list[Key] = chosen[:1]
        uncovered = 1.0 - level.weight[c][chosen[0]] if chosen else 1.0
        n_words = len(level.words[chosen[0]]) if chosen else 0
        top = level.score(c, chosen[0]) if chosen else 0.0
        for key in chosen[1:3]:
            n_words += len(level.words[key])
            if n_words > self.max_name_words:
                break
            close = len(name) == 1 and n_words == 1 + len(level.words[key])
            close = close and level.score(c, key) >= 0.75 * top
            if uncovered <= 0.5 and not close:
                break
            name.append(key)
            uncovered *= 1.0 - level.weight[c][key]  # as if the phrases were independent
        return name, chosen

    # ------------------------------------------------------------------ parents

    def _children_level(self, children: Sequence[Sequence[_Child]]) -> _Level:
        """A parent's phrases are its children's keywords (and their words), each weighted by
        the child's size and the keyword's rank."""
        tokens_of: dict[str, list[_Token]] = {}
        for kids in children:
            for kid in kids:
                for phrase in kid.keywords:
                    if phrase not in tokens_of:
                        tokens_of[phrase] = [t for cl in _clauses(phrase, False) for t in cl]
        fold = _folder(t.lower for toks in tokens_of.values() for t in toks)
        for toks in tokens_of.values():
            for t in toks:
                t.fold = fold(t.lower)
        surfaces: dict[Key, Counter[str]] = defaultdict(Counter)
        words: dict[Key, frozenset[str]] = {}
        weight: list[dict[Key, float]] = []
        carried: list[dict[Key, int]] = []  # conversations of the children that carry a phrase
        self._child_weights: list[list[tuple[int, dict[Key, float]]]] = []
        for kids in children:
            carried.append(defaultdict(int))
            total = sum(kid.size for kid in kids) or 1
            parent: dict[Key, float] = defaultdict(float)
            per_child = []
            for kid in kids:
                mine = _child_phrases(kid, tokens_of, surfaces, words)
                for key, w in mine.items():
                    parent[key] += kid.size * w / total
                    carried[-1][key] += kid.size
                per_child.append((kid.size, mine))
            weight.append(dict(parent))
            self._child_weights.append(per_child)
        surface = {k: _best_surface(v) for k, v in surfaces.items()}
        eligible = [
            {k for k in w if sizes[k] >= self.min_phrase_conversations}
            for w, sizes in zip(weight, carried, strict=True)
        ]
        return _Level(weight, eligible, surface, words, total=_contrast(self._child_weights))

    def _pick_parent_phrases(
        self, level: _Level, c: int, kids: Sequence[_Child]
    ) -> tuple[list[Key], list[Key]]:
        """The name (:meth:`_parent_name`) and the keywords of parent ``c``: a greedy cover,
        each next keyword the one that best names the children (by size) not yet named,
        contrasted with the other parents."""
        keywords = self._cover(level, c, max(self.n_keywords, self.max_parent_phrases))
        return self._parent_name(level, c, kids), keywords

    def _parent_name(self, level: _Level, c: int, kids: Sequence[_Child]) -> list[Key]:
        """The same greedy cover within ``max_name_words`` words, a phrase's score divided by
        its words ("JavaScript, Python, SQL" rather than one child's name), until the name
        covers three quarters of the conversations and is not one child's name."""
        child_names = {kid.name.casefold() for kid in kids}

        def enough(name: list[Key], covered: float) -> bool:
            rendered = ", ".join(level.surface[k] for k in name).casefold()
            return bool(name) and covered >= 0.75 and rendered not in child_names

        return self._cover(
            level, c, self.max_parent_phrases, word_budget=self.max_name_words, enough=enough
        )

    def _cover(
        self,
        level: _Level,
        c: int,
        max_phrases: int,
        word_budget: int | None = None,
        enough: Callable[[list[Key], float], bool] | None = None,
    ) -> list[Key]:
        """Greedy: the next phrase of parent ``c`` is the one that best names its children (by
        size) not yet named, contrasted with the other parents (``log1p(1 / total)``), no word
        twice; with a ``word_budget``, within that many words in all and a phrase's score
        divided by its words. Stops at ``max_phrases``, when nothing scores, or when ``enough``
        says so (given the phrases so far and the share of conversations they name)."""
        per_child = self._child_weights[c]
        total = sum(size for size, _ in per_child) or 1
        unnamed = [1.0] * len(per_child)
        chosen: list[Key] = []
        used: set[str] = set()
        budget = word_budget
        while len(chosen) < max_phrases:
            if enough is not None:
                covered = (
                    1.0 - sum(s * r for (s, _), r in zip(per_child, unnamed, strict=True)) / total
                )
                if enough(chosen, covered):
                    break
            best: tuple[tuple[float, int, str], Key] | None = None
            for key in level.eligible[c]:
                n_words = len(level.words[key])
                if level.words[key] & used or (budget is not None and n_words > budget):
                    continue
                gain = sum(
                    size * r * weights.get(key, 0.0)
                    for (size, weights), r in zip(per_child, unnamed, strict=True)
                )
                score = gain / total * math.log1p(1.0 / level.total[key])
                if budget is not None:
                    score /= n_words
                if score <= 0:
                    continue
                tie = n_words if budget is not None else -n_words
                order = (-score, tie, level.surface[key])
                if best is None or order < best[0]:
                    best = (order, key)
            if best is None:
                break
            key = best[1]
            chosen.append(key)
            used |= level.words[key]
            if budget is not None:
                budget -= len(level.words[key])
            unnamed = [
                r * (1.0 - weights.get(key, 0.0))
                for (_, weights), r in zip(per_child, unnamed, strict=True)
            ]
        return chosen

    # ------------------------------------------------------------------ shared


def _request_candidates(
    level: _Level,
    c: int,
    picked: tuple[Sequence[Key], Sequence[Key]],
    asked: Sequence[str],
    texts: Sequence[str],
    least: int,
) -> list[tuple[list[Key], str | None]]:
    """Cluster ``c``'s request names (:mod:`kura_dbt.labels.requests`) as candidates. Each
    must hold phrases of its best (``picked``: the name's phrases, the best phrases; the
    candidate's phrases are those it holds) that at least ``REQUEST_COVER`` as many of its
    ``texts`` use as use the name's phrases (one request of a parent's many subjects does not
    name it), and no content word that fewer than ``least`` (at most all) of its
    conversations use (it never spells out what one conversation says)."""
    named, chosen = picked
    users = [t.casefold() for t in texts[:COVER_TEXTS] if t]
    n_texts = sum(1 for t in texts if t)
    share = min(least, n_texts) / max(n_texts, 1) - 1e-9

    def users_of(keys: Sequence[Key]) -> int:
        forms = [level.surface[k].casefold() for k in keys]
        return sum(any(f in u for f in forms) for u in users)

    needed = REQUEST_COVER * users_of(named)
    users_of_one = functools.cache(lambda key: users_of([key]))  # the same phrases, many requests
    out: list[tuple[list[Key], str | None]] = []
    for text in asked:
        words = _content_words(level, text)
        held = [k for k in chosen if level.words[k] and level.words[k] <= words]
        if not held or max(users_of_one(k) for k in held) < needed:
            continue
        if all(level.weight[c].get((w,), 0.0) >= share for w in words):
            out.append((held, level.cased(text)))
    return out


def _content_words(level: _Level, text: str) -> set[str]:
    """A name's or a request's content words, as the level's phrases hold them."""
    return {
        level.fold(t.lower)
        for clause in _clauses(text, sentences=False)
        for t in clause
        if t.kind == "content"
    }


def _diffuse_kind(level: _Level, c: int, texts: Sequence[str], top: Sequence[Key]) -> str | None:
    """For a cluster with no subject in common, what its requests do: "Various questions",
    "Various requests to write" or "Various requests"; None for a cluster with a subject or a
    few (``top``: its best phrases, filler and time words aside). No subject: each phrase but
    filler and time words speaks for fewer than ``DIFFUSE_COVERAGE`` of its conversations,
    and its three best together for fewer than twice that (a parent of "Bus", "Hotel" and
    "Rental car" has a few subjects)."""
    shares = [
        w
        for k, w in level.weight[c].items()
        if k in level.eligible[c] and not level.words[k] <= SOFT_WORDS
    ]
    users = [user_words(t) for t in texts if t]
    if max(shares, default=0.0) >= DIFFUSE_COVERAGE or len(users) * DIFFUSE_COVERAGE <= 1:
        return None  # a phrase speaks for enough of them; or too few to tell
    phrases = [level.surface[k].casefold() for k in top[:3]]
    covered = sum(any(p in u.casefold() for p in phrases) for u in users)
    if covered >= 2 * DIFFUSE_COVERAGE * len(users):
        return None
    firsts = [split_sentences(u)[:1] for u in users]
    forms = Counter(request_form(first[0]) for first in firsts if first)
    n = max(len(firsts), 1)
    if forms["question"] >= QUESTION_SHARE * n:
        return "Various questions"
    verbs = [(count, verb) for verb, count in forms.items() if verb not in (None, "question")]
    count, verb = max(verbs, default=(0, ""))
    return f"Various requests to {verb}" if count >= VERB_SHARE * n else "Various requests"


def _subjects(level: _Level, keys: Sequence[Key], texts: Sequence[str]) -> list[Key]:
    """Of ``keys``, the phrases that name a subject as the cluster's users write them: the
    phrase's last word is tagged a noun or a proper noun in at least half of its uses in
    the first ``SUBJECT_TEXTS`` of ``texts`` (spaCy's tagger, in the offline detector's
    pipeline), or is never found there. "Various questions: bad, claim" lists no adjective,
    "Various requests: theory, imagine" no verb. All of ``keys`` without the pipeline."""
    from kura_dbt.summaries.questions import spacy_pipeline

    nlp = spacy_pipeline()
    if nlp is None or not keys:
        return list(keys)
    users = [user_words(t) for t in texts[:SUBJECT_TEXTS] if t]
    nouns: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    for doc in nlp.pipe(users, disable=["parser", "ner", "lemmatizer"]):
        for token in doc:
            word = token.text.casefold()
            uses[word] += 1
            nouns[word] += token.pos_ in ("NOUN", "PROPN")
    out = []
    for key in keys:
        last = level.surface[key].split()[-1].casefold()
        if not uses[last] or 2 * nouns[last] >= uses[last]:
            out.append(key)
    return out


@dataclass
class _Child:
    name: str
    size: int
    keywords: list[str]
    quote: str | None


def _parse_children(texts_per_cluster: Sequence[Sequence[str]]) -> list[list[_Child]] | None:
    """The children of each parent from their "name: description", or None when the texts are
    not this labeller's children (a base level)."""
    result = []
    for texts in texts_per_cluster:
        kids = []
        for text in texts:
            match = _CHILD.match(text or "")
            if match is None:
                return None
            keywords = [k.strip() for k in (match["keywords"] or "").split(", ") if k.strip()]
            kids.append(_Child(match["name"], int(match["size"]), keywords, match["quote"]))
        if not kids:
            return None
        result.append(kids)
    return result or None


def unique_names(
    name_parts: Sequence[list[Key]],
    fallbacks: Sequence[str],
    level: _Level,
    heads: Sequence[tuple[int, str | None]] | None = None,
    texts: Sequence[Sequence[str]] | None = None,
) -> tuple[list[str], list[list[Key]]]:
    """One name per cluster, unique within the level (case and plural aside), and the phrases
    it is made of. Clusters that would share a name each get the phrase they use most more
    often than the others of the clash (their next distinctive phrase), at most twice; then,
    as a last resort, a number in their order. With the clusters' ``texts``, that phrase is
    the first of the ``CLASH_PHRASES`` most distinctive that is one word naming a subject
    (:func:`_subjects`: "Attractions to visit, trip", not "..., check" from "check in"), if
    any. ``heads[c]`` = (n, text): the first n phrases of a name are read as ``text`` ("card
    payment was declined"), the others follow after commas (text None: every phrase after a
    comma)."""
    parts = [list(p) for p in name_parts]
    heads = list(heads) if heads is not None else [(1, None)] * len(parts)

    def words(c: int) -> set[str]:
        """What cluster c's name says: its head's content words, its listed phrases' words."""
        n, head = heads[c]
        if head is None or len(parts[c]) < n:
            return {w for k in parts[c] for w in level.words[k]}
        return _content_words(level, head) | {w for k in parts[c][n:] for w in level.words[k]}

    def norm(c: int) -> tuple:
        if not parts[c]:
            return ("", fallbacks[c].casefold())
        return tuple(sorted(words(c)))

    for _ in range(2):
        groups: dict[tuple, list[int]] = defaultdict(list)
        for c in range(len(parts)):
            groups[norm(c)].append(c)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            break
        for group in clashes:
            for c in group:
                used = words(c)
                extras = [k for k in level.distinct(c, group) if not level.words[k] & used]
                if texts is not None:  # a word that names a subject keeps the name short
                    short = [k for k in extras[:CLASH_PHRASES] if len(level.words[k]) == 1]
                    extras = _subjects(level, short, texts[c]) + extras
                if extras:
                    parts[c].append(extras[0])
    names = []
    seen: Counter[tuple] = Counter()
    for c in range(len(parts)):
        text = fallbacks[c]
        if parts[c]:
            n, head = heads[c]
            text = _render(level, parts[c], head if len(parts[c]) >= n else None, n)
        text = text[:1].upper() + text[1:]
        seen[norm(c)] += 1
        names.append(text if seen[norm(c)] == 1 else f"{text} ({seen[norm(c)]})")
    return names, parts


@dataclass(frozen=True)
class _Clause:
    """A clause of a user's text, its words' places in it and the words as the level's
    phrases hold them (plural folded, see :func:`_clauses`)."""

    text: str
    places: tuple[tuple[int, int], ...]
    words: tuple[str, ...]

    @classmethod
    def of(cls, text: str, fold: Callable[[str], str]) -> _Clause:
        tokens = list(_TOKEN.finditer(text))
        lowered = [t.group().replace("’", "'").lower() for t in tokens]
        words = (fold(w[:-2] if w.endswith("'s") else w) for w in lowered)
        return cls(text, tuple(t.span() for t in tokens), tuple(words))


def _span(clause: _Clause, first: Key, then: Key) -> tuple[str, str] | None:
    """The words of ``clause`` from phrase ``first`` to phrase ``then`` (whole words, in that
    order, each word matched as the level folds it, so that the phrase "events" is found in
    "event tickets"), and the word before them (folded; "" when they open the clause)."""
    i = _phrase_at(clause.words, first, 0)
    j = _phrase_at(clause.words, then, i + len(first)) if i >= 0 else -1
    if j < 0:
        return None
    start, end = clause.places[i][0], clause.places[j + len(then) - 1][1]
    return " ".join(clause.text[start:end].split()), clause.words[i - 1] if i else ""


def _inverted(span: str) -> bool:
    """A question's word order: an auxiliary before a subject pronoun ("... do you support",
    "... can I cancel")."""
    words = span.casefold().split()
    return any(a in AUXILIARIES and b in SUBJECT_PRONOUNS for a, b in zip(words, words[1:]))


def _phrase_at(words: Sequence[str], key: Key, start: int) -> int:
    n = len(key)
    return next((i for i in range(start, len(words) - n + 1) if tuple(words[i : i + n]) == key), -1)


def _render(level: _Level, keys: Sequence[Key], head: str | None, n: int | None = None) -> str:
    """A name's text: ``head`` for its first ``n`` phrases (all, when ``n`` is None), the
    rest listed after commas; without a head, every phrase listed."""
    if head is None:
        return ", ".join(level.surface[k] for k in keys)
    n = len(keys) if n is None else n
    return ", ".join([head, *(level.surface[k] for k in keys[n:])])


def _clauses(text: str, sentences: bool = True) -> list[list[_Token]]:
    """The text's clauses as tokens (kind set, fold not yet). A word that opens a sentence
    keeps its capital only when it has capitals inside ("SQL", "iPhone"); with ``sentences``
    false (a phrase, not a text) every word keeps its case."""
    clauses = []
    for sentence in _SENTENCE.split(_REDACTION_MARKER.sub(";", text)):
        opening = sentences  # the sentence's first word is still to come (after any quote)
        for piece in _CLAUSE.split(sentence):
            toks: list[_Token] = []
            for m in _TOKEN.finditer(piece):
                raw = m.group().replace("’", "'")
                lower = raw.lower()
                if lower.endswith("'s"):
                    raw, lower = raw[:-2], lower[:-2]
                surface = raw
                if opening and raw[1:] == raw[1:].lower():
                    surface = lower
                opening = False
                toks.append(_Token(raw=raw, lower=lower, kind=_kind(lower), surface=surface))
            if toks:
                clauses.append(toks)
    return clauses


def _kind(lower: str) -> str:
    if lower in CONNECTORS:
        return "connector"
    if lower in NUMBER_WORDS:
        return "number"  # only opens a longer phrase: "one way flight"
    if lower in STOP_WORDS or lower in NEVER_WORDS or len(lower) < 2 or _NUMBER.match(lower):
        return "stop"
    if lower in SOFT_WORDS:
        return "soft"
    return "content"


def _folder(tokens: Iterable[str]):
    """Plural to singular, when the singular is also used in the level ("movies" -> "movie")."""
    vocab = set(tokens)

    def fold(word: str) -> str:
        if len(word) > 4 and word.endswith("ies") and word[:-3] + "y" in vocab:
            return word[:-3] + "y"
        if len(word) > 3 and word.endswith("es") and word[:-2] in vocab:
            return word[:-2]
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            if word[:-1] in vocab:
                return word[:-1]
        return word

    return fold


def _sub_phrases(tokens: list[_Token]) -> Iterable[tuple[list[_Token], bool]]:
    """A keyword phrase, then its shorter phrases (content words at both ends)."""
    n = len(tokens)
    if n == 0:
        return
    yield tokens, True
    for length in range(n - 1, 0, -1):
        for i in range(n - length + 1):
            sub = tokens[i : i + length]
            if sub[0].kind == "content" and sub[-1].kind == "content":
                yield sub, False


def _contains(longer: Key, shorter: Key) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))


def _defines(count: int, n: int, other_count: int, other_n: int) -> bool:
    """A filler or date word defines a cluster when most of its conversations use it and the
    other clusters' hardly do."""
    if other_n <= 0:
        return False
    share = count / n
    return share >= 0.6 and share >= 3.0 * (other_count / other_n)


def _best_surface(forms: Counter[str]) -> str:
    """The most used way of writing a phrase; lower case wins a tie ("movie" over "Movie",
    which opens a sentence), then the alphabetically first."""
    return min(forms.items(), key=lambda kv: (-kv[1], kv[0] != kv[0].lower(), kv[0]))[0]


def is_substantive(text: str | None) -> bool:
    """Whether a summary says something: not empty, not "The user only writes: hi", not only
    greetings, thanks and filler."""
    if not text or not text.strip() or _CONTENT_FREE.match(text):
        return False
    for m in _TOKEN.finditer(text):
        word = m.group().lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) < 2 or word in STOP_WORDS or word in CONNECTORS:
            continue
        if word in GREETING_WORDS or word in FILLER_WORDS or _NUMBER.match(word):
            continue
        return True
    return False


def _typical(candidates: Iterable[str | None]) -> str | None:
    """The first text that says something, in order (the most central first)."""
    return next((t for t in candidates if is_substantive(t)), None)


def _fallback_name(typical: str | None) -> str:
    """No phrase names the cluster: its typical text, without the summary's template."""
    if not typical:
        return "Unnamed cluster"
    text = _TEMPLATE_OPENING.sub("", typical).strip() or typical
    return _shorten(text[:1].upper() + text[1:], 60)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _child_phrases(
    kid: _Child,
    tokens_of: Mapping[str, list[_Token]],
    surfaces: dict[Key, Counter[str]],
    words: dict[Key, frozenset[str]],
) -> dict[Key, float]:
    """A child's weight for each phrase (and sub-phrase) of its keywords, by the keyword's rank;
    counts each phrase's surface forms (by the child's size) and its words into ``surfaces`` and
    ``words``."""
    mine: dict[Key, float] = {}
    for rank, phrase in enumerate(kid.keywords):
        for sub, is_whole in _sub_phrases(tokens_of[phrase]):
            if not any(t.kind in ("content", "soft") for t in sub):
                continue  # "a", "42": no word to name anything with
            key = tuple(t.fold if t.kind != "connector" else t.lower for t in sub)
            w = (1.0 if is_whole else 0.6) / (1.0 + rank)
            if w > mine.get(key, 0.0):
                mine[key] = w
            surfaces[key][" ".join(t.surface for t in sub)] += kid.size
            if key not in words:
                words[key] = frozenset(
                    t.fold for t in sub if t.kind in ("content", "soft", "number")
                )
    return mine


def _contrast(
    child_weights: Sequence[Sequence[tuple[int, Mapping[Key, float]]]],
) -> dict[Key, float]:
    """The contrast counts where a phrase is used, not how high: a child's lesser phrase is not
    rarer for it. Per phrase, the sum over parents of the share of the parent's conversations in
    the children that use it."""
    total: dict[Key, float] = defaultdict(float)
    for per_child in child_weights:
        size = sum(n for n, _ in per_child) or 1
        for n, mine in per_child:
            for key in mine:
                total[key] += n / size
    return dict(total)
