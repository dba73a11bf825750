"""Placing findings again only where the text moved: a real editor (mousepad, GTK) is read twice
through AT-SPI; findings above an edit and in an unscrolled view keep their boxes without asking
the app, and every reading gives exactly the boxes a fresh reading gives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskscribe.capture.atspi import open_accessibility_bus
from deskscribe.capture.atspi_targets import ROOT_PATH, Bus, Node
from deskscribe.capture.atspi_text import focused_in, read_text
from deskscribe.redact.text import TextScanner
from deskscribe.vdisplay import VirtualDisplay

pytestmark = pytest.mark.slow

LINES = [f"line {i} write to person{i}@example.com today" if i % 3 == 0 else f"line {i} plain words"
         for i in range(80)]


class CountingBus(Bus):
    """The real bus, counting the calls that place a finding."""

    placed = 0

    def reply(self, name: str, path: str, interface: str, method: str, deadline: float,
              signature: str | None = None, body: tuple[Any, ...] = ()) -> Any:
        self.placed += method == "GetRangeExtents"
        return super().reply(name, path, interface, method, deadline, signature, body)


@pytest.fixture
def editor(tmp_path: Path) -> Iterator[tuple[VirtualDisplay, CountingBus, Node]]:
    with VirtualDisplay(width=1024, height=768) as vd:
        doc = tmp_path / "notes.txt"
        doc.write_text("\n".join(LINES) + "\n")
        app = vd.spawn(["mousepad", str(doc)])
        win = vd.wait_window(cls="Mousepad")
        vd.xdotool("windowsize", "--sync", win, "800", "600")
        vd.activate(win)
        assert vd.session_bus is not None
        bus = CountingBus(open_accessibility_bus(vd.session_bus))
        deadline = time.monotonic() + 20
        node = None
        while node is None and time.monotonic() < deadline:
            for name, _ in bus.acc(("org.a11y.atspi.Registry", ROOT_PATH), "GetChildren", deadline):
                if bus.pid_of(str(name), deadline) == app.pid:
                    node = focused_in(bus, str(name), deadline)
            time.sleep(0.2)
        assert node is not None, "mousepad's text view never took focus on the accessibility bus"
        yield vd, bus, node


def read(bus: CountingBus, node: Node, before: Any = None) -> tuple[list[tuple[int, int, int, int]], int, Any]:
    bus.placed = 0
    got = read_text(bus, node, TextScanner(), time.monotonic() + 5, before)
    assert got is not None
    return sorted((b.x, b.y, b.width, b.height) for b in got[1]), bus.placed, got[2]


def test_unchanged_findings_keep_their_boxes_and_moved_ones_are_placed_again(
        editor: tuple[VirtualDisplay, CountingBus, Node]) -> None:
    vd, bus, node = editor
    fresh, calls, placed = read(bus, node)
    assert calls >= 5 and len(fresh) == calls  # every shown address placed by the app

    again, calls, placed = read(bus, node, placed)
    assert again == fresh and calls == 0  # nothing changed: nothing asked

    vd.xdotool("key", "--clearmodifiers", "ctrl+Home")
    for _ in range(6):
        vd.xdotool("key", "Down")
    vd.xdotool("type", "--delay", "30", "inserted words push the rest ")
    time.sleep(0.5)
    edited, calls, placed = read(bus, node, placed)
    reference, fresh_calls, _ = read(bus, node)
    assert edited == reference
    assert 0 < calls < fresh_calls  # only the edited paragraph and what follows were placed again

    vd.xdotool("click", "--repeat", "6", "5")  # scroll the view
    time.sleep(0.5)
    scrolled, calls, _ = read(bus, node, placed)
    reference, fresh_calls, _ = read(bus, node)
    assert scrolled == reference and scrolled != edited
    assert calls == fresh_calls  # a scrolled view places everything again
