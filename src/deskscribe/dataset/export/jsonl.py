"""`jsonl`: one step per line in steps.jsonl, screenshots under images/."""

from __future__ import annotations

from typing import TextIO

from deskscribe.dataset.export.base import ExportEpisode, Exporter, dumps, step_record


class JsonlExporter(Exporter):
    name = "jsonl"
    format_doc = """## Files

`steps.jsonl`: one JSON object per step with `episode_id`, `step`, `t_ms`, `split`,
`contributor`, `instruction`, `image` (path under `images/`), `app`, `title`, `url`,
`window` (the focused window's x, y, w, h in pixels), `screen {w,h}` and
`action {type, ...fields}`. `deskscribe replay` re-performs an episode from these files."""

    _fh: TextIO

    def _start(self) -> None:
        self._fh = (self.out / "steps.jsonl").open("w", encoding="utf-8")

    def _end(self, *, complete: bool) -> None:
        self._fh.close()

    def add(self, ep: ExportEpisode) -> None:
        for step in ep.steps:
            self._fh.write(dumps(step_record(ep, step, self.write_image(ep, step))) + "\n")
