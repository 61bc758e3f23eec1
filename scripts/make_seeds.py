#!/usr/bin/env python
"""Generate the bundled dbt sample seeds (seeds/kura_sample_*.csv).

Deterministic: a fixed seed, the standard library and pandas only, no network.
Running it twice gives byte-identical files.

    python scripts/make_seeds.py                      # reads ../shared/data, writes seeds/
    python scripts/make_seeds.py --data-dir /path/to/data --out-dir seeds

Inputs (see seeds/README.md for sources and licences):
  <data-dir>/sgd/dev.jsonl                 Schema-Guided Dialogue, dev split (CC BY-SA 4.0)
  <data-dir>/oasst/en_100_threads.jsonl    OpenAssistant threads (Apache-2.0)

Outputs:
  kura_sample_conversations.csv   real dialogues (SGD + OASST), synthetic users and timestamps
  kura_sample_messages.csv        the dialogue text, unchanged; synthetic timestamps
  kura_sample_feedback.csv        synthetic (made up here)
  kura_sample_users.csv           synthetic (made up here)
  licenses/SGD_LICENSE.txt, licenses/OASST_LICENSE   copied from the data folder
"""

from __future__ import annotations

import argparse
import bisect
import csv
import hashlib
import json
import math
import random
import re
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".." / "shared" / "data"
DEFAULT_OUT_DIR = REPO_ROOT / "seeds"

SEED = 20260803
TS_FORMAT = "%Y-%m-%d %H:%M:%S"

# Ten full weeks, Monday 2026-08-03 .. Sunday 2026-10-11 (timestamps are UTC, naive).
WINDOW_START = datetime(2026, 8, 3)
WINDOW_DAYS = 70

SGD_PER_DOMAIN = 25
N_USERS = 150
PLAN_COUNTS = {"free": 84, "pro": 42, "team": 16, "enterprise": 8}
FEEDBACK_RATE = {"free": 0.34, "pro": 0.44, "team": 0.46, "enterprise": 0.52}  # ~40% overall

OASST_DOMAIN = "open_assistant"

# Per sample_domain: volume trend over the ten weeks (-1 shrinking .. +1 growing; +1 is
# roughly 11x more conversations in the last days than in the first), mean satisfaction
# (1-5 scale, before content effects), and satisfaction drift per week.
DOMAIN_PROFILE: dict[str, tuple[float, float, float]] = {
    "Alarm": (0.0, 4.3, 0.0),
    "Banks": (-0.5, 2.9, 0.0),
    "Buses": (-0.7, 3.2, 0.0),
    "Events": (0.6, 4.0, 0.0),
    "Flights": (0.3, 2.8, -0.10),  # growing and getting worse: a regression story
    "Homes": (0.2, 3.7, 0.0),
    "Hotels": (-0.4, 3.7, 0.0),
    "Media": (0.5, 3.9, 0.0),
    "Movies": (0.0, 4.1, 0.0),
    "Music": (0.8, 4.4, 0.0),
    "RentalCars": (-0.3, 2.3, 0.0),  # the clear worst
    "Restaurants": (0.1, 4.3, 0.0),  # high base, but many failed bookings in the text
    "RideSharing": (0.7, 3.1, 0.12),  # growing and improving
    "Services": (-0.2, 3.6, 0.0),  # many failed bookings in the text
    "Travel": (-0.6, 3.8, 0.0),
    "Weather": (0.0, 4.5, 0.0),
    OASST_DOMAIN: (0.9, 3.8, 0.0),  # general assistant use taking off
}

