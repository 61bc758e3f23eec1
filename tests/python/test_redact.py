"""Redaction of e-mails, phones, cards and IP addresses, and the numbers it must leave alone."""

from __future__ import annotations

import time

import pytest

from kura_dbt.redact import redact, redact_with_counts, redaction_counts


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe@example.com",
        "JANE_D+tag@mail.example.co.uk",
        "a1%b-c@sub-domain.example.org",
        "x@example.museum",
    ],
)
def test_emails_are_redacted(email):
    text = f"Write to {email}, please."
    assert redact(text) == "Write to [EMAIL], please."
    assert redaction_counts(text)["email"] == 1


@pytest.mark.parametrize(
    "phone",
    [
        # international
        "+44 20 7946 0958",
        "+1 (408) 247-8880",
        "+4915112345678",
        "+49 (0)30 1234567",
        "+33 1 23 45 67 89",
        "0044 20 7946 0958",
        # North American
        "408-247-8880",
        "(408) 247-8880",
        "(408)247-8880",
        "408.247.8880",
        "1-800-555-0199",
        "408 247 8880",
        # national numbers with a trunk 0
        "020 7946 0958",
        "07700 900123",
        "030 12345678",
        "0171 1234567",
        "030/1234567",
        "01 23 45 67 89",
        "01.23.45.67.89",
    ],
)
def test_phone_formats_are_redacted(phone):
    text = f"Call {phone} today."
    assert redact(text) == "Call [PHONE] today."
    assert redaction_counts(text) == {"email": 0, "ip": 0, "card": 0, "phone": 1}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("phone: 5551234", "phone: [PHONE]"),
        ("my mobile is 4155552671.", "my mobile is [PHONE]."),
        ("Tel. 4155552671", "Tel. [PHONE]"),
        ("WhatsApp me on +4915112345678", "WhatsApp me on [PHONE]"),
        # a number followed by other numbers after a space is still a number
        ("Call 408-247-8880 24 hours a day", "Call [PHONE] 24 hours a day"),
        ("Call 020 7946 0958 24 hours a day", "Call [PHONE] 24 hours a day"),
        ("Room 12 408-247-8880", "Room 12 [PHONE]"),
    ],
)
def test_phones_in_context(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",  # Visa test number
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555 5555 5555 4444",  # Mastercard
        "3782 822463 10005",  # Amex, 15 digits
        "6011 0009 9013 9424",  # Discover
        "4222222222222",  # 13-digit Visa
    ],
)
def test_cards_are_redacted(card):
    text = f"my card is {card}, expiry 12/27"
    assert redact(text) == "my card is [CARD], expiry 12/27"
    assert redaction_counts(text)["card"] == 1


@pytest.mark.parametrize(
    "address",
    [
        "192.168.1.10",
        "10.0.0.1",
        "8.8.8.8",
        "255.255.255.255",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:db8:85a3::8a2e:370:7334",
        "2001:db8::1",
        "::ffff:192.0.2.128",
        "DEAD:BEEF::CAFE:1",
    ],
)
def test_ip_addresses_are_redacted(address):
    text = f"the server at {address} is down."
    assert redact(text) == "the server at [IP] is down."
    assert redaction_counts(text)["ip"] == 1


def test_ip_with_port_and_in_url():
    assert redact("http://192.168.0.1:8080/admin") == "http://[IP]:8080/admin"
    assert redact("ssh root@10.1.2.3") == "ssh root@[IP]"


@pytest.mark.parametrize(
    "text",
    [
        "In 2023 we moved; the war ended in 1945.",
        "It costs $1,299.99 or €45.50, about 1299 dollars.",
        "Order 12345678 and order #987654321 were shipped.",
        "Invoice 4082478880 is due.",  # 10 digits, no separators, no phone word
        "Meet me at 10:30 or 14:45:10.",
        "Dates: 2023-03-15, 01.02.2023, 03/15/2023, 1990-2000.",
        "ZIP 02134-1234 and 94103-1234.",
        "Pi is 3.141592653589793 and e is 2.71828.",
        "Upgrade to version 1.2.3.4 or v2.0.1.7, or 1.2.3; release 10.4.2.1.",
        "Five parts 1.2.3.4.5 is not an address.",
        "ISBN 978-3-16-148410-0.",
        "Timestamp 1699999999999 ms.",
        "A list: 100 200 3000 4000.",
        "Use a[::2] and std::vector<int>; loopback ::1 and fe80::1 are not identifying.",
        "MAC 00:1A:2B:3C:4D:5E and time 12:30:45.",
        "Call me at 10:30 tomorrow.",
        "The reservation is for 2 people at 11:30 am at 377 Santana Row #1000.",
    ],
)
def test_ordinary_numbers_are_kept(text):
    assert redact(text) == text
    assert sum(redaction_counts(text).values()) == 0


def test_card_number_failing_luhn_is_not_a_card():
    text = "ref 4111 1111 1111 1112 and 1234567812345678"
    assert redact(text) == text


def test_card_rules_digit_count_and_issuer():
    # 20 digits is too long; a Luhn-valid number starting with 1, 7, 8, 9 or 0 is not a card
    assert redact("4111 1111 1111 1111 1111") == "4111 1111 1111 1111 1111"
    assert redact("id 79927398713") == "id 79927398713"
    assert redact("0000 0000 0000 0000") == "0000 0000 0000 0000"


def test_counts_cover_every_kind_and_match_redact():
    text = (
        "mail a@b.io or c@d.org; call +44 20 7946 0958; card 4111 1111 1111 1111; "
        "host 10.0.0.1 and 2001:db8::1"
    )
    redacted, counts = redact_with_counts(text)
    assert counts == {"email": 2, "ip": 2, "card": 1, "phone": 1}
    assert redaction_counts(text) == counts
    assert redacted == redact(text)
    assert redacted == ("mail [EMAIL] or [EMAIL]; call [PHONE]; card [CARD]; host [IP] and [IP]")
    assert redaction_counts("") == {"email": 0, "ip": 0, "card": 0, "phone": 0}


def test_redact_is_idempotent_and_keeps_empty_text():
    text = "Reach me at jane@example.com or 408-247-8880 from 10.0.0.1."
    once = redact(text)
    assert redact(once) == once
    assert redact("") == ""
    assert redact("no personal data here") == "no personal data here"


@pytest.mark.parametrize(
    "unit",
    ["1", "1 ", "1.", "1:", "a.", ":", "a@", "+1", "(1", "0 ", "1-", "aa:"],
)
def test_adversarial_inputs_take_linear_time(unit):
    text = unit * (200_000 // len(unit))
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 1.0
