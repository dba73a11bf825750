"""The notice a contributor acknowledges, generated from the policy, and the local ledger.

The notice text is derived from what the policy collects, and its version is the hash of that
text: any change to what is collected (a new app, a shorter screenshot interval, finer timing)
changes the version and needs a new acknowledgement. The ledger is append-only JSON lines.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deskscribe.policy import Policy

LEDGER_NAME = "consent.jsonl"


def render_notice(policy: Policy) -> str:
    apps = "\n".join(f"  - {a}" for a in policy.designated_apps)
    excluded = ", ".join(policy.excluded_titles) or "none"
    frames = (f"a screenshot just before each click, scroll and typing burst, and one every "
              f"{policy.screenshot_interval_s:g} s when the screen changed; everything outside the"
              " apps above is blacked out before it is saved" if policy.frames else "no screenshots")
    deny = ", and the names on your organisation's list" if policy.deny_list else ""
    replacement = ("replaced by made-up values of the same kind" if policy.synthetic_values
                   else "replaced by a label such as <EMAIL_ADDRESS>; on screenshots, a grey box")
    signals = textwrap.fill("Signals: pointer movements, clicks and scrolls; keys pressed; the focused"
                            f" window's application, title and position; {frames}.", 92)
    removed = textwrap.fill(
        "Removed on this computer before anything is saved: keys typed into password prompts"
        " (in a terminal: whenever it has turned its echo off, whatever program asks)"
        ' and password managers (only "<PASSWORD>" remains); card numbers, e-mail addresses,'
        " phone numbers, IBANs, US social security numbers, IP addresses, access keys and"
        f" tokens{deny} in typed text, window titles and screenshots ({replacement}).", 92)
    r = policy.retention
    review = ("you review sessions before any upload." if policy.auto_approve_hours is None else
              "you review sessions before upload; one you have not\nreviewed within"
              f" {policy.auto_approve_hours:g} hours is approved and uploaded automatically.")
    return f"""deskscribe recording notice

What is recorded, only while one of these applications is in front:
{apps}
Windows whose title matches any of these are never recorded: {excluded}.
{_sites(policy)}
{signals}
Everything else (other applications, the desktop, anything while recording is paused or the
screen is locked) is not recorded: only the length of the gap is noted.

{removed}

Time precision leaving this computer: {policy.timing_precision_ms} ms.
Where it is kept: encrypted on this computer; {review}
On the collector: sessions for {r.sessions_days} days, datasets built from them for {r.datasets_days} days.
Who can access it: the data stewards named by your organisation, to build training data for
software agents. It is never used to evaluate you: no productivity, speed, idle or ranking
measure is made of any person.
{_fleet_stats(policy)}You can pause at any time, delete any session, and withdraw (object) at any time with
`deskscribe consent withdraw`, which stops recording at once.
"""


def _fleet_stats(policy: Policy) -> str:
    """Only a policy that publishes fleet statistics says so; the notice of any other is unchanged."""
    fs = policy.fleet_stats
    if fs is None:
        return ""
    return textwrap.fill(
        "Fleet statistics: the stewards see how many actions of each kind (click, typing, scroll...)"
        " were made in each application or website per week across everyone, only where at least"
        f" 10 people contributed, with at most {fs.max_actions_per_person} of your actions counted"
        f" per week and random noise added (differential privacy, epsilon {fs.epsilon:g} per week);"
        " never per person.", 92) + "\n"


def _sites(policy: Policy) -> str:
    """Only a policy that designates websites says so; the notice of any other is unchanged."""
    if not policy.designated_sites:
        return ""
    sites = "\n".join(f"  - {s}" for s in policy.designated_sites)
    excluded = "".join(f"\n  - except {u}" for u in policy.excluded_urls)
    masks = "".join(f"\n  - on {m.url}: {', '.join(m.selectors)} (always blacked out, typing there"
                    " is not stored)" for m in policy.site_masks)
    query = "with" if policy.keep_url_query else "without"
    return (f"In a web browser, only these websites, and only in normal (not private) windows:\n{sites}"
            f"{excluded}\nThe page address is stored {query} its query and fragment. The browser's tabs,"
            " address bar and\nbookmarks are never recorded, nor any part of a page it marks as private"
            f" (data-deskscribe=mask,\nrr-block, ph-no-capture){masks}.\n")


def notice_version(policy: Policy) -> str:
    return "n-" + hashlib.sha256(render_notice(policy).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ConsentState:
    accepted_version: str | None  # the version acknowledged last, unless withdrawn since
    withdrawn: bool


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Ledger:
    """The contributor's own record of acknowledgements; it never leaves with a dataset."""

    def __init__(self, *, path: Path, clock: Callable[[], str] = _now) -> None:
        self.path = path
        self._clock = clock

    def entries(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash; earlier entries still count
        return out

    def state(self) -> ConsentState:
        accepted, withdrawn = None, False
        for e in self.entries():
            if e.get("event") == "accept":
                accepted, withdrawn = e.get("notice_version"), False
            elif e.get("event") == "withdraw":
                accepted, withdrawn = None, True
        return ConsentState(accepted, withdrawn)

    def for_collector(self) -> list[dict[str, object]]:
        """The entries as the collector records them (time in ns since the epoch)."""
        out: list[dict[str, object]] = []
        for i, e in enumerate(self.entries()):  # the index keeps the order within one second
            try:
                at = datetime.strptime(str(e.get("time")), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                continue
            if e.get("event") in ("accept", "withdraw"):
                out.append({"at_ns": int(at.timestamp()) * 10**9 + i, "action": e["event"],
                            "notice_version": e.get("notice_version")})
        return out

    def append(self, event: str, version: str | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"event": event, "notice_version": version, "time": self._clock()}
        with self.path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
