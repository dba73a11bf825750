"""What every export format receives, and the dataset card they all write."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

ACTION_FIELDS = ("x", "y", "x2", "y2", "button", "count", "dx", "dy", "text", "keys", "ms", "status", "value")
TARGET_FIELDS = ("source", "event", "tag", "role", "name", "selector", "states", "bbox", "value")


@dataclass(frozen=True, slots=True)
class ExportStep:
    step: int
    t_ms: int
    app: str | None
    title: str | None
    url: str | None
    action: dict[str, Any]  # type + fields, coordinates in [0, 1]
    image: bytes | None  # PNG of the screen just before the action
    window: list[int] | None = None  # focused window x, y, w, h in pixels
    target: dict[str, Any] | None = None  # the element aimed at; bbox as fractions of the screen


def export_target(target: dict[str, Any] | None, width: int, height: int) -> dict[str, Any] | None:
    """A recorded target with every field present and its box in [0, 1] of the screen, like
    the action's coordinates."""
    if target is None:
        return None
    out = {k: target.get(k) for k in TARGET_FIELDS}
    out["states"] = list(out["states"] or [])
    box = target.get("bbox")
    if box is not None:
        x, y, w, h = box
        out["bbox"] = [round(min(max(v / size, 0.0), 1.0), 6)
                       for v, size in ((x, width), (y, height), (x + w, width), (y + h, height))]
    return out


@dataclass(frozen=True, slots=True)
class ExportEpisode:
    episode_id: str
    contributor: str  # release-specific pseudonym
    split: str
    instruction: str
    status: str
    screen: tuple[int, int]
    steps: list[ExportStep]


@dataclass(slots=True)
class BuildSummary:
    fmt: str
    episodes: int = 0
    steps: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    splits: Counter[str] = field(default_factory=Counter)
    contributors: set[str] = field(default_factory=set)
    policy_versions: set[str] = field(default_factory=set)
    recorder_versions: set[str] = field(default_factory=set)
    reduce_version: str = ""
    precision_ms: int = 100
    bytes: int = 0

    def add(self, ep: ExportEpisode) -> None:
        self.episodes += 1
        self.steps += len(ep.steps)
        self.actions.update(s.action["type"] for s in ep.steps)
        self.splits[ep.split] += 1
        self.contributors.add(ep.contributor)


def image_path(ep: ExportEpisode, step: ExportStep) -> str:
    return f"images/{ep.episode_id}/{step.step:04d}.png"


class Exporter:
    """Receives episodes one at a time; ``close`` finishes files and writes the card.

    Constructing one touches nothing, so a caller can check its arguments before any file exists;
    :meth:`open` (or entering it) makes the directory and opens the files. Leaving it on an
    error releases the files and writes no card: a half-built dataset does not claim to be one.
    """

    name: ClassVar[str] = ""
    format_doc: ClassVar[str] = ""

    def __init__(self, *, out: Path) -> None:
        self.out = out
        self._open = False

    def open(self) -> Self:
        if not self._open:
            self.out.mkdir(parents=True, exist_ok=True)
            self._start()
            self._open = True
        return self

    def _start(self) -> None:
        """Open the format's own files; ``out`` exists by now."""

    def _end(self, *, complete: bool) -> None:
        """Finish (``complete``) or abandon the format's own files."""

    def add(self, ep: ExportEpisode) -> None:
        raise NotImplementedError

    def write_image(self, ep: ExportEpisode, step: ExportStep) -> str | None:
        if step.image is None:
            return None
        rel = image_path(ep, step)
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.out / rel).write_bytes(step.image)
        return rel

    def close(self, summary: BuildSummary) -> None:
        self.open()  # an export of nothing still gets its files and card
        self._end(complete=True)
        self._open = False
        summary.bytes = sum(p.stat().st_size for p in self.out.rglob("*") if p.is_file())
        (self.out / "README.md").write_text(dataset_card(summary, self.format_doc))

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._open:
            self._end(complete=False)
            self._open = False


def dataset_card(s: BuildSummary, format_doc: str) -> str:
    counts = "\n".join(f"| {k} | {v} |" for k, v in sorted(s.actions.items()))
    splits = ", ".join(f"{k}: {v} episodes" for k, v in sorted(s.splits.items()))
    return f"""---
license: other
task_categories: [image-text-to-text]
tags: [computer-use, gui-agent, deskscribe]
---
# deskscribe computer-use dataset

Recordings of people operating designated work applications, made with deskscribe after notice
and acknowledgement, with everything outside designated apps excluded on the device. Each step
pairs an action with the screenshot the person saw just before it.

* format: `{s.fmt}`; {s.episodes} episodes, {s.steps} steps, {len(s.contributors)} contributors
* splits (by contributor, none in two splits): {splits}
* policy versions: {", ".join(sorted(s.policy_versions))}
* recorder versions: {", ".join(sorted(s.recorder_versions))}
* built with reducer parameters version {s.reduce_version}; time offsets at {s.precision_ms} ms
* no wall-clock dates; contributors appear only as pseudonyms keyed for this release

## Actions

| type | steps |
|---|---:|
{counts}

Coordinates are fractions of the screen (`screen.w`, `screen.h` give pixels). Fields by type:
click `x,y,button,count,keys`; drag `x,y,x2,y2,button,keys`; scroll `x,y,dx,dy` (wheel notches,
up and right positive); type `text`; key `keys` (pyautogui names, a chord lists its modifiers
first); move `x,y`; long_press `x,y,ms,button,keys`; terminate `status`. On a click, drag or
long press `keys` lists the modifiers held at the press (`ctrl`, `alt`, `shift`, `win`,
`altright`; empty when none, and for sessions recorded before modifiers were stored). Actions
that change nothing (a scroll back to where it began, a move to where the pointer is) are left
out. select `x,y,value`: a click on a web page's drop-down that chose the option `value` (its
text as shown).

## Targets

Where the recorder saw the element an action was aimed at (a designated web page, through the
browser extension), the step's `target` holds `source`, `event` (what the page saw:
`pointerdown`, `focus`, `keydown`, `change`, `scroll`), `tag`, `role`, `name` (the accessible
label, scanned like titles; never a field's content), `selector`, `states`, and `bbox` as
`[left, top, right, bottom]` fractions of the screen. A click's target contains the click
point; typing's is the field that had focus. Null when nothing was seen.

## How it was built

`deskscribe build` reduced raw input events to actions, paired each with the pre-action
screenshot (keyframe plus lossless changed-region crops), split sessions into episodes at task
markers, or else at excluded gaps, long idle gaps and session ends, and ended every episode with
a `terminate` step.

{format_doc}
"""


def step_record(ep: ExportEpisode, step: ExportStep, image: str | None) -> dict[str, Any]:
    return {"episode_id": ep.episode_id, "step": step.step, "t_ms": step.t_ms, "split": ep.split,
            "contributor": ep.contributor, "instruction": ep.instruction, "image": image,
            "app": step.app, "title": step.title, "url": step.url, "window": step.window,
            "screen": {"w": ep.screen[0], "h": ep.screen[1]}, "action": step.action, "target": step.target}


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
