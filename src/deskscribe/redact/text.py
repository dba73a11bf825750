"""Finding and replacing sensitive text: PII, secrets and an organisation deny-list.

PII comes from :mod:`deskscribe.redact.pii` (Presidio's pattern recognizers: Luhn-checked
cards, e-mail, phone, IBAN, US SSN, IP), so nothing is downloaded and no model is loaded. No
library detects credentials, so the secret rules (well-known token prefixes, JWTs, private-key
headers, high-entropy strings) are written here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from deskscribe.redact.pii import pii_spans

SECRET = "SECRET"
PASSWORD = "PASSWORD"
MASKED = "MASKED"  # typed into a part of a page the policy masks: neither its text nor its kind kept
DENIED = "NAME"
PII_ENTITIES = ("CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "US_SSN", "IP_ADDRESS")

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
_TOKEN_PART = re.compile(r"[A-Za-z0-9_\-+/=.]+")


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


# Shapes of a value cut off by a window edge: the detectors above need the whole value, but
# what is left of a clipped one still shows a person's address or card. Each rule is anchored
# at the cut (\A or \Z, past a little clipping debris such as half a glyph read as "|") and
# is specific enough that an ordinary word there ("information") never matches.
_IBAN_COUNTRIES = (
    "AD|AE|AL|AT|AZ|BA|BE|BG|BH|BI|BR|BY|CH|CR|CY|CZ|DE|DJ|DK|DO|EE|EG|ES|FI|FK|FO|FR|GB|GE|GI|GL|"
    "GR|GT|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|LY|MC|MD|ME|MK|MN|MR|MT|MU|NI|NL|NO|"
    "OM|PK|PL|PS|PT|QA|RO|RS|RU|SA|SC|SD|SE|SI|SK|SM|SO|ST|SV|TL|TN|TR|UA|VA|VG|XK|YE")
_LEAD = r"\A[^\w@]{0,4}"
_TRAIL = r"(?=[^\w@]{0,4}\Z)"
_DIGITS_CUT = 8  # a card cut after two of its four groups still shows half of it
# (kind, pattern): the cut side of each shape may be any length, the other side is whole.
_CUT_END = [(k, re.compile(p + _TRAIL)) for k, p in (
    # "name.surname@domain-ex", "x@dom", "local@": an address cut after its "@" (OCR reads
    # its dots as commas often enough to matter)
    ("EMAIL_ADDRESS", r"(?<![\w.,%+-])[\w.,%+-]*[A-Za-z0-9]@[A-Za-z0-9-]*(?:[.,][A-Za-z0-9-]*)*"),
    ("CREDIT_CARD", r"(?<![\w.,-])(?:(?:\d{4}[ -])+\d{1,4}|\d{8,})"),
    ("IBAN_CODE", rf"(?<![A-Za-z0-9])(?:{_IBAN_COUNTRIES})\d{{2}}(?: ?[A-Z0-9]){{4,}}"),
    (SECRET, r"(?<![\w-])(?:[sr]k_(?:live|test)_|gh[pousr]_|github_pat_|xox[abposr]-|glpat-|sk-|AIza"
             r"|AKIA|ASIA|eyJ)[A-Za-z0-9_-]{6,}"),
)]
# A line's start reaches the window's left edge in nearly every editor and terminal (their
# margin is a few pixels), so what applies there must hold for any line start. No address
# rule: the rest of an address whose start is cut ("rname@domain.com") still reads as a whole
# one to the scanner. Card digits only beyond what years and dates make ("2024 2025").
_CUT_START = [(k, re.compile(_LEAD + p)) for k, p in (
    ("CREDIT_CARD", r"(?P<v>\d{1,4}(?:[ -]\d{4}){2,}|\d{10,})(?![\w,-])"),
)]


def partial_findings(text: str, *, start: bool = True, end: bool = True) -> list[Finding]:
    """Values cut off at the ``start`` or ``end`` of a line that a window edge clips. At the
    end: an address cut after its "@", two or more card groups, an IBAN's country, check
    digits and first characters, a well-known token prefix. At the start: the last groups of
    a card. A whole line's values are the scanner's."""
    out: list[Finding] = []
    if end:
        for kind, pat in _CUT_END:
            m = pat.search(text)
            if m and _enough(kind, m.group()):
                out.append(Finding(m.start(), m.end(), kind))
    if start:
        for kind, pat in _CUT_START:
            m = pat.match(text)
            if m and _enough(kind, m.group("v")):
                out.append(Finding(m.start("v"), m.end("v"), kind))
    out += _cut_tokens(text, start=start, end=end)
    return merge(out)


_CUT_TOKEN = 12  # the random part of a key cut at an edge: shorter runs are too often words


def _cut_tokens(text: str, *, start: bool, end: bool) -> list[Finding]:
    """The part of a generated credential left beside a cut ("Xw9Lp4Zr8Tn5Kd" of a token whose
    start is scrolled out): the token's own length rule (20) cannot apply to what is left."""
    runs = list(_TOKEN_PART.finditer(text))
    edge = ([runs[0]] if start and runs else []) + ([runs[-1]] if end and runs else [])
    return [Finding(m.start(), m.end(), SECRET) for m in edge
            if len(m.group()) >= _CUT_TOKEN and _looks_random(m.group()) and _jumbled(m.group())]


def _jumbled(tok: str) -> bool:
    """Generated strings switch between upper case, lower case and digits at every few
    characters; names such as "Quarterly2026Report" switch only where their words meet."""
    kinds = ["u" if c.isupper() else "l" if c.islower() else "d" if c.isdigit() else "" for c in tok]
    switches = sum(1 for a, b in pairwise(kinds) if a and b and a != b)
    return switches * 3 >= len(tok)


def _enough(kind: str, value: str) -> bool:
    return kind != "CREDIT_CARD" or sum(ch.isdigit() for ch in value) >= _DIGITS_CUT


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
    """All detectors behind one call, built once so a deny-list is compiled once."""

    def __init__(self, *, deny_list: Sequence[str] = ()) -> None:
        self._deny = tuple(deny_list)

    def scan(self, text: str) -> list[Finding]:
        if not text.strip():
            return []
        found = [Finding(*span) for span in pii_spans(text)]
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