# Plans favour some domains (multiplier on the chance a user of that plan owns a conversation).
PLAN_AFFINITY: dict[str, dict[str, float]] = {
    "free": {
        "Music": 2.0,
        "Media": 2.0,
        "Movies": 2.0,
        "Events": 1.5,
        "Buses": 1.6,
        "Weather": 1.3,
        "Alarm": 1.3,
        "RideSharing": 1.3,
        "Flights": 0.5,
        "Hotels": 0.5,
        "RentalCars": 0.4,
        "Banks": 0.6,
    },
    "pro": {OASST_DOMAIN: 2.2, "Restaurants": 1.5, "Homes": 1.6, "Services": 1.4, "Travel": 1.2},
    "team": {
        OASST_DOMAIN: 2.0,
        "Flights": 1.6,
        "Hotels": 1.5,
        "Events": 1.3,
        "Services": 1.2,
        "Music": 0.6,
        "Movies": 0.6,
    },
    "enterprise": {
        "Flights": 2.8,
        "Hotels": 2.5,
        "RentalCars": 3.0,
        "Banks": 2.2,
        "Travel": 1.5,
        OASST_DOMAIN: 1.5,
        "Music": 0.3,
        "Media": 0.3,
        "Movies": 0.3,
        "Alarm": 0.5,
    },
}
PLAN_ACTIVITY = {"free": 0.7, "pro": 1.3, "team": 1.7, "enterprise": 2.2}
PLAN_RATING_SHIFT = {"free": 0.1, "pro": 0.0, "team": -0.1, "enterprise": -0.3}

COUNTRIES = [
    ("US", 30),
    ("GB", 9),
    ("DE", 9),
    ("IN", 8),
    ("FR", 6),
    ("CA", 6),
    ("BR", 5),
    ("AU", 4),
    ("NL", 4),
    ("JP", 3),
    ("ES", 3),
    ("IT", 2),
    ("SE", 2),
    ("PL", 2),
    ("MX", 2),
    ("SG", 2),
    ("IE", 1),
    ("CH", 1),
    ("KR", 1),
    ("ZA", 1),
]

WEEKDAY_WEIGHT = [1.0, 1.05, 1.05, 1.0, 0.9, 0.65, 0.55]  # Mon..Sun
# Start hour (UTC) of a conversation; no starts at 23:00 so a thread ends the same day.
HOUR_WEIGHT = [1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 7, 7, 6, 4, 3, 0]

# System turns that signal the assistant could not do the task (SGD).
FAILURE_RE = re.compile(
    r"\b(unsuccessful|sorry|couldn't|could not|unable|failed|apologi[sz]e|apologies|not able)\b",
    re.I,
)
# Follow-up user turns that push back on the answer (OASST).
PUSHBACK_RE = re.compile(
    r"(not entertaining|that's wrong|that is wrong|incorrect|doesn't work|does not work|"
    r"not what i|you didn't|that's not|that is not|still not|wrong)",
    re.I,
)

POSITIVE_COMMENTS = [
    "Quick and easy, thanks!",
    "Exactly what I needed.",
    "Very helpful.",
    "Saved me a lot of time.",
    "Clear answers, no fuss.",
    "Great, worked first time.",
    "Love how fast this was.",
    "Understood me right away.",
    "Smooth experience.",
    "Would use again.",
]
NEUTRAL_COMMENTS = [
    "Fine, but took a few tries.",
    "OK overall.",
    "Got there in the end.",
    "Answer was fine, a bit long.",
    "Decent, nothing special.",
    "Had to rephrase once.",
]
NEGATIVE_COMMENTS = [
    "Kept asking for details I already gave.",
    "Too many back-and-forth steps.",
    "Did not understand what I wanted.",
    "Gave up and did it myself.",
    "Slow and confusing.",
    "Not useful.",
    "Had to repeat myself several times.",
]
FAILURE_COMMENTS = [
    "The booking failed and I had to start over.",
    "It said it couldn't complete the request.",
    "Reservation didn't go through.",
    "Error at the last step.",
]
DOMAIN_NEGATIVE_COMMENTS = {
    "Flights": [
        "Flight search showed the wrong dates.",
        "Prices changed after I picked a flight.",
        "Couldn't find a direct flight it promised.",
    ],
    "RentalCars": [
        "Pickup time was wrong on the car booking.",
        "Car rental options were very limited.",
        "It booked the wrong car type.",
    ],
    "Banks": ["Transfer confusion, not sure it went through.", "Balance info felt unreliable."],
    "Buses": [
        "Bus times did not match the operator's site.",
        "Too many steps to buy a bus ticket.",
    ],
    "Hotels": ["Hotel details were incomplete."],
    "Services": ["Could not get an appointment slot."],
    "Restaurants": ["Table booking did not work."],
    "RideSharing": ["Ride price estimate was off."],
    OASST_DOMAIN: [
        "Answer was confidently wrong.",
        "Too generic, didn't answer my question.",
        "Way too long, I wanted a short answer.",
        "Code didn't run.",
    ],
}
DOMAIN_POSITIVE_COMMENTS = {
    "Music": ["Played exactly the song I wanted."],
    "Weather": ["Forecast was spot on."],
    "Alarm": ["Alarm set in seconds."],
    "Restaurants": ["Got a table for tonight, great."],
    "Events": ["Found great tickets."],
    OASST_DOMAIN: ["Great explanation.", "The code worked.", "Really thorough answer."],
}


