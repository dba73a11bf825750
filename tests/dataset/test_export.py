"""Exporters by name: cheap to make, opened when a build starts, closed when it ends."""

import json
from pathlib import Path

import pytest

from deskscribe.dataset.export import EXPORTERS, FORMATS, open_exporter
from deskscribe.dataset.export.agentnet import AgentNetExporter
from deskscribe.dataset.export.agentnetbench import AgentNetBenchExporter
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, ExportStep
from deskscribe.dataset.export.chat import ChatExporter
from deskscribe.dataset.export.grounding import GroundingExporter
from deskscribe.dataset.export.hf import HFExporter
from deskscribe.dataset.export.jsonl import JsonlExporter


def episode() -> ExportEpisode:
    step = ExportStep(step=0, t_ms=0, app="editor", title=None, url=None,
                      action={"type": "click", "x": 0.5, "y": 0.5, "button": "left", "count": 1}, image=b"png")
    return ExportEpisode(episode_id="e1", contributor="p1", split="train", instruction="", status="success",
                         screen=(800, 600), steps=[step])


def test_every_format_has_one_exporter_named_for_it() -> None:
    assert FORMATS == ("hf", "jsonl", "chat", "agentnet", "agentnetbench", "grounding")
    assert {"hf": HFExporter, "jsonl": JsonlExporter, "chat": ChatExporter, "agentnet": AgentNetExporter,
            "agentnetbench": AgentNetBenchExporter, "grounding": GroundingExporter} == EXPORTERS
    with pytest.raises(ValueError, match="unknown format 'csv'; choose one of hf, jsonl, chat, agentnet,"):
        open_exporter("csv", out=Path("unused"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_making_an_exporter_touches_nothing_until_it_is_opened(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    exporter = open_exporter(fmt, out=out)
    assert not out.exists()
    with exporter:
        assert out.is_dir()
        exporter.add(episode())
        exporter.close(BuildSummary(fmt=fmt))
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert "README.md" in files
    assert {"hf": "data/train-00000.parquet", "jsonl": "images/e1/0000.png", "chat": "chat.jsonl",
            "agentnet": "agentnet.jsonl", "agentnetbench": "e1.json",
            "grounding": "README.md"}[fmt] in files  # a step without a target is no grounding row


def test_leaving_on_an_error_closes_the_files_and_writes_no_card(tmp_path: Path) -> None:
    exporter = JsonlExporter(out=tmp_path)
    with pytest.raises(RuntimeError), exporter:
        exporter.add(episode())
        raise RuntimeError("a session failed")
    assert exporter._fh.closed and not (tmp_path / "README.md").exists()
    assert json.loads((tmp_path / "steps.jsonl").read_text())["episode_id"] == "e1"
