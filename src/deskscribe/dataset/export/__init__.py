"""Export formats, one module each over :mod:`deskscribe.dataset.export.base`, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from deskscribe.dataset.export.agentnet import AgentNetExporter
from deskscribe.dataset.export.agentnetbench import AgentNetBenchExporter
from deskscribe.dataset.export.base import Exporter
from deskscribe.dataset.export.chat import ChatExporter
from deskscribe.dataset.export.grounding import GroundingExporter
from deskscribe.dataset.export.hf import HFExporter
from deskscribe.dataset.export.jsonl import JsonlExporter

EXPORTERS: dict[str, type[Exporter]] = {cls.name: cls for cls in (
    HFExporter, JsonlExporter, ChatExporter, AgentNetExporter, AgentNetBenchExporter, GroundingExporter)}
FORMATS = tuple(EXPORTERS)


def option_choices(fmt: str) -> Mapping[str, tuple[str, ...]]:
    """The options a format takes, each with the values it accepts (the first is the default)."""
    choices: Mapping[str, tuple[str, ...]] = getattr(EXPORTERS[fmt], "options", {})
    return choices


def formats_taking(option: str) -> list[str]:
    return [fmt for fmt in FORMATS if option in option_choices(fmt)]


def open_exporter(fmt: str, *, out: Path, **options: str) -> Exporter:
    """An exporter for ``fmt``, not opened yet: a build opens it when it starts writing.
    ``options`` are the format's own (``coords``, ``style``); one it does not take, or a value
    it does not know, is refused here, before any file exists."""
    try:
        exporter: Callable[..., Exporter] = EXPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    takes = option_choices(fmt)
    for name, value in options.items():
        if name not in takes:
            raise ValueError(f"the {fmt} format takes no {name} option"
                             f" (formats that do: {', '.join(formats_taking(name)) or 'none'})")
        if value not in takes[name]:
            raise ValueError(f"{name} must be one of {', '.join(takes[name])}, not {value!r}")
    return exporter(out=out, **options)
