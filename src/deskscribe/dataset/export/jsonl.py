"""`jsonl`: one step per line in steps.jsonl, screenshots under images/."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, Exporter, dumps, step_record


class JsonlExporter(Exporter):
    format_doc = """## Files

`steps.jsonl`: one JSON object per step with `episode_id`, `step`, `t_ms`, `split`,
`contributor`, `instruction`, `image` (path under `images/`), `app`, `title`, `url`,
`window` (the focused window's x, y, w, h in pixels), `screen {w,h}` and
`action {type, ...fields}`. `deskscribe replay` re-performs an episode from these files."""

    def __init__(self, *, out: Path) -> None:
        super().__init__(out=out)
        self._fh: TextIO = (out / "steps.jsonl").open("w", encoding="utf-8")

    def add(self, ep: ExportEpisode) -> None:
        for step in ep.steps:
            self._fh.write(dumps(step_record(ep, step, self.write_image(ep, step))) + "\n")

    def close(self, summary: BuildSummary) -> None:
        self._fh.close()
        super().close(summary)