# ----------------------------------------------------------------------------- helpers


def rng_for(stage: str) -> random.Random:
    """One independent, reproducible stream per stage (str seeds hash with SHA-512)."""
    return random.Random(f"kura-seeds:{SEED}:{stage}")


def fmt(ts: datetime) -> str:
    return ts.strftime(TS_FORMAT)


def natural_dialogue_key(dialogue_id: str) -> tuple[int, int]:
    a, b = dialogue_id.split("_")
    return int(a), int(b)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def weighted_index(rng: random.Random, cum: list[float]) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def clean_text(text: str) -> str:
    # The sources are clean (checked), but keep CSV/dbt loading safe regardless.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


# ----------------------------------------------------------------------------- conversations


def load_sgd(data_dir: Path) -> list[dict]:
    rng = rng_for("sgd-selection")
    dialogues = read_jsonl(data_dir / "sgd" / "dev.jsonl")
    by_domain: dict[str, list[dict]] = {}
    for d in dialogues:
        by_domain.setdefault(d["label_domain"], []).append(d)
    chosen = []
    for domain in sorted(by_domain):
        pool = sorted(by_domain[domain], key=lambda d: natural_dialogue_key(d["dialogue_id"]))
        single = [d for d in pool if d["single_domain"]]
        multi = [d for d in pool if not d["single_domain"]]
        picked = rng.sample(single, min(SGD_PER_DOMAIN, len(single)))
        if len(picked) < SGD_PER_DOMAIN:  # not needed for the dev split, kept for safety
            picked += rng.sample(multi, min(SGD_PER_DOMAIN - len(picked), len(multi)))
        picked.sort(key=lambda d: natural_dialogue_key(d["dialogue_id"]))
        for d in picked:
            turns = [
                {
                    "role": "user" if t["speaker"] == "USER" else "assistant",
                    "content": clean_text(t["text"]),
                }
                for t in d["turns"]
            ]
            failed = any(
                FAILURE_RE.search(t["text"]) for t in d["turns"] if t["speaker"] == "SYSTEM"
            )
            chosen.append(
                {
                    "conversation_id": f"sgd-{d['dialogue_id']}",
                    "source": "sgd",
                    "sample_domain": domain,
                    "turns": turns,
                    "friction": failed,
                }
            )
    return chosen


def load_oasst(data_dir: Path) -> list[dict]:
    role_map = {"prompter": "user", "user": "user", "assistant": "assistant"}
    out = []
    for t in read_jsonl(data_dir / "oasst" / "en_100_threads.jsonl"):
        turns = [
            {"role": role_map[m["role"]], "content": clean_text(m["text"])} for m in t["messages"]
        ]
        pushback = any(PUSHBACK_RE.search(m["content"]) for m in turns[1:] if m["role"] == "user")
        out.append(
            {
                "conversation_id": f"oasst-{t['message_tree_id']}",
                "source": "oasst",
                "sample_domain": OASST_DOMAIN,
                "turns": turns,
                "friction": pushback,
            }
        )
    return out


def day_weights(trend: float) -> list[float]:
    weights = []
    for day in range(WINDOW_DAYS):
        x = day / (WINDOW_DAYS - 1) * 2 - 1  # -1 .. 1 over the window
        weekday = (WINDOW_START + timedelta(days=day)).weekday()
        weights.append(math.exp(trend * 1.2 * x) * WEEKDAY_WEIGHT[weekday])
    return weights


