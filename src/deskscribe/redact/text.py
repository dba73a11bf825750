"""Finding and replacing sensitive text: PII, secrets and an organisation deny-list.

PII uses Presidio's pattern recognizers (Luhn-checked cards, e-mail, phone, IBAN, US SSN, IP)
with its no-op NLP engine, so nothing is downloaded and no model is loaded. Presidio has no
detector for credentials, so the secret rules (well-known token prefixes, JWTs, private-key
headers, high-entropy strings) are written here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SECRET = "SECRET"
PASSWORD = "PASSWORD"
DENIED = "NAME"
PII_ENTITIES = ("CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
MIN_SCORE = 0.3

_SECRET_PATTERNS = [re.compile(p) for p in (
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",  # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe
    r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI-style keys
    r"\bAIza[0-9A-Za-z_-]{30,}",  # Google API key
    r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"\$(?:1|2[aby]?|5|6|y|argon2i?d?)\$[./A-Za-z0-9$=,]{8,}",  # crypt(3) password hashes
)]
_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.]{20,}")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """Text after replacement, which kinds were found and the original values (kept in
    memory only, so the frame stage can box the same text on screen)."""

    text: str
    kinds: tuple[str, ...]
    values: tuple[str, ...]


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def _looks_random(tok: str) -> bool:
    """Generated credentials mix character classes and are dense; words and paths are not."""
    classes = sum(bool(re.search(p, tok)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 3 and entropy(tok) >= 3.5 and not tok.startswith(("/", "http"))


def secret_findings(text: str) -> list[Finding]:
    out = [Finding(m.start(), m.end(), SECRET) for p in _SECRET_PATTERNS for m in p.finditer(text)]
    out += [Finding(m.start(), m.end(), SECRET) for m in _TOKEN.finditer(text) if _looks_random(m.group())]
    return out


def deny_findings(text: str, deny: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for term in deny:
        if term.strip():
            pat = r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)"
            out += [Finding(m.start(), m.end(), DENIED) for m in re.finditer(pat, text, re.IGNORECASE)]
    return out


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Overlapping findings become one span; the first-starting kind names it."""
    out: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if out and f.start < out[-1].end:
            last = out[-1]
            out[-1] = Finding(last.start, max(last.end, f.end), last.kind)
        else:
            out.append(f)
    return out


class TextScanner:
    """All detectors behind one call. Building it loads Presidio (about two seconds), so
    the recorder builds one before capture starts."""

    def __init__(self, *, deny_list: Sequence[str] = ()) -> None:
        self._deny = tuple(deny_list)
        self._analyzer = _presidio()

    def scan(self, text: str) -> list[Finding]:
        if not text.strip():
            return []
        found = [Finding(r.start, r.end, r.entity_type)
                 for r in self._analyzer.analyze(text, language="en", entities=list(PII_ENTITIES))
                 if r.score >= MIN_SCORE]
        # Presidio's SSN recognizer skips numbers it thinks were never issued; a number in
        # SSN shape is redacted regardless.
        found += [Finding(m.start(), m.end(), "US_SSN") for m in _SSN.finditer(text)]
        return merge(found + secret_findings(text) + deny_findings(text, self._deny))


def replace(text: str, findings: Sequence[Finding], *, synthetic: bool = False,
            seed: int | None = None) -> Redacted:
    """Each finding becomes ``<KIND>`` or, with ``synthetic``, a made-up value of that kind."""
    rng = random.Random(seed)
    out, last = [], 0
    for f in merge(findings):
        out.append(text[last:f.start])
        out.append(fake(f.kind, rng) if synthetic else f"<{f.kind}>")
        last = f.end
    out.append(text[last:])
    spans = merge(findings)
    return Redacted("".join(out), tuple(f.kind for f in spans), tuple(text[f.start:f.end] for f in spans))


def fake(kind: str, rng: random.Random) -> str:
    """A realistic value that cannot belong to anyone: reserved ranges and test numbers."""
    if kind == "CREDIT_CARD":
        digits = [4] + [rng.randrange(10) for _ in range(14)]
        digits.append(_luhn_check_digit(digits))
        s = "".join(map(str, digits))
        return " ".join(s[i:i + 4] for i in range(0, 16, 4))
    if kind == "EMAIL_ADDRESS":
        return f"{rng.choice(['alex', 'sam', 'kim', 'robin'])}.{rng.randrange(100, 999)}@example.com"
    if kind == "PHONE_NUMBER":
        return f"+1 202-555-01{rng.randrange(10, 99)}"
    if kind == "US_SSN":
        return f"9{rng.randrange(10, 99)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"
    if kind == "IP_ADDRESS":
        return f"192.0.2.{rng.randrange(1, 254)}"
    if kind == "IBAN_CODE":
        return "GB82WEST12345698765432"
    if kind == DENIED:
        return rng.choice(["Alex Morgan", "Sam Lee", "Kim Rivera"])
    return f"<{kind}>"  # secrets and passwords are never faked: their shape is the leak


def _luhn_check_digit(digits: Sequence[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _presidio() -> Any:
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

    registry = RecognizerRegistry(recognizers=[
        CreditCardRecognizer(), _offline_email_recognizer(EmailRecognizer), IbanRecognizer(),
        IpRecognizer(), PhoneRecognizer(), UsSsnRecognizer()])
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _offline_email_recognizer(base: type) -> Any:
    """Presidio's e-mail check calls tldextract, which fetches the public-suffix list from the
    internet on first use; this one uses the snapshot tldextract ships."""
    import tldextract

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(base):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()
