"""`jsonl`: one step per line in steps.jsonl, screenshots under images/."""

from __future__ import annotations

from collections.abc import Collection
from typing import TextIO

from deskscribe.dataset.export.base import ExportEpisode, Exporter, dumps, step_record


class JsonlExporter(Exporter):
    name = "jsonl"
    format_doc = """## Files

`steps.jsonl`: one JSON object per step with `episode_id`, `step`, `t_ms`, `split`,
`contributor`, `instruction`, `instruction_source`, `flags`, `image` (path under `images/`),
`app`, `title`, `url`, `window` (the focused window's x, y, w, h in pixels), `screen {w,h}`,
`action {type, ...fields}` and `target`. `deskscribe replay` re-performs an episode from these
files. Every split is in the one file, so `datasets.load_dataset(".")` gives it as one split,
`steps`; its `split` column says which of train, validation and test each step belongs to
(`ds["steps"].filter(lambda r: r["split"] == "train")`)."""

    _fh: TextIO

    def data_files(self, splits: Collection[str]) -> dict[str, str]:
        return {"steps": "steps.jsonl"} if splits else {}

    def _start(self) -> None:
        self._fh = (self.out / "steps.jsonl").open("w", encoding="utf-8")

    def _end(self, *, complete: bool) -> None:
        self._fh.close()

    def add(self, ep: ExportEpisode) -> None:
        for step in ep.steps:
            self._fh.write(dumps(step_record(ep, step, self.write_image(ep, step))) + "\n")
