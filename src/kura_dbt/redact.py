"""Offline redaction of contact details and payment data in free text.

``redact(text)`` replaces

* e-mail addresses                                  -> ``[EMAIL]``
* IPv6 and IPv4 addresses                           -> ``[IP]``
* payment card numbers (13-19 digits, Luhn-checked) -> ``[CARD]``
* phone numbers                                     -> ``[PHONE]``

and ``redaction_counts(text)`` says how many of each it replaced.

What counts as what (the rules are deliberately conservative: a false ``[PHONE]`` in a
summary is cheap, but a number that is obviously not contact data should survive):

* **Phone numbers** are recognised by their *shape*, never by digit count alone:
  an international number (``+44 20 7946 0958``, ``+1 (408) 247-8880``, ``+4915112345678``,
  ``0044 20 7946 0958``); a North-American number with separators (``408-247-8880``,
  ``(408) 247-8880``, ``1-800-555-0199``, ``408.247.8880``; with spaces only when no other
  number stands right beside it); a national number with a trunk ``0`` (then a digit 1-9)
  and separators, 9-12 digits (``020 7946 0958``, ``0171 1234567``,
  ``01 23 45 67 89``, ``030/1234567``); or any 7-15 digit number right after a word such as
  *phone*, *tel*, *mobile*, *call me*, *fax*, *WhatsApp* (``phone: 5551234``).
  Not phones: years (``2023``), prices (``$1,299.99``), times (``10:30``), dates
  (``2023-03-15``, ``01.02.2023``), US ZIP+4 codes (``02134-1234``), plain digit runs such as
  order numbers (``order 12345678``, ``4082478880`` without a phone keyword).
* **Cards**: 13-19 digits, optionally grouped with single spaces or dashes, starting with
  2-6 (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay), passing
  the Luhn check and not all one digit. A 16-digit number that fails Luhn is left alone.
* **IPv4**: a dotted quad of octets 0-255 (no leading zeros). A dotted quad directly after
  ``v``/``version``/``ver``/``release``/``build`` is a version number and is kept
  (``version 1.2.3.4``, ``v1.2.3.4``); a bare ``1.2.3.4`` is treated as an address.
  Three- or five-part dotted numbers are never addresses.
* **IPv6**: anything :mod:`ipaddress` accepts as IPv6, with at least three non-empty groups
  (an embedded IPv4 tail counts as two). ``::1`` and ``fe80::1`` (loopback, link-local: not
  identifying) and code such as ``a[::2]`` or ``std::vector`` are kept; times such as
  ``12:30:45`` and MAC addresses are not IPv6.

All patterns are compiled once. Each pattern can only start where the previous character
cannot continue the token (a look-behind), and every repetition is bounded, so a pass costs
time linear in the length of the text, including for adversarial input such as a
million digits or colons.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

__all__ = ["MARKERS", "PLACEHOLDERS", "redact", "redact_with_counts", "redaction_counts"]

PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "ip": "[IP]",
    "card": "[CARD]",
    "phone": "[PHONE]",
}
# Every marker redaction leaves in a summary: these patterns' and the local summariser's
# details (kura_dbt.audit.offline.REDACTED_ENTITIES: a person's name, a street address, an
# account number). What is embedded leaves them out (kura_dbt.sql.embedded_text).
MARKERS: tuple[str, ...] = (*PLACEHOLDERS.values(), "[NAME]", "[ADDRESS]", "[ACCOUNT]")

# ----------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9._%+\-]{1,64}"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9\-])"
)

# ----------------------------------------------------------------------------- IP addresses

_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
    r"|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])(?!\.\d)"
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)(?!\w)")
# Text right before a dotted quad that makes it a version number, not an address.
_VERSION_BEFORE = re.compile(r"(?:\bversion|\bver\.?|\brelease|\bbuild|\bv)\s*$", re.IGNORECASE)

# ----------------------------------------------------------------------------- cards

_CARD = re.compile(r"(?<![\d+])(?<!\d[ \-])[2-6](?:[ \-]?\d){12,18}(?![ \-]?\d)")

# ----------------------------------------------------------------------------- phones

# A phone number may not start right after a word character, '+', or a digit followed by a
# dot, dash or slash (then it would be the tail of a longer number), and may not be followed
# by a word character or by such a separator and a digit. A space does not join numbers:
# "call 408-247-8880 24 hours a day" is a phone number followed by other text.
_PHONE_BEFORE = r"(?<![\w+])(?<!\d[.\-/])"
_PHONE_AFTER = r"(?![.\-/]?\d)(?!\w)"

_PHONE_INTL = re.compile(
    _PHONE_BEFORE
    + r"(?:\+\d{8,15}"  # +4915112345678
    + r"|(?:\+|00)[1-9]\d{0,2}"  # +44 / 0044
    + r"(?:[ .\-]?\(\d{1,4}\))?"  # (0) or (408)
    + r"[ .\-]?\d{1,8}(?:[ .\-]\d{1,8}){0,6})"
    + _PHONE_AFTER
)
_PHONE_NANP = re.compile(
    _PHONE_BEFORE + r"(?:1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}" + _PHONE_AFTER
)
_PHONE_TRUNK = re.compile(_PHONE_BEFORE + r"0[1-9]\d{0,3}(?:[ /.\-]\d{2,8}){1,4}" + _PHONE_AFTER)
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|telephone|tel|mobile|cell(?:phone)?|fax|whats?app|sms|call\s+me|text\s+me"
    r"|contact\s+me)\b"
    r"(?:\s*(?:number|no|nr|num)\b)?"
    r"[\s:.,#\-]{0,4}(?:(?:is|at|on|via)\b[\s:]{0,3}){0,2}"
    r"(\+?\(?\d[\d ().\-]{5,20}\d)" + _PHONE_AFTER,
    re.IGNORECASE,
)
_ZIP_PLUS_4 = re.compile(r"0\d{4}-\d{4}")
_DIGIT = re.compile(r"\d")

# ----------------------------------------------------------------------------- checks


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Validators get the match and return how many characters of it (from its start) are the
# redactable item: 0 rejects the match, len(match) accepts all of it. Phone rules may accept a
# prefix that ends before a space ("020 7946 0958 24 hours": the number, then other text).


def _all(match: re.Match[str]) -> int:
    return len(match.group(0))


def _card_ok(match: re.Match[str]) -> int:
    digits = _digits(match.group(0))
    ok = 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn_ok(digits)
    return len(match.group(0)) if ok else 0


def _ipv6_ok(match: re.Match[str]) -> int:
    candidate = match.group(0)
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return 0
    groups = [g for g in candidate.split(":") if g]
    weight = sum(2 if "." in g else 1 for g in groups)
    return len(candidate) if weight >= 3 else 0


def _ipv4_ok(match: re.Match[str]) -> int:
    start = match.start()
    if _VERSION_BEFORE.search(match.string, max(0, start - 12), start):
        return 0
    return len(match.group(0))


def _longest_prefix(text: str, ok: Callable[[str], bool]) -> int:
    """Length of the longest prefix of ``text`` that ends where a space follows (or at the
    end) and passes ``ok``; 0 if none does."""
    if ok(text):
        return len(text)
    end = text.rfind(" ")
    while end > 0:
        prefix = text[:end].rstrip()
        if prefix and ok(prefix):
            return len(prefix)
        end = text.rfind(" ", 0, end)
    return 0


def _intl_ok(match: re.Match[str]) -> int:
    def ok(text: str) -> bool:
        n = len(_digits(text))
        return (10 if text.startswith("00") else 8) <= n <= 15

    return _longest_prefix(match.group(0), ok)


def _nanp_ok(match: re.Match[str]) -> int:
    # "408 247 8880" separated by spaces only is also what a list of numbers looks like:
    # accept it only when no other number stands right before or after it.
    text = match.group(0)
    if "(" in text or "-" in text or "." in text:
        return len(text)
    s, start, end = match.string, match.start(), match.end()
    before = s[max(0, start - 2) : start]
    after = s[end : end + 2]
    if (len(before) == 2 and before[1] == " " and before[0].isdigit()) or (
        len(after) == 2 and after[0] == " " and after[1].isdigit()
    ):
        return 0
    return len(text)


def _trunk_ok(match: re.Match[str]) -> int:
    def ok(text: str) -> bool:
        digits = _digits(text)
        return not _ZIP_PLUS_4.fullmatch(text) and 9 <= len(digits) <= 12 and len(set(digits)) > 2

    return _longest_prefix(match.group(0), ok)


def _context_ok(match: re.Match[str]) -> int:
    def ok(text: str) -> bool:
        return 7 <= len(_digits(text)) <= 15

    return _longest_prefix(match.group(1), ok)


# (kind, pattern, validator, group to replace). Order matters: e-mails and addresses first
# (they contain digits that the number rules would otherwise take), cards before phones.
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], int], int], ...] = (
    ("email", _EMAIL, _all, 0),
    ("ip", _IPV6_CANDIDATE, _ipv6_ok, 0),
    ("ip", _IPV4, _ipv4_ok, 0),
    ("card", _CARD, _card_ok, 0),
    ("phone", _PHONE_INTL, _intl_ok, 0),
    ("phone", _PHONE_NANP, _nanp_ok, 0),
    ("phone", _PHONE_TRUNK, _trunk_ok, 0),
    ("phone", _PHONE_CONTEXT, _context_ok, 1),
)


def _redact(text: str) -> tuple[str, dict[str, int]]:
    counts = {kind: 0 for kind in PLACEHOLDERS}
    if not text:
        return text, counts
    for kind, pattern, accept, group in _RULES:
        # cheap pre-checks: a rule whose trigger character is absent cannot match
        if kind == "email":
            if "@" not in text:
                continue
        elif pattern is _IPV6_CANDIDATE:
            if ":" not in text:
                continue
        elif not _DIGIT.search(text):
            continue
        placeholder = PLACEHOLDERS[kind]

        def replace(match, kind=kind, accept=accept, group=group, placeholder=placeholder):
            length = accept(match)
            whole = match.group(0)
            if length <= 0:
                return whole
            counts[kind] += 1
            offset = match.start(group) - match.start()
            return whole[:offset] + placeholder + whole[offset + length :]

        text = pattern.sub(replace, text)
    return text, counts


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IP addresses, card numbers and phone numbers replaced
    by ``[EMAIL]``, ``[IP]``, ``[CARD]`` and ``[PHONE]``. ``None`` and ``""`` come back as
    they are. Idempotent: redacting a redacted text changes nothing."""
    if text is None:
        return text
    return _redact(text)[0]


def redact_with_counts(text: str) -> tuple[str, dict[str, int]]:
    """``(redact(text), redaction_counts(text))`` in one pass."""
    if not text:
        return text, {kind: 0 for kind in PLACEHOLDERS}
    return _redact(text)


def redaction_counts(text: str) -> dict[str, int]:
    """How many e-mails, IPs, cards and phones ``redact(text)`` replaces, e.g.
    ``{"email": 1, "ip": 0, "card": 0, "phone": 2}`` (every kind is always present)."""
    if not text:
        return {kind: 0 for kind in PLACEHOLDERS}
    return _redact(text)[1]
