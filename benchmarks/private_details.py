"""Public conversations with synthetic private details put in at known places: the data of the
privacy benchmarks (``benchmarks/privacy_layers.py``).

Schema-Guided Dialogue and OpenAssistant conversations (``../shared/data``, public, with no
real person's details) get, in a share of them chosen with a fixed seed, one sentence in one
user turn that carries one to three made-up details from Faker (seeded): a person's name, an
e-mail address, a phone number, a street address or an account number. Each inserted value is
recorded with the conversation, so that every later layer (summary, cluster names, marts,
report) can be searched for it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpora import Turns, oasst, sgd

KINDS = ("name", "email", "phone", "address", "account")

# one sentence per kind, as a user would write it; {v} is the made-up value
TEMPLATES: dict[str, tuple[str, ...]] = {
    "name": ("My name is {v}.", "This is {v} writing.", "Please put it under {v}."),
    "email": ("You can e-mail me at {v}.", "Send the confirmation to {v}."),
    "phone": ("Call me on {v} if anything changes.", "My number is {v}."),
    "address": ("I live at {v}.", "Deliver it to {v}."),
    "account": ("My account number is {v}.", "It is for account {v}."),
}


@dataclass
class Planted:
    """A conversation and the private details put into it (empty: none)."""

    turns: Turns
    details: dict[str, str] = field(default_factory=dict)


def _value(fake: object, kind: str, rng: random.Random) -> str:
    if kind == "name":
        return str(fake.name())  # type: ignore[attr-defined]
    if kind == "email":
        return str(fake.email())  # type: ignore[attr-defined]
    if kind == "phone":
        return str(fake.phone_number())  # type: ignore[attr-defined]
    if kind == "address":
        return str(fake.address()).replace("\n", ", ")  # type: ignore[attr-defined]
    return str(rng.randint(10**9, 10**12 - 1))


def plant(conversations: list[Turns], share: float, seed: int = 0) -> list[Planted]:
    """``conversations`` with private details in ``share`` of them (seeded), each in one user
    turn: the turn keeps its words and gets the details' sentences appended."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    out = []
    for turns in conversations:
        users = [i for i, (role, text) in enumerate(turns) if role == "user" and text.strip()]
        if not users or rng.random() >= share:
            out.append(Planted(list(turns)))
            continue
        kinds = rng.sample(KINDS, rng.randint(1, 3))
        details = {kind: _value(fake, kind, rng) for kind in kinds}
        where = rng.choice(users)
        role, text = turns[where]
        added = " ".join(rng.choice(TEMPLATES[k]).format(v=v) for k, v in details.items())
        changed = list(turns)
        changed[where] = (role, f"{text.rstrip()} {added}")
        out.append(Planted(changed, details))
    return out


def load(data_dir: Path, share: float, seed: int = 0, limit: int | None = None) -> list[Planted]:
    """SGD dev and the OpenAssistant conversations, shuffled (seeded), with details planted."""
    conversations = sgd(data_dir)[0] + oasst(data_dir)[0]
    conversations = [c for c in conversations if any(t.strip() for _, t in c)]
    random.Random(seed).shuffle(conversations)
    if limit is not None:
        conversations = conversations[:limit]
    return plant(conversations, share, seed)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def needles(details: dict[str, str]) -> list[str]:
    """What betrays each detail when found in a text (compared in lower case): the full
    name, the e-mail, the phone's and the account's digits (found among the
    text's digits), the address's street line."""
    found: list[str] = []
    for kind, value in details.items():
        if kind == "name":  # the full name (a surname alone is common in public text)
            found.append(value.lower())
        elif kind == "address":
            found.append(value.split(",")[0].lower())
        elif kind in ("phone", "account"):
            found.append("#" + _digits(value.split("x")[0]))
        else:
            found.append(value.lower())
    return found


def leaks(text: str | None, details: dict[str, str]) -> bool:
    """Whether ``text`` carries any of the details (see :func:`needles`)."""
    if not text or not details:
        return False
    low, digits = text.lower(), _digits(text)
    for needle in needles(details):
        if needle.startswith("#"):
            if len(needle) > 6 and needle[1:] in digits:
                return True
        elif re.search(r"(?<![a-z])" + re.escape(needle) + r"(?![a-z])", low):
            return True
    return False
