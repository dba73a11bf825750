"""`hf`: Parquet shards per split with an `Image` feature, loadable with `datasets`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

from deskscribe.dataset.export.base import ACTION_FIELDS, ExportEpisode, Exporter

SHARD_STEPS = 2000


def features() -> Any:
    from datasets import Features, Image, Sequence, Value

    action = {"type": Value("string"), "x": Value("float64"), "y": Value("float64"),
              "x2": Value("float64"), "y2": Value("float64"), "button": Value("string"),
              "count": Value("int32"), "dx": Value("int32"), "dy": Value("int32"),
              "text": Value("string"), "keys": Sequence(Value("string")), "ms": Value("int32"),
              "status": Value("string"), "value": Value("string")}
    target = {"source": Value("string"), "event": Value("string"), "tag": Value("string"),
              "role": Value("string"), "name": Value("string"), "selector": Value("string"),
              "states": Sequence(Value("string")), "bbox": Sequence(Value("float64")),
              "value": Value("string")}
    return Features({
        "episode_id": Value("string"), "step": Value("int32"), "t_ms": Value("int64"),
        "contributor": Value("string"), "instruction": Value("string"), "instruction_source": Value("string"),
        "flags": Sequence(Value("string")), "image": Image(),
        "app": Value("string"), "title": Value("string"), "url": Value("string"),
        "screen_w": Value("int32"), "screen_h": Value("int32"), "action": action, "target": target})


class HFExporter(Exporter):
    name = "hf"
    format_doc = """## Files

`data/{split}-NNNNN.parquet`, loadable with `datasets.load_dataset(".")` (the `configs` above
name each split's shards). Columns: `episode_id`, `step`, `t_ms`, `contributor`, `instruction`,
`instruction_source`, `flags` (list), `image` (Image), `app`, `title`, `url`, `screen_w`, `screen_h`,
`action` (struct: `type` and the fields of that type, others null; `keys` is a list, empty
unless a key, or a click, drag or long press made with modifiers held), `target` (struct, null
when no element was seen: see "Targets" above)."""

    def __init__(self, *, out: Path) -> None:
        super().__init__(out=out)
        self._rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._shards: dict[str, int] = defaultdict(int)
        self._features: Any = None

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        return {split: f"data/{split}-*.parquet" for split in sorted(splits)}

    def _start(self) -> None:
        """``datasets`` is slow to import, so only an export that runs pays for it."""
        self._features = features()

    def _end(self, *, complete: bool) -> None:
        if complete:
            for split in list(self._rows):
                self._flush(split)
        self._rows.clear()

    def add(self, ep: ExportEpisode) -> None:
        rows = self._rows[ep.split]
        for step in ep.steps:
            action = {k: step.action.get(k) for k in ("type", *ACTION_FIELDS)}
            action["keys"] = action["keys"] or []
            rows.append({
                "episode_id": ep.episode_id, "step": step.step, "t_ms": step.t_ms,
                "contributor": ep.contributor, "instruction": ep.instruction,
                "instruction_source": ep.instruction_source, "flags": list(ep.flags),
                "image": None if step.image is None else {"bytes": step.image, "path": None},
                "app": step.app, "title": step.title, "url": step.url,
                "screen_w": ep.screen[0], "screen_h": ep.screen[1], "action": action, "target": step.target})
        if len(rows) >= SHARD_STEPS:
            self._flush(ep.split)

    def _flush(self, split: str) -> None:
        import datasets
        from datasets import Dataset

        datasets.disable_progress_bars()  # the build shows its own progress

        rows = self._rows.pop(split, [])
        if not rows:
            return
        (self.out / "data").mkdir(exist_ok=True)
        shard = self._shards[split]
        self._shards[split] += 1
        Dataset.from_list(rows, features=self._features).to_parquet(
            str(self.out / "data" / f"{split}-{shard:05d}.parquet"))
