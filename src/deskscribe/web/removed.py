"""What the device removed from a session before storing it, in words a contributor reads:
"2 e-mail addresses, 1 password".

Only what the store records is counted: typing bursts the recorder replaced (their kinds, or a
password), placeholders left in window titles, URLs and target names, time spent in other
apps (an ``excluded`` marker with its duration), and what review already deleted. Screenshot
redaction leaves black boxes in the pixels but no record of what they covered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from deskscribe.dataset.episodes import placeholder_kinds
from deskscribe.events import FOCUS, MARKER, TARGET, TEXT, Event

NOUNS: Mapping[str, tuple[str, str]] = {
    "EMAIL_ADDRESS": ("e-mail address", "e-mail addresses"),
    "PHONE_NUMBER": ("phone number", "phone numbers"),
    "CREDIT_CARD": ("card number", "card numbers"),
    "IBAN_CODE": ("bank account number (IBAN)", "bank account numbers (IBAN)"),
    "US_SSN": ("social security number", "social security numbers"),
    "IP_ADDRESS": ("IP address", "IP addresses"),
    "SECRET": ("secret (key or token)", "secrets (keys or tokens)"),
    "PASSWORD": ("password", "passwords"),
    "MASKED": ("entry in a masked field", "entries in masked fields"),
    "NAME": ("name on the deny list", "names on the deny list"),
}


def removed_counts(events: Iterable[tuple[int, Event]]) -> Counter[str]:
    """Placeholders by kind. A burst counts each placeholder it shows (at least one per kind it
    lists, for synthetic values that leave none); a title counts once however often it recurs."""
    out: Counter[str] = Counter()
    seen_texts: set[str] = set()
    for _, e in events:
        if e.kind == TEXT:
            shown = Counter(placeholder_kinds(str(e.data.get("text", ""))))
            kinds = ["PASSWORD"] if e.data.get("secure") else [str(k) for k in e.data.get("kinds", ())]
            for kind in set(kinds) | set(shown):
                out[kind] += max(shown[kind], 1)
        elif e.kind in (FOCUS, TARGET):
            for key in ("title", "url", "name"):
                value = e.data.get(key)
                if isinstance(value, str) and value not in seen_texts:
                    seen_texts.add(value)
                    out.update(placeholder_kinds(value))
    return out


def excluded_seconds(events: Iterable[tuple[int, Event]]) -> float:
    """Time in apps and sites that are not designated: nothing of it was stored."""
    total = 0.0
    for _, e in events:
        if e.kind == MARKER and e.data.get("marker") == "excluded":
            total += float(e.data.get("duration_ms", 0) or 0) / 1000
    return total


def in_words(counts: Mapping[str, int]) -> str:
    if not counts:
        return "nothing"
    parts = []
    for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        one, many = NOUNS.get(kind, (kind.lower().replace("_", " "), kind.lower().replace("_", " ") + "s"))
        parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)


def duration_words(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min"


def review_deletions(extra: Mapping[str, Any]) -> tuple[int, int]:
    """Events deleted and screenshots blacked out in review so far (the rewrite counts them)."""
    return (int(extra.get("events_deleted_in_review", 0) or 0),
            int(extra.get("frames_blacked_out_in_review", 0) or 0))
