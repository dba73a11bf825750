"""What a session would contribute to a dataset, for the contributor's review before upload.

Sessions are shown as the actions a dataset would contain (decrypted locally), with the apps
they happened in; the contributor deletes what should not go and approves the rest. Only
approved sessions are uploaded.
"""

from __future__ import annotations

from deskscribe.dataset.actions import Action
from deskscribe.dataset.reduce import ReduceParams, reduce_events
from deskscribe.events import FOCUS, FRAME, Event
from deskscribe.store import SessionReader


def session_actions(reader: SessionReader, events: list[tuple[int, Event]] | None = None
                    ) -> tuple[list[Action], list[str]]:
    """The actions a build would derive, and the apps they happened in (from ``events`` when
    the caller has decrypted them already)."""
    meta = reader.meta
    events = list(reader.iter_events()) if events is None else events
    params = ReduceParams(double_click_ms=meta.double_click_ms, double_click_px=meta.double_click_px)
    apps = sorted({str(e.data.get("app")) for _, e in events if e.kind == FOCUS and e.data.get("app")})
    return reduce_events(events, params), apps


def describe(a: Action) -> str:
    f = a.fields
    if a.type == "type":
        return f"type {str(f['text'])!r}"
    if a.type == "key":
        return "key " + "+".join(map(str, f["keys"]))
    if a.type in ("click", "long_press", "move", "scroll", "drag"):
        rest = {k: v for k, v in f.items() if k not in ("x", "y")}
        return f"{a.type} at ({f.get('x')}, {f.get('y')}) {rest if rest else ''}".rstrip()
    return f"{a.type} {dict(f)}"


def step_contents(events: list[tuple[int, Event]], actions: list[Action], steps: list[int]
                  ) -> tuple[set[int], set[int]]:
    """The raw events and screenshots that make up the given steps (numbered from 1 as
    `review show` lists them): each action's own events and the screenshots taken since the
    step before it ended, the ones a dataset would show beside it."""
    bad = [n for n in steps if not 1 <= n <= len(actions)]
    if bad:
        raise ValueError(f"no step {bad[0]}: this session has steps 1-{len(actions)}")
    drop_events: set[int] = set()
    drop_frames: set[int] = set()
    for n in steps:
        action = actions[n - 1]
        since = actions[n - 2].t_end_ns if n > 1 else -1
        drop_events.update(action.event_ids)
        for event_id, e in events:
            if e.kind == FRAME and since < e.t_ns <= action.t_end_ns:
                drop_events.add(event_id)
                drop_frames.add(int(e.data["frame_id"]))
    return drop_events, drop_frames
