"""Targets matched to actions, and carried by every export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.episodes import build_episodes
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.reduce import reduce_events
from deskscribe.events import Event, Monitor, SessionMeta, validate
from deskscribe.keystore import FileKeyBackend

MS = 1_000_000


def target(event: str, name: str, bbox: list[int], **more: Any) -> dict[str, Any]:
    return {"source": "browser", "event": event, "role": "button", "name": name, "bbox": bbox,
            "states": [], "tag": "button", "selector": f"#{name}", **more}


def script() -> list[tuple[int, str, dict[str, Any]]]:
    """A click on Save (its target reported 30 ms later), a click beside a button whose target
    does not hold the point, typing into a focused field, and a drop-down that chose Norway."""
    return [
        (1000, "mouse_down", {"x": 110, "y": 210, "button": "left"}),
        (1030, "target", target("pointerdown", "Save", [100, 200, 80, 30])),
        (1050, "mouse_up", {"x": 110, "y": 210, "button": "left"}),
        (3000, "target", target("pointerdown", "Far", [500, 400, 10, 10])),
        (3010, "mouse_down", {"x": 700, "y": 300, "button": "left"}),
        (3050, "mouse_up", {"x": 700, "y": 300, "button": "left"}),
        (5000, "target", target("focus", "Email", [10, 10, 200, 20], role="textbox", tag="input")),
        (5200, "key_down", {"key": "a", "char": "a", "vk": 97, "mods": []}),
        (5250, "key_up", {"key": "a", "char": "a", "vk": 97, "mods": []}),
        (8000, "mouse_down", {"x": 310, "y": 110, "button": "left"}),
        (8020, "target", target("pointerdown", "Country", [300, 100, 100, 20], tag="select", role="combobox")),
        (8050, "mouse_up", {"x": 310, "y": 110, "button": "left"}),
        (9000, "target", target("change", "Country", [300, 100, 100, 20], tag="select", value="Norway")),
    ]


def events() -> list[tuple[int, Event]]:
    out = [(i, Event(t_ns=t * MS, kind=k, data=d)) for i, (t, k, d) in enumerate(script(), start=1)]
    for _, e in out:
        validate(e)
    return out


def test_each_action_takes_the_target_it_was_aimed_at() -> None:
    evs = events()
    (ep,) = build_episodes(evs, reduce_events(evs))
    steps = [(s.action.type, (s.target or {}).get("name")) for s in ep.steps]
    assert steps == [("click", "Save"), ("click", None), ("type", "Email"), ("select", "Country"),
                     ("terminate", None)]
    assert ep.steps[3].action.fields["value"] == "Norway"


def test_a_target_event_with_an_unknown_event_breaks_the_contract() -> None:
    with pytest.raises(Exception, match="target event"):
        validate(Event(t_ns=0, kind="target", data=target("hover", "x", [0, 0, 1, 1])))


@pytest.fixture
def built(tmp_path: Path) -> Any:
    dd = DataDir(root=tmp_path / "d", key_backend=FileKeyBackend(path=tmp_path / "d" / "key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id="c", started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    for _, e in events():
        w.add_event(e)
    w.close()

    def build(fmt: str) -> Path:
        out = tmp_path / fmt
        build_dataset(open_session=dd.open, session_ids=[sid], exporter=open_exporter(fmt, out=out),
                      release=Release(key=b"k" * 16), fmt=fmt)
        return out
    return build


def test_jsonl_steps_carry_the_target_with_its_box_as_screen_fractions(built: Any) -> None:
    rows = [json.loads(line) for line in (built("jsonl") / "steps.jsonl").read_text().splitlines()]
    save = rows[0]["target"]
    assert save["name"] == "Save" and save["selector"] == "#Save" and save["event"] == "pointerdown"
    assert save["bbox"] == [0.1, 0.4, 0.18, 0.46]  # 100/1000, 200/500, 180/1000, 230/500
    assert rows[1]["target"] is None
    assert rows[3]["action"] == {"type": "select", "x": 0.31, "y": 0.22, "value": "Norway"}


def test_the_hf_dataset_loads_with_a_target_column(built: Any) -> None:
    ds = datasets.load_dataset("parquet", data_dir=str(built("hf") / "data"), split="train")
    assert ds.features["target"]["name"].dtype == "string"
    names = [t["name"] if t else None for t in ds["target"]]
    assert names == ["Save", None, "Email", "Country", None]
    assert ds[3]["action"]["value"] == "Norway"


def test_chat_writes_a_select_as_a_click_and_the_option(built: Any) -> None:
    records = [json.loads(line) for line in (built("chat") / "chat.jsonl").read_text().splitlines()]
    assert records[3]["conversations"][1]["value"].splitlines() == [
        "pyautogui.click(x=0.3100, y=0.2200)", "computer.select(option='Norway')"]
