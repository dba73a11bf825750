"""The accessible-at-point walk and the state names, over a scripted accessibility tree."""

from __future__ import annotations

import time
from typing import Any

import pytest

from deskscribe.capture.atspi_targets import (
    NULL_PATH,
    ROOT_PATH,
    AccessibleTargets,
    Bus,
    Focus,
    Node,
    focused,
    lookup,
    state_names,
)
from deskscribe.capture.base import WindowInfo
from deskscribe.geometry import Rect

# path -> (role, name, extents, children)
TREE: dict[str, tuple[str, str, tuple[int, int, int, int], list[str]]] = {
    ROOT_PATH: ("application", "zenity", (0, 0, 0, 0), ["/1"]),
    "/1": ("dialog", "Report", (300, 240, 200, 140), ["/2"]),
    "/2": ("filler", "", (310, 330, 180, 40), ["/3", "/4"]),
    "/3": ("push button", "No", (315, 339, 85, 34), []),
    "/4": ("push button", "Yes", (404, 339, 85, 34), []),
    "/5": ("text", "", (338, 303, 168, 34), []),
    "/6": ("label", "Name", (294, 303, 39, 34), []),
}
PARENTS = {"/1": ROOT_PATH, "/2": "/1", "/3": "/2", "/4": "/2", "/5": "/2", "/6": "/2"}


class ScriptedBus(Bus):
    def __init__(self, *, slow_s: float = 0.0) -> None:
        super().__init__(conn=None)
        self.calls = 0
        self.slow_s = slow_s

    def call(self, name: str, path: str, interface: str, method: str, deadline: float,
             signature: str | None = None, body: tuple[Any, ...] = ()) -> Any:
        self.calls += 1
        time.sleep(self.slow_s)
        if time.monotonic() > deadline:
            raise TimeoutError("late")
        if method == "GetConnectionUnixProcessID":
            return 4242
        role, label, ext, children = TREE[path]
        if method == "GetChildren":
            return [(name, c) for c in children]
        if method == "GetExtents":
            return ext
        if method == "GetRoleName":
            return role
        if method == "GetRelationSet":
            return [(2, [(name, "/6")])] if path == "/5" else []
        if method == "GetState":
            return [1 << 12 | 1 << 8, 0] if label == "Yes" else [0, 0]
        if method == "Get" and body[1] == "Parent":
            return ("(so)", (name, PARENTS.get(path, NULL_PATH)))
        if method == "Get":
            return ("s", label)
        if method == "GetAccessibleAtPoint":
            x, y, _ = body
            hit = [c for c in children if Rect(*TREE[c][2]).contains(x, y)]
            return (name, hit[0]) if hit else (name, NULL_PATH)
        raise AssertionError(method)


def test_the_deepest_accessible_at_the_point_with_its_path_of_roles() -> None:
    found = lookup(ScriptedBus(), ":1.5", 420, 350, time.monotonic() + 1)
    assert found is not None
    target, node = found
    assert node == (":1.5", "/4")
    assert (target.role, target.name, target.bbox) == ("push button", "Yes", Rect(404, 339, 85, 34))
    assert target.selector == "dialog > filler > push button" and target.states == ("focused",)


def test_a_point_outside_every_window_of_the_app_has_no_target() -> None:
    assert lookup(ScriptedBus(), ":1.5", 10, 10, time.monotonic() + 1) is None


def test_a_slow_app_yields_no_target_rather_than_a_late_one() -> None:
    with pytest.raises(TimeoutError):
        lookup(ScriptedBus(slow_s=0.02), ":1.5", 420, 350, time.monotonic() + 0.05)


@pytest.mark.parametrize(("words", "names"), [
    ([1 << 8 | 1 << 4, 0], ("checked",)),
    ([1 << 8 | 1 << 10 | 1 << 23, 1], ("expanded", "selected", "indeterminate")),  # bit 32 in word 2
    ([1 << 4, 0], ("checked", "disabled")),  # not ENABLED
])
def test_state_names(words: list[int], names: tuple[str, ...]) -> None:
    assert state_names(words) == names


def test_node_is_a_bus_name_and_path() -> None:
    node: Node = (":1.5", "/4")
    assert ScriptedBus().at_point(node, 420, 350, time.monotonic() + 1) == (":1.5", NULL_PATH)


def test_a_focused_entry_is_named_by_its_label_and_placed_under_its_window() -> None:
    target = focused(ScriptedBus(), (":1.5", "/5"), time.monotonic() + 1)
    assert (target.event, target.role, target.name) == ("focus", "text", "Name")
    assert target.selector == "dialog > filler > text" and target.bbox == Rect(338, 303, 168, 34)


def test_a_focus_in_an_app_that_is_not_designated_is_not_looked_at() -> None:
    source = AccessibleTargets(session_bus="unix:path=/unused", wanted=lambda w: w.app == "Yad")
    bus = ScriptedBus()
    source._bus = bus  # the worker's bus, scripted; no thread runs here
    focus = Focus((":1.5", "/5"), mono_ns=123)
    assert source._found_for(focus, time.monotonic() + 1) is None
    assert bus.calls == 1  # only which process sent it was asked, nothing about the element
    other = WindowInfo(app="Zenity", title="x", pid=4242, geometry=(0, 0, 10, 10))
    assert source.take_targets(other) == () and source._found_for(focus, time.monotonic() + 1) is None
    designated = WindowInfo(app="Yad", title="Settings", pid=4242, geometry=(0, 0, 10, 10))
    source.take_targets(designated)
    found = source._found_for(focus, time.monotonic() + 1)
    assert found is not None and found[0] == 4242 and found[1].name == "Name" and found[1].mono_ns == 123
