"""Builds over many contributors' sessions: splits never share a contributor."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export.jsonl import JsonlExporter
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keys import FileKeyBackend

MS = 1_000_000


def record(dd: DataDir, contributor: str) -> str:
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id=contributor, started_wall_ns=1_700_000_000 * 10**9,
                              os="Linux", monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400,
                              double_click_px=5, policy_version="p", recorder_version="r"))
    for i, x in enumerate((100, 300)):
        w.add_event(Event(t_ns=(i * 2000 + 1234) * MS, kind="mouse_down", data={"x": x, "y": 250, "button": "left"}))
        w.add_event(Event(t_ns=(i * 2000 + 1300) * MS, kind="mouse_up", data={"x": x, "y": 250, "button": "left"}))
    w.close()
    return sid


def test_contributors_never_span_splits_and_identities_stay_out(tmp_path: Path) -> None:
    dd = DataDir(root=tmp_path / "d", key_backend=FileKeyBackend(path=tmp_path / "d" / "key"))
    people = [f"person-{i}@example.org" for i in range(40)]
    sessions = [record(dd, p) for p in people for _ in range(2)]
    out = tmp_path / "out"
    summary = build_dataset(open_session=dd.open, session_ids=sessions, exporter=JsonlExporter(out=out),
                            release=Release(key=b"a fixed key keeps the split draw stable"), fmt="jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    splits_of: dict[str, set[str]] = defaultdict(set)
    for s in steps:
        splits_of[s["contributor"]].add(s["split"])
    assert len(splits_of) == 40 and all(len(v) == 1 for v in splits_of.values())
    assert {s["split"] for s in steps} == {"train", "validation", "test"}
    assert summary.episodes == 80 and summary.steps == 80 * 3
    assert steps[0]["action"] == {"type": "click", "x": 0.1, "y": 0.5, "button": "left", "count": 1}
    assert [s["t_ms"] for s in steps[:3]] == [0, 2000, 2000]
    text = (out / "steps.jsonl").read_text() + (out / "README.md").read_text()
    assert not any(p in text for p in people) and not any(sid in text for sid in sessions)
    plain = re.sub(r"[0-9a-f]{16}", "", text)  # pseudonyms are random hex; "2023" may occur in one
    assert "1700000000" not in plain and "2023" not in plain  # no wall-clock anchor leaks
