"""PII in text: payment cards, e-mail addresses, phone numbers, IBANs, US SSNs, IP addresses.

These are Presidio's pattern recognizers (its expressions, scores and validation rules) run
without Presidio's analyzer, which imports spaCy even with its no-op NLP engine: about 90 MiB
resident in a recorder that loads no language model. Phone numbers are validated by
phonenumbers (which Presidio's phone recognizer wraps), e-mail domains by the public-suffix
snapshot publicsuffixlist ships (never fetched), addresses by ``ipaddress``. The Luhn and
IBAN (ISO 7064 mod 97-10) checksums are written here: python-stdnum has both, but importing
it loads pydoc, ssl and its number registry, over 10 MiB resident for two five-line sums.
The test suite runs Presidio itself as the oracle: what it finds, this finds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")

_CARD = re.compile(r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))"
                   r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b")
_EMAIL = re.compile(r"\b((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,}"
                    r"[!#$%&'*+\-/=?^_`{|}~\w]))[@]\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b")
_IBAN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6})"
                   r"((?:[ -]?[A-Z0-9]{4})?)((?:[ -]?[A-Z0-9]{1,3})?)(?![A-Z0-9])")
# Presidio's medium SSN pattern; its checks for never-issued numbers are left out on purpose:
# a number in SSN shape is redacted regardless.
_SSN = re.compile(r"\b\d{3}[- .]\d{2}[- .]\d{4}\b")
_V4 = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_H = r"[0-9A-Fa-f]{1,4}"
_P6 = r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?"
_IPS = [re.compile(p) for p in (
    rf"(?<![\w:])::(?:ffff(?::0{{1,4}})?:)?(?:{_V4}\.){{3}}{_V4}{_P6}\b",
    rf"(?<![\w:])(?:(?:{_H}:){{1,5}}:(?:{_H}:){{0,4}}|(?:{_H}:){{6}})(?:{_V4}\.){{3}}{_V4}{_P6}\b",
    rf"\b{_V4}\.{_V4}\.{_V4}\.{_V4}(?:/(?:[0-2]?\d|3[0-2]))?\b",
    rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|:(?::{_H}){{1,7}}|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}|{_H}:(?::{_H}){{1,6}}|:(?::{_H}){{1,6}})(?:%[0-9a-zA-Z]+)?{_P6}"
    r"(?![\w:]|\.\d)",
)]


class Span(NamedTuple):
    start: int
    end: int
    kind: str


def pii_spans(text: str) -> list[Span]:
    """Every PII value in ``text``, overlapping spans left for the caller to merge."""
    return [*_cards(text), *_emails(text), *_ibans(text), *_ips(text), *_phones(text),
            *(Span(m.start(), m.end(), "US_SSN") for m in _SSN.finditer(text))]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, d in enumerate(int(c) for c in reversed(digits)):
        total += d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d)
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """Country code, check digits and BBAN, whose mod 97-10 sum with the first four
    characters moved to the end is 1."""
    compact = re.sub(r"[ -]", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        if luhn_valid(re.sub(r"[- ]", "", m.group())):
            yield Span(m.start(), m.end(), "CREDIT_CARD")


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        domain = m.group().rpartition("@")[2].lower()
        if _suffixes().privatesuffix(domain) is not None:
            yield Span(m.start(), m.end(), "EMAIL_ADDRESS")


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        for group in (3, 2, 1):  # the longest reading that validates, as Presidio tries them
            end = m.end(group) if m.group(group) else m.end(1)
            if iban_valid(text[m.start():end]):
                yield Span(m.start(), end, "IBAN_CODE")
                break


def _ips(text: str) -> Iterator[Span]:
    for pattern in _IPS:
        for m in pattern.finditer(text):
            try:
                ipaddress.ip_interface(m.group())
            except ValueError:
                continue
            yield Span(m.start(), m.end(), "IP_ADDRESS")


def _phones(text: str) -> Iterator[Span]:
    import phonenumbers

    for region in PHONE_REGIONS:
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            yield Span(m.start, m.end, "PHONE_NUMBER")


@cache
def _suffixes() -> Any:
    """ICANN suffixes only, unknown ones refused: ``a@b.invalidtld`` is not an address."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(accept_unknown=False, only_icann=True)
