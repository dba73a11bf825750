"""Export formats, one module each over :mod:`deskscribe.dataset.export.base`."""

from __future__ import annotations

from pathlib import Path

from deskscribe.dataset.export.base import Exporter

FORMATS = ("hf", "jsonl", "chat")


def open_exporter(fmt: str, *, out: Path) -> Exporter:
    if fmt == "hf":
        from deskscribe.dataset.export.hf import HFExporter
        return HFExporter(out=out)
    if fmt == "jsonl":
        from deskscribe.dataset.export.jsonl import JsonlExporter
        return JsonlExporter(out=out)
    if fmt == "chat":
        from deskscribe.dataset.export.chat import ChatExporter
        return ChatExporter(out=out)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
