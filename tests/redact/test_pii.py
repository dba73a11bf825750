"""The PII detector against Presidio itself: on a corpus of real-looking text and of random
digit-and-letter noise, every value Presidio's recognizers report is found, with the same kind."""

from __future__ import annotations

import random
from typing import Any

import pytest

from deskscribe.redact.pii import iban_valid, luhn_valid, pii_spans

MIN_SCORE = 0.3  # the score below which the recorder never acted on a Presidio result
SAMPLES = [
    "card 4111 1111 1111 1111 exp 12/29", "Visa 4012-8888-8888-1881", "amex 378282246310005 ok",
    "4111111111111112 fails Luhn", "mail jane.doe+tag@example.co.uk now", "x@localhost is no address",
    "a@b.invalidtld", "first.last@sub.example.com;", "call +1 202-555-0123 or (415) 555-2671",
    "ring 020 7946 0018 in London", "+49 30 901820", "tel +33 1 42 68 53 00", "+91 98765 43210",
    "IBAN GB82 WEST 1234 5698 7654 32 paid", "DE89370400440532013000", "FR1420041010050500013M02606",
    "GB82WEST12345698765431 bad checksum", "ssn 123-45-6789", "ssn 078 05 1120", "id 219.09.9999",
    "host 192.168.10.20 and 10.0.0.1/24", "v6 2001:db8::ff00:42:8329 up", "::ffff:192.0.2.128",
    "fe80::1%eth0", "999.1.1.1 is not an address", "version 1.2.3.4.5", "order 2024-11-05 12:30",
    "ticket PRJ-1234 and invoice 2025/778", "Meeting at 10:30 in room 4.12",
    "NL91ABNA0417164300", "ES9121000418450200051332", "BE68 5390 0754 7034", "CH93 0076 2011 6238 5295 7",
    "IT60X0542811101000000123456", "NO9386011117947", "NL91ABNA0417164301",
]


@pytest.fixture(scope="module")
def presidio() -> Any:
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmail(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    registry = RecognizerRegistry(recognizers=[CreditCardRecognizer(), OfflineEmail(), IbanRecognizer(),
                                               IpRecognizer(), PhoneRecognizer(), UsSsnRecognizer()])
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _noise(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(3, 9)):
        kind = rng.randrange(5)
        if kind == 0:
            parts.append("".join(rng.choice("0123456789") for _ in range(rng.randrange(3, 20))))
        elif kind == 1:
            parts.append("-".join(str(rng.randrange(1000)) for _ in range(rng.randrange(2, 5))))
        elif kind == 2:
            parts.append(".".join(str(rng.randrange(300)) for _ in range(4)))
        elif kind == 3:
            parts.append(rng.choice(["+1 ", "+44 ", "(", ""]) + " ".join(
                str(rng.randrange(100, 10000)) for _ in range(rng.randrange(2, 4))))
        else:
            parts.append(rng.choice(["total", "ref", "GB", "DE89", "user@", "example.com", "@", "::"]))
    return " ".join(parts)


def _corpus() -> list[str]:
    rng = random.Random(7)
    return SAMPLES + [_noise(rng) for _ in range(600)]


def test_every_value_presidio_reports_is_found_with_its_kind(presidio: Any) -> None:
    missed = []
    for text in _corpus():
        ours = pii_spans(text)
        for r in presidio.analyze(text, language="en"):
            if r.score < MIN_SCORE:
                continue
            if not any(s.kind == r.entity_type and s.start <= r.start and r.end <= s.end for s in ours):
                missed.append((text, r.entity_type, text[r.start:r.end]))
    assert missed == []


def test_the_samples_find_what_a_reader_would_call_pii() -> None:
    found = {(text, text[s.start:s.end], s.kind) for text in SAMPLES for s in pii_spans(text)}
    assert ("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", "CREDIT_CARD") in found
    assert ("mail jane.doe+tag@example.co.uk now", "jane.doe+tag@example.co.uk", "EMAIL_ADDRESS") in found
    assert ("IBAN GB82 WEST 1234 5698 7654 32 paid", "GB82 WEST 1234 5698 7654 32", "IBAN_CODE") in found
    assert ("ssn 078 05 1120", "078 05 1120", "US_SSN") in found
    assert ("v6 2001:db8::ff00:42:8329 up", "2001:db8::ff00:42:8329", "IP_ADDRESS") in found
    assert ("call +1 202-555-0123 or (415) 555-2671", "+1 202-555-0123", "PHONE_NUMBER") in found
    rejected = ["4111111111111112 fails Luhn", "a@b.invalidtld", "GB82WEST12345698765431 bad checksum",
                "999.1.1.1 is not an address", "Meeting at 10:30 in room 4.12"]
    assert [t for t, _, _ in found if t in rejected] == []


def test_the_checksums_accept_valid_numbers_and_refuse_one_changed_digit() -> None:
    for card in ("4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"):
        assert luhn_valid(card)
        assert not luhn_valid(card[:-1] + str((int(card[-1]) + 1) % 10))
    for iban in ("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "NO9386011117947",
                 "MT84MALT011000012345MTLCAST001S", "fr1420041010050500013m02606"):
        assert iban_valid(iban)
        assert not iban_valid(iban[:-1] + ("0" if iban[-1] != "0" else "1"))
    assert not iban_valid("GB82WEST123")  # too short to be any country's
