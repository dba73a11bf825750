"""The episode browser reads a build back from its own files: a jsonl and an hf build of the
same recorded task give the same episodes, steps, actions, targets and screenshots."""

from __future__ import annotations

from pathlib import Path

from deskscribe.collector.ui.episode_rows import episodes, read_rows
from tests.dataset.export.scripted import INSTRUCTION, TYPES, W, build, form_session


def files_of(root: Path) -> tuple[list[str], dict[str, bytes]]:
    data = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return sorted(data), data


def test_jsonl_and_hf_builds_read_back_as_the_same_episodes(tmp_path: Path) -> None:
    sid = form_session(tmp_path / "dd")
    read: dict[str, list] = {}
    for fmt in ("jsonl", "hf"):
        names, data = files_of(build(tmp_path / "dd", sid, fmt, tmp_path / fmt))
        read[fmt] = episodes(read_rows(fmt, names, data.__getitem__))
    jsonl, hf = read["jsonl"], read["hf"]
    assert len(jsonl) == len(hf) == 1
    assert jsonl[0].instruction == hf[0].instruction == INSTRUCTION
    assert [s.action["type"] for s in jsonl[0].steps] == [s.action["type"] for s in hf[0].steps] == TYPES
    for a, b in zip(jsonl[0].steps, hf[0].steps, strict=True):
        assert (a.step, a.width, a.height) == (b.step, b.width, b.height) and a.width == W
        assert {k: v for k, v in a.action.items() if v not in (None, [])} == \
               {k: v for k, v in b.action.items() if v not in (None, [])}
        assert (a.target or {}).get("bbox") == (b.target or {}).get("bbox")
    _, data = files_of(tmp_path / "jsonl")
    shown = [s for s in jsonl[0].steps if s.image]
    assert shown and all(data[s.image] == b.image_bytes for s, b in zip(jsonl[0].steps, hf[0].steps, strict=True)
                         if s.image)
