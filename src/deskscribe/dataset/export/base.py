"""What every export format receives; each writes the dataset card when it closes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from deskscribe.dataset.card import dataset_card
from deskscribe.dataset.stats import Tally, episode_rows

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
    instruction_source: str | None = None  # "task_start", "review", or None without an instruction
    flags: list[str] = field(default_factory=list)  # "frames_dropped", "redacted"


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
    tally: Tally = field(default_factory=Tally)  # the dataset's figures, for its card

    def add(self, ep: ExportEpisode) -> None:
        self.episodes += 1
        self.steps += len(ep.steps)
        self.actions.update(s.action["type"] for s in ep.steps)
        self.splits[ep.split] += 1
        self.contributors.add(ep.contributor)
        for row in episode_rows(ep):
            self.tally.add(row)


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

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        """Split -> the files (a path or glob) holding its rows, for the card's ``configs``,
        which `datasets.load_dataset` and the Hub read; empty when the format is not one
        `datasets` loads."""
        return {}

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
        (self.out / "README.md").write_text(dataset_card(summary, format_doc=self.format_doc,
                                                         data_files=self.data_files(summary.splits)))

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._open:
            self._end(complete=False)
            self._open = False


def step_record(ep: ExportEpisode, step: ExportStep, image: str | None) -> dict[str, Any]:
    return {"episode_id": ep.episode_id, "step": step.step, "t_ms": step.t_ms, "split": ep.split,
            "contributor": ep.contributor, "instruction": ep.instruction,
            "instruction_source": ep.instruction_source, "flags": list(ep.flags), "image": image,
            "app": step.app, "title": step.title, "url": step.url, "window": step.window,
            "screen": {"w": ep.screen[0], "h": ep.screen[1]}, "action": step.action, "target": step.target}


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
