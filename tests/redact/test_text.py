"""Text redaction rules, table-driven against the real detectors (offline)."""

from __future__ import annotations

import random

import pytest

from deskscribe.redact.text import TextScanner, fake, partial_findings, replace


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


@pytest.mark.parametrize(("text", "start", "end", "expected"), [
    # an address cut after its "@": any part of the domain, or none, may show
    ("Approved by contact name.surname@domain-ex\n", False, True, [("name.surname@domain-ex", "EMAIL_ADDRESS")]),
    ("mail x@dom", False, True, [("x@dom", "EMAIL_ADDRESS")]),
    ("send it to jane.doe@\n", False, True, [("jane.doe@", "EMAIL_ADDRESS")]),
    ("mail canary.person@exam |\n", False, True, [("canary.person@exam", "EMAIL_ADDRESS")]),  # half a glyph
    ("mail canary,person@exam\n", False, True, [("canary,person@exam", "EMAIL_ADDRESS")]),  # "." read as ","
    # card groups: two or more groups of four, or eight digits in a row
    ("Card on file 4556 7375 86\n", False, True, [("4556 7375 86", "CREDIT_CARD")]),
    ("card 4556-7375\n", False, True, [("4556-7375", "CREDIT_CARD")]),
    ("card 45567375868\n", False, True, [("45567375868", "CREDIT_CARD")]),
    ("5 8689 9855 exp 12/29\n", True, False, [("5 8689 9855", "CREDIT_CARD")]),
    ("7375 8689 9855 exp\n", True, False, [("7375 8689 9855", "CREDIT_CARD")]),
    # an IBAN's country, check digits and four or more characters
    ("iban DE89 3704 0044 05\n", False, True, [("DE89 3704 0044 05", "IBAN_CODE")]),
    ("pay to GB82WEST1234\n", False, True, [("GB82WEST1234", "IBAN_CODE")]),
    # a well-known token prefix with some of the token
    ("key sk_live_51Hcan\n", False, True, [("sk_live_51Hcan", "SECRET")]),
    ("token ghp_Canary01\n", False, True, [("ghp_Canary01", "SECRET")]),
])
def test_values_cut_at_an_edge_are_found(text: str, start: bool, end: bool,
                                         expected: list[tuple[str, str]]) -> None:
    found = partial_findings(text, start=start, end=end)
    assert [(text[f.start:f.end], f.kind) for f in found] == expected


@pytest.mark.parametrize(("text", "start", "end"), [
    ("Approved by the finance team\n", True, True),
    ("information\n", True, True),
    ("the information desk\n", True, True),
    ("Quarterly report for 2024\n", True, True),
    ("budget 2024 2025\n", True, False),  # years at a line start are no card
    ("20240101 minutes\n", True, False),  # nor is a date
    ("4556 7\n", False, True),  # under eight digits: nothing to tell
    ("total 1,234,567.89\n", True, True),
    ("call +1 212-555-0143\n", False, True),  # a phone number's groups are not four
    ("iban DE89 37\n", False, True),
    ("see @domain.com for\n", True, True),  # no one's address
    ("rname@domain.com for questions\n", True, False),  # a whole-looking address: the scanner's
    ("ping @alice\n", False, True),
    ("bash-5.2# echo done\n", True, True),
    ("risk-management\n", False, True),
    ("mail canary.person@exam\n", True, False),  # the end is not cut: the scanner decides
    ("card 4556 7375 86 ok\n", False, True),  # not at the end
])
def test_ordinary_text_at_an_edge_is_left_alone(text: str, start: bool, end: bool) -> None:
    assert partial_findings(text, start=start, end=end) == []


@pytest.mark.parametrize(("text", "start", "end", "boxed"), [
    ("Xw9Lp4Zr8Tn5Kd on the account", True, False, "Xw9Lp4Zr8Tn5Kd"),  # a token scrolled out at the left
    ("the deploy token Zx9QrT7Lp2W8", False, True, "Zx9QrT7Lp2W8"),  # cut at the right
    ("Quarterly2026Report is due", True, False, None),  # a name whose words meet
    ("Xw9Lp4Zr8Tn5Kd on the account", False, False, None),  # no cut: the scanner's 20 apply
    ("see Xw9Lp4Zr8Tn5Kd please", True, True, None),  # not beside the cut
])
def test_the_rest_of_a_token_cut_at_an_edge(text: str, start: bool, end: bool, boxed: str | None) -> None:
    found = [text[f.start:f.end] for f in partial_findings(text, start=start, end=end)]
    assert found == ([boxed] if boxed else [])
