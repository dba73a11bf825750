"""`grounding`: one row per step whose target element is known, ScreenSpot-style: the
screenshot, what to find, where it is (`bbox`) and where the person acted (`point`).

Written as Parquet with the screenshot embedded as an `Image` feature, the way ScreenSpot is
published on the Hugging Face hub: `datasets.load_dataset("parquet", ...)` gives decoded images
and typed boxes as they are, with no loading script, and each row carries its own image, so a
shard moves or streams without a directory of files beside it. (JSON lines would load with
images as plain path strings and numbers typed by inference.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

from deskscribe.dataset.export.base import ExportEpisode, ExportStep
from deskscribe.dataset.export.coords import COORDS, Scale
from deskscribe.dataset.export.hf import SHARD_STEPS, HFExporter


def features(coords: str) -> Any:
    from datasets import Features, Image, Sequence, Value

    number = Value("float64") if coords == "fraction" else Value("int32")
    return Features({
        "id": Value("string"), "episode_id": Value("string"), "step": Value("int32"),
        "image": Image(), "img_filename": Value("string"), "img_size": Sequence(Value("int32")),
        "instruction": Value("string"), "task": Value("string"),
        "bbox": Sequence(number), "point": Sequence(number), "action": Value("string"),
        "role": Value("string"), "name": Value("string"), "data_type": Value("string"),
        "data_source": Value("string"), "coords": Value("string")})


def grounding_row(ep: ExportEpisode, step: ExportStep, scale: Scale) -> dict[str, Any] | None:
    """The step as a grounding example; None when there is no screenshot, no box or nothing
    that names the element."""
    target, action = step.target or {}, step.action
    what = target.get("name") or target.get("role")
    if step.image is None or target.get("bbox") is None or not what:
        return None
    filename = f"{ep.episode_id}_{step.step}.png"
    return {
        "id": f"{ep.episode_id}-{step.step:04d}", "episode_id": ep.episode_id, "step": step.step,
        "image": {"bytes": step.image, "path": filename}, "img_filename": filename,
        "img_size": list(ep.screen), "instruction": what, "task": ep.instruction,
        "bbox": scale.box(target["bbox"]), "point": list(scale.point(action)) if "x" in action else None,
        "action": action["type"], "role": target.get("role"), "name": target.get("name"),
        "data_type": None, "data_source": step.app, "coords": scale.system}


class GroundingExporter(HFExporter):
    name = "grounding"
    options: ClassVar[Mapping[str, tuple[str, ...]]] = {"coords": COORDS}
    format_doc = """## Files

`data/{split}-NNNNN.parquet`, one row per step whose target element was seen and has a box,
loadable with `datasets.load_dataset(".")` (the `configs` above name each split's shards).
ScreenSpot's fields where it has them: `image` (Image, the screen before the action),
`img_filename`, `img_size` (`[w, h]` pixels), `instruction` (the element's accessible name, or
its role when it has none), `bbox` (`[left, top, right, bottom]`, as in ScreenSpot-Pro and
ScreenSpot's Hugging Face release), `data_type` (null: the recorder does not see whether the
element shows text or an icon) and `data_source` (the application); and `id`, `episode_id`,
`step`, `task` (the episode's instruction), `point` (where the action was aimed, `[x, y]`; null
for typing, whose target is the focused field), `action` (its type), `role`, `name` and
`coords`.

`bbox` and `point` are screen fractions by default (`--coords fraction`); `--coords pixel` gives
integer pixels of the screen (`img_size`), `--coords 1000` integers on the 0-1000 grid; `coords`
says which on every row."""

    def __init__(self, *, out: Path, coords: str = "fraction") -> None:
        super().__init__(out=out)
        self.coords = Scale(coords).system

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        """Only the splits that got a row: an episode need not have a known target."""
        return {split: f"data/{split}-*.parquet" for split in sorted(self._shards) if split in splits}

    def _start(self) -> None:
        self._features = features(self.coords)

    def add(self, ep: ExportEpisode) -> None:
        scale = Scale(self.coords, ep.screen)
        rows = self._rows[ep.split]
        rows.extend(r for r in (grounding_row(ep, s, scale) for s in ep.steps) if r is not None)
        if len(rows) >= SHARD_STEPS:
            self._flush(ep.split)
