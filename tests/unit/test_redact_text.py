"""Text redaction rules, table-driven against the real Presidio recognizers (offline)."""

from __future__ import annotations

import random

import pytest

from deskscribe.redact.text import TextScanner, fake, replace


@pytest.fixture(scope="module")
def scanner() -> TextScanner:
    return TextScanner(deny_list=["Jane Roe", "Projekt Falke"])


@pytest.mark.parametrize(("text", "expected"), [
    ("Card 4111 1111 1111 1111 exp 12/29", "Card <CREDIT_CARD> exp 12/29"),
    ("card 4111111111111111", "card <CREDIT_CARD>"),
    ("mail jane.doe@example.com please", "mail <EMAIL_ADDRESS> please"),
    ("ssn 536-22-8741", "ssn <US_SSN>"),
    ("call +1 212-555-0143 now", "call <PHONE_NUMBER> now"),
    ("host 10.1.2.3 down", "host <IP_ADDRESS> down"),
    ("iban DE89370400440532013000", "iban <IBAN_CODE>"),
    ("key sk_live_51Habc9XyZ12Qw8rTu0PLmn ok", "key <SECRET> ok"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "<SECRET>"),
    ("AKIAIOSFODNN7EXAMPLE", "<SECRET>"),
    ("-----BEGIN RSA PRIVATE KEY-----", "<SECRET>"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "<SECRET>"),
    ("pw aB3dE5fG7hJ9kL1mN2pQ", "pw <SECRET>"),
    ("hash $1$3ORtwAxu$huOuGumLnjThU8cDoYMpX1 ok", "hash <SECRET> ok"),
    ("meet jane roe tomorrow", "meet <NAME> tomorrow"),
    ("about Projekt  Falke", "about <NAME>"),
])
def test_findings_are_replaced_by_placeholders(scanner: TextScanner, text: str, expected: str) -> None:
    assert replace(text, scanner.scan(text)).text == expected


@pytest.mark.parametrize("text", [
    "Hello, World! version 2.3.1 on 2026-11-22",
    "/usr/local/bin/python3 --version",
    "total 1234 items 5678, PO 100023",
    "the quick brown fox jumps over the lazy dog",
    "Janet Roebuck",  # a deny-listed name inside other words is not that name
    "=SUM(B2:B14)",
])
def test_ordinary_text_is_left_alone(scanner: TextScanner, text: str) -> None:
    assert scanner.scan(text) == []


def test_synthetic_values_keep_the_kind_and_never_the_value(scanner: TextScanner) -> None:
    text = "card 4111 1111 1111 1111 to jane.doe@example.com, ssn 536-22-8741, key sk_live_51Habc9XyZ12Qw8rTu0PLmn"
    red = replace(text, scanner.scan(text), synthetic=True, seed=7)
    for original in ("4111", "jane.doe", "536-22", "sk_live"):
        assert original not in red.text
    found = {f.kind for f in scanner.scan(red.text)}
    assert {"CREDIT_CARD", "EMAIL_ADDRESS", "US_SSN"} <= found  # realistic: detectors accept them
    assert "<SECRET>" in red.text  # secrets are never faked
    assert red.values == ("4111 1111 1111 1111", "jane.doe@example.com", "536-22-8741",
                          "sk_live_51Habc9XyZ12Qw8rTu0PLmn")


def test_fake_cards_pass_luhn() -> None:
    rng = random.Random(1)
    for _ in range(50):
        digits = [int(c) for c in fake("CREDIT_CARD", rng) if c.isdigit()]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(reversed(digits)))
        assert len(digits) == 16 and total % 10 == 0
