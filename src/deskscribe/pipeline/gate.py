"""The policy gate: is capture open now, and for which window?

Default deny. Capture is open only while a designated window has focus, nothing covers every
designated window (a lock screen), the recorder is not paused and consent was not withdrawn.
The gate holds that state and answers questions about it; it performs no I/O, so the
pipeline decides in one place what each transition writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskscribe.capture.base import WindowInfo
from deskscribe.pipeline.contexts import Contexts
from deskscribe.policy import Policy


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A span spent outside designated windows: stored as one marker with its duration."""

    start_ns: int
    duration_ms: int


class Gate:
    def __init__(self, *, policy: Policy, contexts: Contexts) -> None:
        self._policy = policy
        self._contexts = contexts
        self.open = False
        self.paused = False
        self.withdrawn = False
        self.covered = False  # a lock screen or full-screen cover is over every designated window
        self.secure_window = False  # the window in front is a password prompt by app or title
        self.window: WindowInfo | None = None  # what has focus, even while capture is closed
        self.app: str | None = None  # the designated app being recorded
        self._excluded_since: int | None = None

    @property
    def capturing(self) -> bool:
        return self.open and not self.withdrawn

    def designated(self, info: WindowInfo | None) -> bool:
        """By the policy's apps, or, for a browser, by the page a context source vouches for."""
        if info is None:
            return False
        if self._policy.is_designated(info.app, info.title):
            return True
        return (self._policy.is_browser(info.app) and not self._policy.title_excluded(info.title)
                and self._contexts.designated_page(info) is not None)

    def ignores_focus(self) -> bool:
        """While paused not even which window is in front is stored; after withdrawal nothing."""
        return self.paused or self.withdrawn

    def is_retitle(self, info: WindowInfo | None, before: WindowInfo | None) -> bool:
        """The recorded window changed its title or URL and is still designated."""
        return info is not None and self.open and info.same_window(before) and self.designated(info)

    def note_window(self, info: WindowInfo | None) -> None:
        """The window in front, or its title, changed: is it a password prompt by name?"""
        self.secure_window = info is not None and self._policy.is_secure(info.app, info.title)

    def open_for(self, info: WindowInfo) -> None:
        self.open, self.app = True, info.app

    @property
    def excluding(self) -> bool:
        """An exclusion is running: a non-designated window has had focus since it began."""
        return self._excluded_since is not None

    def close(self, t_ns: int) -> None:
        """Capture closes; the time outside designated windows is counted from now."""
        self.open, self.app = False, None
        self._excluded_since = t_ns

    def end_exclusion(self, t_ns: int) -> Exclusion | None:
        if self._excluded_since is None:
            return None
        start, self._excluded_since = self._excluded_since, None
        return Exclusion(start_ns=start, duration_ms=(t_ns - start) // 1_000_000)

    def pause(self) -> None:
        self.paused, self.open, self.app = True, False, None
