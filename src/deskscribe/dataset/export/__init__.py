"""Export formats, one module each over :mod:`deskscribe.dataset.export.base`, by name."""

from __future__ import annotations

from pathlib import Path

from deskscribe.dataset.export.base import Exporter
from deskscribe.dataset.export.chat import ChatExporter
from deskscribe.dataset.export.hf import HFExporter
from deskscribe.dataset.export.jsonl import JsonlExporter

EXPORTERS: dict[str, type[Exporter]] = {cls.name: cls for cls in (HFExporter, JsonlExporter, ChatExporter)}
FORMATS = tuple(EXPORTERS)


def open_exporter(fmt: str, *, out: Path) -> Exporter:
    """An exporter for ``fmt``, not opened yet: a build opens it when it starts writing."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return exporter(out=out)
