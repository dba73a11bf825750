"""Raw events -> actions. Pure and deterministic; the parameters are versioned with the output.

One pass keeps at most one pending action (a click that may still become a double click, a
scroll burst, a typing burst); anything of another kind flushes it, so actions come out in the
order the person did them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deskscribe import events as ev
from deskscribe.dataset.actions import MODIFIER_ORDER, Action, pyautogui_key

MODIFIER_KEYS = frozenset({"shift", "shift_r", "ctrl", "ctrl_r", "alt", "alt_r", "win", "win_r",
                           "altgr", "caps_lock", "num_lock"})
_MOD_NAMES = {"super": "win", "altgr": "altright"}
_LOCKS = frozenset({"caps_lock", "num_lock"})  # held state, not part of what was pressed
MS = 1_000_000


def held_keys(mods: Iterable[str]) -> list[str]:
    """Raw-event modifier names -> pyautogui names in chord order, locks left out, so a
    shift-click and a shift chord name shift the same way."""
    names = {_MOD_NAMES.get(m, m) for m in mods if m not in _LOCKS}
    return [m for m in MODIFIER_ORDER if m in names]


@dataclass(frozen=True, slots=True)
class ReduceParams:
    version: str = "2"  # 2: modifiers on clicks, drags and long presses; no-op actions dropped
    double_click_ms: int = 400
    double_click_px: int = 5
    drag_px: int = 5
    long_press_ms: int = 800
    scroll_gap_ms: int = 500
    typing_gap_ms: int = 1000
    hover_ms: int = 1000
    path_epsilon_px: float = 3.0
    path_max_points: int = 16


@dataclass(slots=True)
class _Pending:
    type: str
    t_ns: int
    t_end_ns: int
    fields: dict[str, Any]
    ids: list[int]
    path: tuple[tuple[int, int, int], ...] = ()
    press_t_ns: int = 0  # for clicks: when the last press of the series went down


@dataclass(slots=True)
class _Reducer:
    p: ReduceParams
    actions: list[Action] = field(default_factory=list)
    pending: _Pending | None = None
    press: _Pending | None = None
    moves: list[tuple[int, int, int, int]] = field(default_factory=list)  # (id, t, x, y)
    hover_checked: bool = True
    window: tuple[Any, ...] | None = None  # (app, pid, geometry) of the focused window

    # -- plumbing ------------------------------------------------------------------------

    def flush(self) -> None:
        if self.pending is not None:
            p = self.pending
            self.actions.append(Action(p.type, p.t_ns, p.t_end_ns, p.fields, tuple(p.ids), p.path))
            self.pending = None

    def emit(self, pend: _Pending) -> None:
        self.flush()
        self.pending = pend

    def take_path(self, t_ns: int) -> tuple[tuple[int, int, int], ...]:
        points = [(x, y, (t_ns - t) // MS) for _, t, x, y in self.moves]
        self.moves = []
        return simplify(points, self.p.path_epsilon_px, self.p.path_max_points)

    # -- hover: a resting pointer that no click follows ------------------------------------

    def check_hover(self, t_ns: int, at: tuple[int, int] | None) -> None:
        if self.hover_checked or not self.moves or self.press is not None:
            return
        self.hover_checked = True
        mid, mt, mx, my = self.moves[-1]
        if t_ns - mt < self.p.hover_ms * MS:
            return
        if at is not None and math.dist(at, (mx, my)) <= self.p.double_click_px:
            return  # the rest ends in an action at that very point: no separate move
        path = self.take_path(mt)
        self.emit(_Pending("move", mt, mt, {"x": mx, "y": my}, [mid], path))
        self.flush()

    # -- per kind -------------------------------------------------------------------------

    def feed(self, event_id: int, e: ev.Event) -> None:
        d = e.data
        point = (int(d["x"]), int(d["y"])) if e.kind in (ev.MOUSE_DOWN, ev.SCROLL) else None
        if e.kind != ev.MOUSE_MOVE:
            self.check_hover(e.t_ns, point)
        if e.kind == ev.MOUSE_MOVE:
            self.check_hover(e.t_ns, None)
            self.moves.append((event_id, e.t_ns, int(d["x"]), int(d["y"])))
            self.hover_checked = False
        elif e.kind == ev.MOUSE_DOWN:
            self.mouse_down(event_id, e)
        elif e.kind == ev.MOUSE_UP:
            self.mouse_up(event_id, e)
        elif e.kind == ev.SCROLL:
            self.scroll(event_id, e)
        elif e.kind == ev.KEY_DOWN:
            self.key_down(event_id, e)
        elif e.kind == ev.TEXT:
            self.text(event_id, e)
        elif e.kind == ev.KEY_UP:
            if self.pending is not None and self.pending.type == "type":
                self.pending.ids.append(event_id)
        elif e.kind == ev.FOCUS:
            self.focus(d)
        elif e.kind == ev.MARKER and d["marker"] != "start":
            self.window = None
            self.flush()
            self.moves = []

    def focus(self, d: Mapping[str, Any]) -> None:
        """A window retitling itself (an editor marking its document modified as the person
        types) continues the action under way; another window ends it."""
        window = (d["app"], d["pid"], tuple(d["geometry"]))
        if window != self.window:
            self.window = window
            self.flush()
            self.moves = []

    def mouse_down(self, event_id: int, e: ev.Event) -> None:
        """A press; its modifiers (schema 3, none before) belong to the click it becomes."""
        x, y, button = int(e.data["x"]), int(e.data["y"]), str(e.data["button"])
        keys = held_keys(e.data.get("mods", []))
        p = self.pending
        series = (p is not None and p.type == "click" and p.fields["button"] == button
                  and p.fields["keys"] == keys and p.fields["count"] < 3
                  and e.t_ns - p.press_t_ns <= self.p.double_click_ms * MS
                  and math.dist((x, y), (p.fields["x"], p.fields["y"])) <= self.p.double_click_px)
        if not series:
            self.flush()
        self.press = _Pending("press", e.t_ns, e.t_ns, {"x": x, "y": y, "button": button, "keys": keys},
                              [event_id], self.take_path(e.t_ns))

    def mouse_up(self, event_id: int, e: ev.Event) -> None:
        press, self.press = self.press, None
        if press is None or press.fields["button"] != e.data["button"]:
            return
        x, y, x2, y2 = press.fields["x"], press.fields["y"], int(e.data["x"]), int(e.data["y"])
        ids = [*press.ids, event_id]
        held_ms = (e.t_ns - press.t_ns) // MS
        button, keys = press.fields["button"], press.fields["keys"]
        if math.dist((x, y), (x2, y2)) > self.p.drag_px:
            self.emit(_Pending("drag", press.t_ns, e.t_ns, {"x": x, "y": y, "x2": x2, "y2": y2,
                                                            "button": button, "keys": keys}, ids, press.path))
            self.flush()
        elif held_ms >= self.p.long_press_ms:
            self.emit(_Pending("long_press", press.t_ns, e.t_ns,
                               {"x": x, "y": y, "ms": held_ms, "button": button, "keys": keys}, ids,
                               press.path))
            self.flush()
        elif self.pending is not None and self.pending.type == "click" \
                and self.pending.fields["button"] == button:
            self.pending.fields["count"] += 1
            self.pending.ids.extend(ids)
            self.pending.t_end_ns = e.t_ns
            self.pending.press_t_ns = press.t_ns
        else:
            self.emit(_Pending("click", press.t_ns, e.t_ns,
                               {"x": x, "y": y, "button": button, "count": 1, "keys": keys}, ids,
                               press.path, press_t_ns=press.t_ns))
        self.moves = []

    def scroll(self, event_id: int, e: ev.Event) -> None:
        p = self.pending
        dx, dy = int(e.data["dx"]), int(e.data["dy"])
        if p is not None and p.type == "scroll" and e.t_ns - p.t_end_ns <= self.p.scroll_gap_ms * MS:
            p.fields["dx"] += dx
            p.fields["dy"] += dy
            p.t_end_ns = e.t_ns
            p.ids.append(event_id)
            return
        self.emit(_Pending("scroll", e.t_ns, e.t_ns, {"x": int(e.data["x"]), "y": int(e.data["y"]),
                                                      "dx": dx, "dy": dy}, [event_id],
                           self.take_path(e.t_ns)))

    def key_down(self, event_id: int, e: ev.Event) -> None:
        key, char = str(e.data["key"]), e.data.get("char")
        if key in MODIFIER_KEYS:
            return
        held = held_keys(e.data.get("mods", []))
        mods = set(held)
        p = self.pending
        typing = p is not None and p.type == "type" \
            and e.t_ns - p.t_end_ns <= self.p.typing_gap_ms * MS
        if char and mods <= {"shift", "altright"} and key not in ("tab", "enter", "esc"):
            if typing and p is not None:
                p.fields["text"] += char
                p.t_end_ns = e.t_ns
                p.ids.append(event_id)
            else:
                self.emit(_Pending("type", e.t_ns, e.t_ns, {"text": char}, [event_id]))
            return
        if key == "backspace" and not mods and typing and p is not None and p.fields["text"]:
            p.fields["text"] = p.fields["text"][:-1]  # a correction inside the burst
            p.t_end_ns = e.t_ns
            p.ids.append(event_id)
            return
        self.emit(_Pending("key", e.t_ns, e.t_ns, {"keys": [*held, pyautogui_key(key)]}, [event_id]))
        self.flush()

    def text(self, event_id: int, e: ev.Event) -> None:
        """A burst the recorder redacted: its placeholders are the text typed."""
        for _ in range(int(e.data["erase"])):
            self.emit(_Pending("key", e.t_ns, e.t_ns, {"keys": ["backspace"]}, [event_id]))
            self.flush()
        p, text, end = self.pending, str(e.data["text"]), int(e.data["t_end_ns"])
        if p is not None and p.type == "type" and e.t_ns - p.t_end_ns <= self.p.typing_gap_ms * MS:
            p.fields["text"] += text
            p.t_end_ns = end
            p.ids.append(event_id)
        else:
            self.emit(_Pending("type", e.t_ns, end, {"text": text}, [event_id]))

    def finish(self, end_ns: int | None) -> list[Action]:
        if end_ns is not None:
            self.check_hover(end_ns, None)
        self.flush()
        return self.actions


def reduce_events(events: Iterable[tuple[int, ev.Event]], params: ReduceParams = ReduceParams()
                  ) -> list[Action]:
    """Actions in the order performed, without the ones that change nothing."""
    r = _Reducer(params)
    last = None
    for event_id, e in events:
        r.feed(event_id, e)
        last = e.t_ns
    return drop_no_ops(r.finish(last))


def drop_no_ops(actions: Iterable[Action]) -> list[Action]:
    """An agent must not learn steps that do nothing: a typing burst corrected away, a scroll
    burst that came back to where it began, a drag that ends where it started, a move to where
    the pointer already is."""
    kept: list[Action] = []
    at: tuple[int, int] | None = None  # the pointer after the last kept action
    for a in actions:
        if is_no_op(a, at):
            continue
        f = a.fields
        if "x" in f:
            at = (int(f.get("x2", f["x"])), int(f.get("y2", f["y"])))
        kept.append(a)
    return kept


def is_no_op(a: Action, at: tuple[int, int] | None) -> bool:
    """Whether ``a`` changes nothing, with the pointer at ``at`` before it."""
    f = a.fields
    if a.type == "type":
        return not f["text"]
    if a.type == "scroll":
        return not f["dx"] and not f["dy"]
    if a.type == "drag":
        return (f["x"], f["y"]) == (f["x2"], f["y2"])
    if a.type == "move":
        return (f["x"], f["y"]) == at
    return False


def simplify(points: list[tuple[int, int, int]], epsilon: float, max_points: int
             ) -> tuple[tuple[int, int, int], ...]:
    """Ramer-Douglas-Peucker on (x, y), then evenly thinned to ``max_points``."""
    if len(points) <= 2:
        return tuple(points)
    keep = _rdp(points, epsilon)
    if len(keep) > max_points:
        step = (len(keep) - 1) / (max_points - 1)
        keep = [keep[round(i * step)] for i in range(max_points)]
    return tuple(keep)


def _rdp(points: list[tuple[int, int, int]], epsilon: float) -> list[tuple[int, int, int]]:
    (x0, y0, _), (x1, y1, _) = points[0], points[-1]
    length = math.hypot(x1 - x0, y1 - y0)
    best, index = 0.0, 0
    for i, (x, y, _) in enumerate(points[1:-1], start=1):
        dist = (abs((y1 - y0) * x - (x1 - x0) * y + x1 * y0 - y1 * x0) / length if length
                else math.hypot(x - x0, y - y0))
        if dist > best:
            best, index = dist, i
    if best <= epsilon:
        return [points[0], points[-1]]
    return _rdp(points[:index + 1], epsilon)[:-1] + _rdp(points[index:], epsilon)
