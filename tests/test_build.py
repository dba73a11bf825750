"""Builds over many contributors' sessions: splits never share a contributor."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.jsonl import JsonlExporter
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend

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
    assert steps[0]["action"] == {"type": "click", "x": 0.1, "y": 0.5, "button": "left", "count": 1, "keys": []}
    assert [s["t_ms"] for s in steps[:3]] == [0, 2000, 2000]
    text = (out / "steps.jsonl").read_text() + (out / "README.md").read_text()
    assert not any(p in text for p in people) and not any(sid in text for sid in sessions)
    plain = re.sub(r"[0-9a-f]{16}", "", text)  # pseudonyms are random hex; "2023" may occur in one
    assert "1700000000" not in plain and "2023" not in plain  # no wall-clock anchor leaks


def modifier_session(dd: DataDir) -> str:
    """A shift-click (caps lock on), a plain click, a click from before presses carried
    modifiers, and a ctrl-drag, on a 1000 x 500 screen."""
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id="c", started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    presses: list[tuple[int, int, dict[str, Any]]] = [
        (100, 100, {"mods": ["shift", "caps_lock"]}), (300, 100, {"mods": []}), (500, 100, {})]
    for i, (x, y, mods) in enumerate(presses):
        w.add_event(Event(t_ns=(i * 1000 + 100) * MS, kind="mouse_down",
                          data={"x": x, "y": y, "button": "left", **mods}))
        w.add_event(Event(t_ns=(i * 1000 + 150) * MS, kind="mouse_up", data={"x": x, "y": y, "button": "left"}))
    w.add_event(Event(t_ns=4000 * MS, kind="mouse_down", data={"x": 100, "y": 400, "button": "left", "mods": ["ctrl"]}))
    w.add_event(Event(t_ns=4200 * MS, kind="mouse_up", data={"x": 600, "y": 400, "button": "left"}))
    w.close()
    return sid


MODIFIER_KEYS = [["shift"], [], [], ["ctrl"], None]  # the last step is terminate


@pytest.fixture
def modifiers_built(tmp_path: Path) -> Any:
    dd = DataDir(root=tmp_path / "d", key_backend=FileKeyBackend(path=tmp_path / "d" / "key"))
    sid = modifier_session(dd)

    def build(fmt: str) -> Path:
        out = tmp_path / fmt
        build_dataset(open_session=dd.open, session_ids=[sid], exporter=open_exporter(fmt, out=out),
                      release=Release(key=b"k" * 16), fmt=fmt)
        return out
    return build


def test_jsonl_steps_carry_the_modifiers_held_at_each_press(modifiers_built: Any) -> None:
    out = modifiers_built("jsonl")
    actions = [json.loads(line)["action"] for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [a["type"] for a in actions] == ["click", "click", "click", "drag", "terminate"]
    assert [a.get("keys") for a in actions] == MODIFIER_KEYS


def test_hf_keys_column_lists_the_modifiers_and_is_empty_without(modifiers_built: Any) -> None:
    out = modifiers_built("hf")
    (shard,) = (out / "data").glob("*.parquet")
    table = pq.read_table(shard)
    keys_type = table.schema.field("action").type.field("keys").type
    assert pa.types.is_list(keys_type) and keys_type.value_type == pa.string()
    keys = [row["keys"] for row in table.column("action").to_pylist()]
    assert keys == [k or [] for k in MODIFIER_KEYS]


def test_chat_code_holds_the_modifiers_around_the_click(modifiers_built: Any) -> None:
    out = modifiers_built("chat")
    schema = json.loads((out / "chat.schema.json").read_text())
    records = [json.loads(line) for line in (out / "chat.jsonl").read_text().splitlines()]
    for r in records:
        jsonschema.validate(r, schema)
    code = [r["conversations"][1]["value"].splitlines() for r in records]
    assert code[0] == ["pyautogui.keyDown('shift')", "pyautogui.click(x=0.1000, y=0.2000)",
                       "pyautogui.keyUp('shift')"]
    assert code[1] == ["pyautogui.click(x=0.3000, y=0.2000)"]
    assert code[2] == ["pyautogui.click(x=0.5000, y=0.2000)"]
    assert code[3] == ["pyautogui.keyDown('ctrl')", "pyautogui.moveTo(x=0.1000, y=0.8000)",
                       "pyautogui.dragTo(x=0.6000, y=0.8000, button='left')", "pyautogui.keyUp('ctrl')"]
