"""A recorded form-filling task on a 1000 x 500 screen, built into any export format.

Every kind of action an agent learns is in it once, most with the element aimed at: a click on
Save, a shift-click beside it, typing into Email, a double and a right click, a drag, a scroll,
a chord, Enter, a drop-down that chose Norway, a long press and a hover.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FramePart, FrameRecord
from deskscribe.keystore import FileKeyBackend

MS = 1_000_000
W, H = 1000, 500
INSTRUCTION = "Fill in the form"
TYPES = ["click", "click", "type", "click", "click", "drag", "scroll", "key", "key", "select",
         "long_press", "move", "terminate"]
# Where each step's pointer went, in pixels (None: a keyboard step or the end).
POINTS: list[tuple[int, int] | None] = [(110, 210), (700, 300), None, (411, 361), (123, 456), (600, 400),
                                        (350, 260), None, None, (310, 110), (222, 444), (900, 50), None]


def target(event: str, name: str, bbox: list[int], **more: Any) -> dict[str, Any]:
    return {"source": "browser", "event": event, "role": "button", "name": name, "bbox": bbox,
            "states": [], "tag": "button", "selector": f"#{name}", **more}


def key(t: int, name: str, char: str | None, mods: list[str]) -> list[tuple[int, str, dict[str, Any]]]:
    data = {"key": name, "char": char, "vk": 0, "mods": mods}
    return [(t, "key_down", data), (t + 40, "key_up", data)]


def click(t: int, x: int, y: int, button: str = "left", **more: Any) -> list[tuple[int, str, dict[str, Any]]]:
    return [(t, "mouse_down", {"x": x, "y": y, "button": button, **more}),
            (t + 50, "mouse_up", {"x": x, "y": y, "button": button})]


def script() -> list[tuple[int, str, dict[str, Any]]]:
    return [
        (0, "focus", {"app": "Browser", "title": "Form", "pid": 1, "geometry": [0, 0, W, H], "url": None}),
        (10, "marker", {"marker": "task_start", "instruction": INSTRUCTION}),
        (1000, "mouse_down", {"x": 110, "y": 210, "button": "left"}),
        (1030, "target", target("pointerdown", "Save", [100, 200, 80, 30])),
        (1050, "mouse_up", {"x": 110, "y": 210, "button": "left"}),
        *click(2000, 700, 300, mods=["shift"]),
        (3000, "target", target("focus", "Email", [10, 10, 200, 20], role="textbox", tag="input")),
        *key(3200, "a", "a", []),
        *click(4000, 411, 361), *click(4200, 411, 361),
        *click(5000, 123, 456, "right"),
        (6000, "mouse_down", {"x": 100, "y": 400, "button": "left"}),
        (6300, "mouse_up", {"x": 600, "y": 400, "button": "left"}),
        (7000, "scroll", {"x": 350, "y": 260, "dx": 0, "dy": -3}),
        *key(8000, "c", "c", ["ctrl"]),
        *key(9000, "enter", None, []),
        (10000, "mouse_down", {"x": 310, "y": 110, "button": "left"}),
        (10020, "target", target("pointerdown", "Country", [300, 100, 100, 20], tag="select", role="combobox")),
        (10050, "mouse_up", {"x": 310, "y": 110, "button": "left"}),
        (11000, "target", target("change", "Country", [300, 100, 100, 20], tag="select", value="Norway")),
        (12000, "mouse_down", {"x": 222, "y": 444, "button": "left"}),
        (13000, "mouse_up", {"x": 222, "y": 444, "button": "left"}),
        (13500, "mouse_move", {"x": 900, "y": 50}),
        (15000, "marker", {"marker": "task_end", "status": "success"}),
    ]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (W, H), "white").save(buf, format="PNG")
    return buf.getvalue()


def form_session(root: Path) -> str:
    """A sealed session in ``root`` (file key, so the CLI reads it too)."""
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=dd.contributor_id, started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, W, H),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    w.reserve_frame_id()
    w.add_frame(FrameRecord(1, 50 * MS, None, (W, H), (FramePart(0, 0, W, H, png()),)))
    w.add_event(Event(t_ns=50 * MS, kind="frame", data={"frame_id": 1, "reason": "periodic", "region": [0, 0, W, H]}))
    for t, kind, data in script():
        w.add_event(Event(t_ns=t * MS, kind=kind, data=data))
    w.close(seal=True)
    return sid


def build(root: Path, sid: str, fmt: str, out: Path, **options: str) -> Path:
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    build_dataset(open_session=dd.open, session_ids=[sid], exporter=open_exporter(fmt, out=out, **options),
                  release=Release(key=b"k" * 16), fmt=fmt)
    return out
