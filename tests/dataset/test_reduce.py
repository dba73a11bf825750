from typing import Any

import pytest

from deskscribe.dataset.actions import Action
from deskscribe.dataset.reduce import ReduceParams, drop_no_ops, reduce_events, simplify
from deskscribe.events import Event

MS = 1_000_000


def ev(t_ms: int, kind: str, **data: Any) -> Event:
    return Event(t_ns=t_ms * MS, kind=kind, data=data)


def down(t: int, x: int, y: int, button: str = "left", mods: tuple[str, ...] | None = None) -> list[Event]:
    """A press; ``mods=None`` is a session from before schema 3, whose presses have no ``mods``."""
    data: dict[str, Any] = {"x": x, "y": y, "button": button}
    if mods is not None:
        data["mods"] = list(mods)
    return [ev(t, "mouse_down", **data)]


def click(t: int, x: int, y: int, button: str = "left", held: int = 50,
          mods: tuple[str, ...] | None = None) -> list[Event]:
    return down(t, x, y, button, mods) + [ev(t + held, "mouse_up", x=x, y=y, button=button)]


def at(x: int, y: int, count: int = 1, keys: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    return ("click", {"x": x, "y": y, "button": "left", "count": count, "keys": list(keys)})


def key(t: int, name: str, char: str | None = None, mods: tuple[str, ...] = ()) -> list[Event]:
    return [ev(t, "key_down", key=name, char=char, vk=1, mods=list(mods)),
            ev(t + 30, "key_up", key=name, char=char, vk=1, mods=list(mods))]


def typed(t: int, text: str, gap: int = 100) -> list[Event]:
    out: list[Event] = []
    for i, c in enumerate(text):
        mods = ("shift",) if c.isupper() or c in "!?_" else ()
        out += key(t + i * gap, c.lower() if c != " " else "space", c, mods)
    return out


def actions(events: list[Event], **params: Any) -> list[tuple[str, dict[str, Any]]]:
    result = reduce_events(list(enumerate(events, start=1)), ReduceParams(**params))
    return [(a.type, dict(a.fields)) for a in result]


CASES: list[tuple[str, list[Event], list[tuple[str, dict[str, Any]]]]] = [
    ("single click", click(0, 10, 20), [("click", {"x": 10, "y": 20, "button": "left", "count": 1, "keys": []})]),
    ("double click", click(0, 10, 20) + click(150, 11, 21),
     [("click", {"x": 10, "y": 20, "button": "left", "count": 2, "keys": []})]),
    ("triple click", click(0, 10, 20) + click(150, 10, 20) + click(300, 10, 20),
     [("click", {"x": 10, "y": 20, "button": "left", "count": 3, "keys": []})]),
    ("two clicks too slow", click(0, 10, 20) + click(600, 10, 20),
     [("click", {"x": 10, "y": 20, "button": "left", "count": 1, "keys": []})] * 2),
    ("two clicks too far", click(0, 10, 20) + click(100, 40, 20),
     [("click", {"x": 10, "y": 20, "button": "left", "count": 1, "keys": []}),
      ("click", {"x": 40, "y": 20, "button": "left", "count": 1, "keys": []})]),
    ("right then left is two clicks", click(0, 5, 5, "right") + click(100, 5, 5),
     [("click", {"x": 5, "y": 5, "button": "right", "count": 1, "keys": []}),
      ("click", {"x": 5, "y": 5, "button": "left", "count": 1, "keys": []})]),
    ("drag", down(0, 10, 10) + [ev(50, "mouse_move", x=60, y=70),
                                ev(100, "mouse_up", x=100, y=120, button="left")],
     [("drag", {"x": 10, "y": 10, "x2": 100, "y2": 120, "button": "left", "keys": []})]),
    ("long press", click(0, 10, 10, held=900),
     [("long_press", {"x": 10, "y": 10, "ms": 900, "button": "left", "keys": []})]),
    ("scroll burst merges", [ev(0, "scroll", x=5, y=5, dx=0, dy=-1), ev(100, "scroll", x=5, y=5, dx=0, dy=-1),
                             ev(200, "scroll", x=5, y=5, dx=1, dy=0)],
     [("scroll", {"x": 5, "y": 5, "dx": 1, "dy": -2})]),
    ("scroll bursts split on a gap", [ev(0, "scroll", x=5, y=5, dx=0, dy=1), ev(900, "scroll", x=5, y=5, dx=0, dy=1)],
     [("scroll", {"x": 5, "y": 5, "dx": 0, "dy": 1})] * 2),
    ("typing with shift and corrections", typed(0, "Helo") + key(400, "backspace") + typed(500, "lo, World!"),
     [("type", {"text": "Hello, World!"})]),
    ("backspace at the start is a key", key(0, "backspace") + typed(100, "ab"),
     [("key", {"keys": ["backspace"]}), ("type", {"text": "ab"})]),
    ("enter ends the burst", typed(0, "ls") + key(200, "enter"),
     [("type", {"text": "ls"}), ("key", {"keys": ["enter"]})]),
    ("chord", key(0, "t", "T", ("ctrl", "shift")), [("key", {"keys": ["ctrl", "shift", "t"]})]),
    ("modifier order is canonical", key(0, "delete", None, ("shift", "alt", "ctrl")),
     [("key", {"keys": ["ctrl", "alt", "shift", "delete"]})]),
    ("special keys map to pyautogui names", key(0, "page_down") + key(100, "f5"),
     [("key", {"keys": ["pagedown"]}), ("key", {"keys": ["f5"]})]),
    ("modifier presses alone are not actions", key(0, "shift") + key(100, "ctrl"), []),
    ("typing split by a pause", typed(0, "ab") + typed(1500, "cd"),
     [("type", {"text": "ab"}), ("type", {"text": "cd"})]),
    ("click ends typing", typed(0, "ab") + click(300, 1, 1) + typed(500, "c"),
     [("type", {"text": "ab"}), ("click", {"x": 1, "y": 1, "button": "left", "count": 1, "keys": []}),
      ("type", {"text": "c"})]),
    ("focus change ends typing", typed(0, "ab") + [ev(250, "focus", app="A", title="t", pid=1,
                                                       geometry=[0, 0, 1, 1], url=None)] + typed(300, "c"),
     [("type", {"text": "ab"}), ("type", {"text": "c"})]),
    ("hover without a click is a move", [ev(0, "mouse_move", x=50, y=60)] + [ev(2000, "mouse_move", x=90, y=90)]
     + click(2100, 90, 90), [("move", {"x": 50, "y": 60}),
                             ("click", {"x": 90, "y": 90, "button": "left", "count": 1, "keys": []})]),
    ("rest then click at the same point is only a click", [ev(0, "mouse_move", x=50, y=60)] + click(2000, 50, 60),
     [("click", {"x": 50, "y": 60, "button": "left", "count": 1, "keys": []})]),
    ("quick pass-over is not a move", [ev(0, "mouse_move", x=50, y=60), ev(100, "mouse_move", x=70, y=60)]
     + click(150, 70, 60), [("click", {"x": 70, "y": 60, "button": "left", "count": 1, "keys": []})]),
    ("everything corrected away leaves nothing", typed(0, "ab") + key(200, "backspace") + key(300, "backspace"), []),
    # modifiers held at a press (schema 3): pyautogui names in chord order, locks left out
    ("shift-click", click(0, 10, 20, mods=("shift",)), [at(10, 20, keys=("shift",))]),
    ("ctrl-click", click(0, 10, 20, mods=("ctrl",)), [at(10, 20, keys=("ctrl",))]),
    ("a press without mods (schema 2) has none", click(0, 10, 20), [at(10, 20)]),
    ("caps lock is not a held key", click(0, 10, 20, mods=("caps_lock",)), [at(10, 20)]),
    ("modifier names and order as in chords", click(0, 10, 20, mods=("super", "shift", "altgr", "ctrl")),
     [at(10, 20, keys=("ctrl", "shift", "win", "altright"))]),
    ("shift-double-click", click(0, 10, 20, mods=("shift",)) + click(150, 10, 20, mods=("shift",)),
     [at(10, 20, count=2, keys=("shift",))]),
    ("a plain click after a shift-click is not its double click",
     click(0, 10, 20, mods=("shift",)) + click(150, 10, 20, mods=()),
     [at(10, 20, keys=("shift",)), at(10, 20)]),
    ("ctrl-drag", down(0, 10, 10, mods=("ctrl",)) + [ev(100, "mouse_up", x=100, y=120, button="left")],
     [("drag", {"x": 10, "y": 10, "x2": 100, "y2": 120, "button": "left", "keys": ["ctrl"]})]),
    ("shift long press", click(0, 10, 10, held=900, mods=("shift",)),
     [("long_press", {"x": 10, "y": 10, "ms": 900, "button": "left", "keys": ["shift"]})]),
    ("modifier keys around a click are not key actions",
     key(0, "shift", None, ("shift",)) + click(10, 5, 5, mods=("shift",)), [at(5, 5, keys=("shift",))]),
    # no-ops: steps that change nothing are left out
    ("scroll up and back down is no step", [ev(0, "scroll", x=5, y=5, dx=0, dy=1), ev(100, "scroll", x=5, y=5, dx=0, dy=-1)]
     + click(1000, 5, 5), [at(5, 5)]),
    ("scroll right and back is no step", [ev(0, "scroll", x=5, y=5, dx=1, dy=0), ev(100, "scroll", x=5, y=5, dx=-1, dy=0)],
     []),
    ("a press released within drag_px is a click", down(0, 10, 10) + [ev(50, "mouse_up", x=13, y=12, button="left")],
     [at(10, 10)]),
    ("resting where the last click was is no move",
     click(0, 10, 20) + [ev(100, "mouse_move", x=60, y=60), ev(200, "mouse_move", x=10, y=20)] + key(2500, "f5"),
     [at(10, 20), ("key", {"keys": ["f5"]})]),
    ("resting where the pointer was left after a drag is no move",
     down(0, 10, 10) + [ev(100, "mouse_up", x=100, y=120, button="left"), ev(200, "mouse_move", x=101, y=121),
                        ev(300, "mouse_move", x=100, y=120)] + key(2500, "f5"),
     [("drag", {"x": 10, "y": 10, "x2": 100, "y2": 120, "button": "left", "keys": []}),
      ("key", {"keys": ["f5"]})]),
    ("a wheel event that moved nothing is no step", [ev(0, "scroll", x=5, y=5, dx=0, dy=0)] + key(100, "f5"),
     [("key", {"keys": ["f5"]})]),
    ("resting where a scroll left the pointer is no move",
     [ev(0, "scroll", x=40, y=40, dx=0, dy=2), ev(100, "mouse_move", x=60, y=60), ev(200, "mouse_move", x=40, y=40)]
     + key(2500, "f5"), [("scroll", {"x": 40, "y": 40, "dx": 0, "dy": 2}), ("key", {"keys": ["f5"]})]),
    ("a press pulled away and brought back is a click, not a drag",
     down(0, 10, 10) + [ev(50, "mouse_move", x=80, y=80), ev(100, "mouse_up", x=10, y=10, button="left")],
     [at(10, 10)]),
]


@pytest.mark.parametrize(("name", "events", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reduce(name: str, events: list[Event], expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert actions(events) == expected


def test_double_click_thresholds_come_from_the_session() -> None:
    events = click(0, 10, 20) + click(300, 10, 20)
    assert actions(events, double_click_ms=250)[0][1]["count"] == 1
    assert actions(events, double_click_ms=400)[0][1]["count"] == 2


def test_actions_point_back_to_their_raw_events_and_keep_a_path() -> None:
    events = [ev(0, "mouse_move", x=0, y=0), ev(50, "mouse_move", x=50, y=1), ev(100, "mouse_move", x=100, y=0)]
    events += click(120, 100, 0)
    (act,) = reduce_events(list(enumerate(events, start=1)))
    assert act.event_ids == (4, 5)
    assert [p[:2] for p in act.path] == [(0, 0), (100, 0)]  # the 1 px wobble is simplified away
    assert act.path[0][2] == 120  # ms before the action


def test_simplify_keeps_corners_and_caps_points() -> None:
    line = [(i, 0, 0) for i in range(50)] + [(49, i, 0) for i in range(1, 50)]
    assert [p[:2] for p in simplify(line, 1.0, 16)] == [(0, 0), (49, 0), (49, 49)]
    zigzag = [(i, (i % 2) * 50, 0) for i in range(100)]
    assert len(simplify(zigzag, 1.0, 16)) == 16


def _focus(t: int, title: str, pid: int = 7, geometry: tuple[int, ...] = (0, 0, 400, 300)) -> list[Event]:
    return [ev(t, "focus", app="Mousepad", title=title, pid=pid, geometry=list(geometry), url=None)]


def test_a_window_retitling_itself_does_not_split_a_typing_burst() -> None:
    events = _focus(0, "notes") + typed(10, "Qu") + _focus(215, "*notes") + typed(300, "arterly")
    assert actions(events) == [("type", {"text": "Quarterly"})]


def test_another_window_ends_the_burst() -> None:
    events = _focus(0, "notes") + typed(10, "Qu") + _focus(215, "other", pid=8) + typed(300, "arterly")
    assert actions(events) == [("type", {"text": "Qu"}), ("type", {"text": "arterly"})]


def test_steps_that_change_nothing_are_dropped_and_the_rest_kept() -> None:
    def a(kind: str, **fields: Any) -> Action:
        return Action(kind, 0, 0, fields, (1,))

    kept = drop_no_ops([
        a("drag", x=5, y=5, x2=5, y2=5, button="left", keys=[]),  # ends where it started
        a("type", text=""), a("scroll", x=5, y=5, dx=0, dy=0),
        a("click", x=5, y=5, button="left", count=1, keys=[]),
        a("move", x=5, y=5),  # the click left the pointer there
        a("drag", x=5, y=5, x2=9, y2=5, button="left", keys=[]), a("move", x=5, y=5),
        a("scroll", x=9, y=5, dx=-1, dy=0), a("type", text="a"), a("key", keys=["f5"])])
    assert [(k.type, k.fields.get("x")) for k in kept] == [
        ("click", 5), ("drag", 5), ("move", 5), ("scroll", 9), ("type", None), ("key", None)]
