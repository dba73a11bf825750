"""The context-source seam: what is *inside* a window, for whoever asks.

The X11 leaf knows windows and pixels; a terminal's pty, the accessibility bus and the browser
extension know what a window holds. Each is a :class:`ContextSource`. A source can only narrow
what is captured or describe it: every question is phrased so that "no" or "I do not know"
keeps capture as the policy alone would have it, and every "yes" removes something (a burst
becomes a secret, a frame waits for a prompt check) or describes what is already captured.
The one exception proves the rule: a browser window is excluded by default, and only a source
vouching for a page the policy designates lets it be recorded, and then only its page area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from deskscribe.capture.base import WindowInfo
from deskscribe.geometry import Rect


@dataclass(frozen=True, slots=True)
class VisibleText:
    """What a source says is shown in ``region`` of a frame, already scanned: ``boxes`` to
    grey out, ``masks`` to black out, and ``opaque`` areas (images, canvas) that OCR must
    still read; None means OCR reads the whole region, as if the source had said nothing."""

    region: Rect
    boxes: tuple[Rect, ...] = ()
    masks: tuple[Rect, ...] = ()
    opaque: tuple[Rect, ...] | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The element an action was aimed at, as a source saw it at that moment: the browser's
    DOM element or the desktop's accessible. ``name`` is its label (never a field's value);
    ``value`` is only a chosen option's text. Not yet scanned: the pipeline cleans both."""

    mono_ns: int
    source: str  # "browser" or "atspi"
    event: str  # pointerdown, focus, keydown, change or scroll
    role: str | None
    name: str
    bbox: Rect | None  # screen pixels
    states: tuple[str, ...] = ()
    tag: str | None = None
    selector: str | None = None
    value: str | None = None


class ContextSource(Protocol):
    def secret_now(self, window: WindowInfo) -> bool:
        """Keys typed into ``window`` at this moment are a secret (a terminal reading with echo
        off). Asked as each key batch arrives, since the prompt may be gone by the time the
        burst is scanned; it must answer in microseconds."""
        ...

    def secret_since(self, mono_ns: int) -> bool:
        """A secret field had keyboard focus at some moment after ``mono_ns`` (a password
        field reported by the accessibility bus). Asked when a burst is scanned."""
        ...

    def masked_since(self, mono_ns: int) -> bool:
        """An element the policy masks had keyboard focus at some moment after ``mono_ns``:
        what was typed is stored as one ``<MASKED>`` placeholder."""
        ...

    def prompt_possible(self, window: WindowInfo) -> bool:
        """A program that may print a password prompt holds ``window`` (a terminal handed to
        ssh or a script): the screen must be read before the next burst is trusted."""
        ...

    def designated_page(self, window: WindowInfo) -> str | None:
        """The page in ``window`` this source vouches for as designated, as it may be stored."""
        ...

    def page_area(self, window: WindowInfo) -> Rect | None:
        """The only part of a vouched window that may be kept (the page, not the browser's chrome)."""
        ...

    def covers(self, window: WindowInfo) -> bool:
        """This source must describe every frame of ``window``: without an answer, no frame."""
        ...

    def visible_text(self, window: WindowInfo, mono_ns: int) -> VisibleText | None:
        """The text ``window`` showed at monotonic ``mono_ns`` (a frame's moment), scanned; None
        when it cannot say in time, or cannot be sure the text it read is what the pixels of
        that moment show."""
        ...

    def take_targets(self, window: WindowInfo) -> tuple[Target, ...]:
        """The targets seen in ``window`` since the last call; every other target is dropped."""
        ...

    def action(self, window: WindowInfo, event: str, x: int, y: int, mono_ns: int) -> None:
        """A recorded action just arrived (``pointerdown``/``pointerup`` at screen x, y,
        ``scroll`` there, or ``keydown``): a source that looks targets up itself starts now,
        off the caller's thread, and one that describes text knows the text may change."""
        ...

    def stop(self) -> None: ...


class NoContext:
    """A source that knows nothing; the neutral base for sources that answer some questions."""

    def secret_now(self, window: WindowInfo) -> bool:
        return False

    def secret_since(self, mono_ns: int) -> bool:
        return False

    def masked_since(self, mono_ns: int) -> bool:
        return False

    def prompt_possible(self, window: WindowInfo) -> bool:
        return False

    def designated_page(self, window: WindowInfo) -> str | None:
        return None

    def page_area(self, window: WindowInfo) -> Rect | None:
        return None

    def covers(self, window: WindowInfo) -> bool:
        return False

    def visible_text(self, window: WindowInfo, mono_ns: int) -> VisibleText | None:
        return None

    def take_targets(self, window: WindowInfo) -> tuple[Target, ...]:
        return ()

    def action(self, window: WindowInfo, event: str, x: int, y: int, mono_ns: int) -> None:
        pass

    def stop(self) -> None:
        pass