def assign_start_times(convs: list[dict]) -> None:
    """Stratified draws from each domain's trend so the weekly shape is visible, not noise."""
    rng = rng_for("start-times")
    hour_cum = cumulative([float(w) for w in HOUR_WEIGHT])
    by_domain: dict[str, list[dict]] = {}
    for c in convs:
        by_domain.setdefault(c["sample_domain"], []).append(c)
    for domain in sorted(by_domain):
        members = by_domain[domain]
        cum = cumulative(day_weights(DOMAIN_PROFILE[domain][0]))
        n = len(members)
        times = []
        for i in range(n):
            u = (i + rng.random()) / n
            day = min(bisect.bisect_right(cum, u * cum[-1]), WINDOW_DAYS - 1)
            hour = weighted_index(rng, hour_cum)
            times.append(
                WINDOW_START
                + timedelta(
                    days=day, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60)
                )
            )
        order = list(range(n))
        rng.shuffle(order)
        for c, k in zip(members, order):
            c["created_at"] = times[k]


def assign_message_times(convs: list[dict]) -> None:
    rng = rng_for("message-times")
    for c in convs:
        t = c["created_at"]
        prev_len = 0
        for m in c["turns"]:
            if m is not c["turns"][0]:
                n = len(m["content"])
                if m["role"] == "assistant":  # generation time
                    delay = rng.randint(2, 9) + min(n // 300, 60)
                else:  # read the answer, think, type (long texts are pasted)
                    delay = rng.randint(6, 40) + min(prev_len // 40, 180) + min(n // 5, 240)
                t = t + timedelta(seconds=delay)
            m["created_at"] = t
            prev_len = len(m["content"])
        c["ended_at"] = t


# ----------------------------------------------------------------------------- users


def make_users() -> list[dict]:
    rng = rng_for("users")
    # Sign-ups from early 2024 to just before the end of the window, accelerating over time;
    # about a fifth sign up inside the sample window.
    first = datetime(2024, 1, 8)
    span = (WINDOW_START + timedelta(days=WINDOW_DAYS - 5) - first).total_seconds()
    signups = []
    for _ in range(N_USERS):
        x = rng.random() ** 0.55  # skew towards recent dates
        signups.append(first + timedelta(seconds=int(x * span)))
    signups.sort()
    plans = [p for p, k in PLAN_COUNTS.items() for _ in range(k)]
    rng.shuffle(plans)
    # Enterprise customers are older accounts: swap any late enterprise plan with an early
    # non-enterprise one.
    for i in range(N_USERS - 1, N_USERS // 2, -1):
        if plans[i] == "enterprise":
            j = next(j for j in range(N_USERS) if plans[j] != "enterprise")
            plans[i], plans[j] = plans[j], plans[i]
    country_cum = cumulative([float(w) for _, w in COUNTRIES])
    users = []
    for i, (signed_up, plan) in enumerate(zip(signups, plans), start=1):
        if plan == "free":
            mrr = 0.0
        elif plan == "pro":
            mrr = rng.choice([20.0, 20.0, 20.0, 16.67])  # monthly, or annual billed per month
        elif plan == "team":
            mrr = 30.0 * rng.randint(3, 25)
        else:
            mrr = float(round(rng.lognormvariate(math.log(6000), 0.75), -2))
        users.append(
            {
                "user_id": f"u{i:04d}",
                "plan": plan,
                "mrr": mrr,
                "country": COUNTRIES[weighted_index(rng, country_cum)][0],
                "signed_up_at": signed_up,
                "activity": rng.paretovariate(1.15) * PLAN_ACTIVITY[plan],
            }
        )
    return users


def assign_users(convs: list[dict], users: list[dict]) -> None:
    rng = rng_for("user-assignment")
    for c in sorted(convs, key=lambda c: (c["created_at"], c["conversation_id"])):
        eligible = [u for u in users if u["signed_up_at"] < c["created_at"]]
        weights = [
            min(u["activity"], 12.0) * PLAN_AFFINITY[u["plan"]].get(c["sample_domain"], 1.0)
            for u in eligible
        ]
        c["user"] = eligible[weighted_index(rng, cumulative(weights))]


# ----------------------------------------------------------------------------- feedback


def make_feedback(convs: list[dict]) -> list[dict]:
    rng = rng_for("feedback")
    rows = []
    for c in sorted(convs, key=lambda c: (c["created_at"], c["conversation_id"])):
        plan = c["user"]["plan"]
        domain = c["sample_domain"]
        _, sat_mean, drift = DOMAIN_PROFILE[domain]
        week = (c["created_at"] - WINDOW_START).days // 7
        latent = (
            sat_mean
            + drift * (week - 4.5)
            + PLAN_RATING_SHIFT[plan]
            - (1.2 if c["friction"] else 0.0)
            - (0.3 if len(c["turns"]) > 20 else 0.0)
            + rng.gauss(0, 0.85)
        )
        # Unhappy users are a little more likely to leave feedback.
        p = FEEDBACK_RATE[plan] + (0.08 if latent < 2.5 else 0.0)
        if rng.random() >= p:
            continue
        rating = max(1, min(5, int(math.floor(latent + 0.5))))
        if rating == 5:
            thumbs_up = True
        elif rating == 4:
            thumbs_up = rng.random() < 0.93
        elif rating == 3:
            thumbs_up = rng.random() < 0.4
        else:
            thumbs_up = rng.random() < 0.03
        comment = ""
        if rng.random() < (0.65 if rating <= 2 else 0.45):
            if rating == 4 and not thumbs_up:
                pool = NEUTRAL_COMMENTS
            elif rating >= 4:
                pool = POSITIVE_COMMENTS + DOMAIN_POSITIVE_COMMENTS.get(domain, []) * 3
            elif rating == 3:
                pool = NEUTRAL_COMMENTS
            else:
                pool = NEGATIVE_COMMENTS + DOMAIN_NEGATIVE_COMMENTS.get(domain, []) * 3
                if c["friction"] and c["source"] == "sgd":
                    pool = pool + FAILURE_COMMENTS * 3
            comment = rng.choice(pool)
        rows.append(
            {
                "conversation_id": c["conversation_id"],
                "thumbs_up": "true" if thumbs_up else "false",
                "rating": rating,
                "comment": comment,
                "created_at": c["ended_at"] + timedelta(seconds=rng.randint(5, 1800)),
            }
        )
    rows.sort(key=lambda r: (r["created_at"], r["conversation_id"]))
    for r in rows:
        r["created_at"] = fmt(r["created_at"])
    return rows


# ----------------------------------------------------------------------------- output


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(rows)


def fmt_money(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def write_all(out_dir: Path, convs: list[dict], users: list[dict], feedback: list[dict]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    convs = sorted(convs, key=lambda c: (c["created_at"], c["conversation_id"]))
    write_csv(
        out_dir / "kura_sample_conversations.csv",
        ["conversation_id", "user_id", "created_at", "source", "sample_domain"],
        [
            [
                c["conversation_id"],
                c["user"]["user_id"],
                fmt(c["created_at"]),
                c["source"],
                c["sample_domain"],
            ]
            for c in convs
        ],
    )
    write_csv(
        out_dir / "kura_sample_messages.csv",
        ["conversation_id", "message_index", "role", "content", "created_at"],
        [
            [c["conversation_id"], i, m["role"], m["content"], fmt(m["created_at"])]
            for c in convs
            for i, m in enumerate(c["turns"])
        ],
    )
    write_csv(
        out_dir / "kura_sample_feedback.csv",
        ["conversation_id", "thumbs_up", "rating", "comment", "created_at"],
        [
            [r["conversation_id"], r["thumbs_up"], r["rating"], r["comment"], r["created_at"]]
            for r in feedback
        ],
    )
    write_csv(
        out_dir / "kura_sample_users.csv",
        ["user_id", "plan", "mrr", "country", "signed_up_at"],
        [
            [u["user_id"], u["plan"], fmt_money(u["mrr"]), u["country"], fmt(u["signed_up_at"])]
            for u in users
        ],
    )


def copy_licenses(data_dir: Path, out_dir: Path) -> None:
    lic = out_dir / "licenses"
    lic.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir / "sgd" / "LICENSE.txt", lic / "SGD_LICENSE.txt")
    shutil.copyfile(data_dir / "oasst" / "LICENSE", lic / "OASST_LICENSE")


# ----------------------------------------------------------------------------- checks


def check(out_dir: Path) -> dict[str, int]:
    names = ["conversations", "messages", "feedback", "users"]
    raw = {}
    for n in names:
        with (out_dir / f"kura_sample_{n}.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        raw[n] = rows
    frames = {
        n: pd.read_csv(out_dir / f"kura_sample_{n}.csv", dtype=str, keep_default_na=False)
        for n in names
    }
    for n in names:
        assert len(frames[n]) == len(raw[n]), f"{n}: csv and pandas row counts differ"
        assert len(raw[n]) > 0, f"{n}: empty"

    conv, msg, fb, usr = (frames[n] for n in names)
    conv_ids = set(conv["conversation_id"])
    user_ids = set(usr["user_id"])
    assert conv["conversation_id"].is_unique
    assert usr["user_id"].is_unique
    assert fb["conversation_id"].is_unique
    assert not msg.duplicated(["conversation_id", "message_index"]).any()
    assert set(msg["conversation_id"]) == conv_ids, (
        "every conversation has messages, and only those"
    )
    assert set(fb["conversation_id"]) <= conv_ids
    assert set(conv["user_id"]) <= user_ids
    assert set(msg["role"]) == {"user", "assistant"}
    assert set(conv["source"]) == {"sgd", "oasst"}
    assert set(usr["plan"]) == set(PLAN_COUNTS)
    assert set(fb["thumbs_up"]) <= {"true", "false"}
    assert fb["rating"].astype(int).between(1, 5).all()
    assert (usr.loc[usr["plan"] == "free", "mrr"].astype(float) == 0).all()
    assert (usr.loc[usr["plan"] != "free", "mrr"].astype(float) > 0).all()
    assert usr["country"].str.fullmatch(r"[A-Z]{2}").all()
    for r in raw["messages"]:
        assert r["content"].strip(), f"empty content in {r['conversation_id']}"
        assert "\x00" not in r["content"], f"NUL byte in {r['conversation_id']}"
    # the csv module and pandas agree on the text
    assert list(msg["content"]) == [r["content"] for r in raw["messages"]]
    # message order and timestamps
    m = msg.assign(
        message_index=msg["message_index"].astype(int),
        ts=pd.to_datetime(msg["created_at"], format=TS_FORMAT),
    )
    for cid, g in m.groupby("conversation_id", sort=False):
        assert list(g["message_index"]) == list(range(len(g))), cid
        assert g["ts"].is_monotonic_increasing and g["ts"].is_unique, cid
    c_ts = pd.to_datetime(conv.set_index("conversation_id")["created_at"], format=TS_FORMAT)
    first = m[m["message_index"] == 0].set_index("conversation_id")["ts"]
    assert (first.reindex(c_ts.index) == c_ts).all(), "conversation created_at = first message"
    assert c_ts.min() >= WINDOW_START
    assert c_ts.max() < WINDOW_START + timedelta(days=WINDOW_DAYS)
    signed = pd.to_datetime(usr.set_index("user_id")["signed_up_at"], format=TS_FORMAT)
    assert (signed.reindex(conv["user_id"]).values < c_ts.values).all(), "user signed up first"
    last = m.groupby("conversation_id")["ts"].max()
    f_ts = pd.to_datetime(fb.set_index("conversation_id")["created_at"], format=TS_FORMAT)
    assert (f_ts > last.reindex(f_ts.index)).all(), "feedback after the conversation"
    total = sum((out_dir / f"kura_sample_{n}.csv").stat().st_size for n in names)
    assert total < 3_000_000, f"seeds too large: {total} bytes"
    return {n: len(raw[n]) for n in names} | {"bytes": total}


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder holding sgd/ and oasst/ (default: ../shared/data from the repo root)",
    )
    ap.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="where to write the seed CSVs (default: seeds/)",
    )
    args = ap.parse_args(argv)
    data_dir, out_dir = args.data_dir.resolve(), args.out_dir.resolve()

    convs = load_sgd(data_dir) + load_oasst(data_dir)
    assign_start_times(convs)
    assign_message_times(convs)
    users = make_users()
    assign_users(convs, users)
    feedback = make_feedback(convs)
    write_all(out_dir, convs, users, feedback)
    copy_licenses(data_dir, out_dir)

    counts = check(out_dir)
    print(f"wrote {out_dir}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    for n in ["conversations", "messages", "feedback", "users"]:
        p = out_dir / f"kura_sample_{n}.csv"
        print(f"  {hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
