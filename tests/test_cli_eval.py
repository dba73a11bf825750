"""`deskscribe eval` from the command line: a report and its JSON, baselines, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from tests.support import one_line_error, run

MS = 1_000_000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A jsonl build of two clicks on a 1000 x 500 screen and the episode's end: three steps."""
    root = tmp_path_factory.mktemp("cli-eval")
    dd = DataDir(root=root / "data", key_backend=FileKeyBackend(path=root / "key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id="c", started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    w.add_event(Event(t_ns=0, kind="focus", data={"app": "XTerm", "title": "t", "pid": 1,
                                                   "geometry": [0, 0, 1000, 500], "url": None}))
    for i, x in enumerate((100, 300)):
        w.add_event(Event(t_ns=(i * 2000 + 1000) * MS, kind="mouse_down", data={"x": x, "y": 250, "button": "left"}))
        w.add_event(Event(t_ns=(i * 2000 + 1050) * MS, kind="mouse_up", data={"x": x, "y": 250, "button": "left"}))
    w.close()
    out = root / "jsonl"
    build_dataset(open_session=dd.open, session_ids=[sid], exporter=open_exporter("jsonl", out=out),
                  release=Release(key=b"a fixed release key"), fmt="jsonl")
    return out


def report(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_the_export_s_own_steps_score_full_marks_in_a_table_and_json(dataset: Path, tmp_path: Path) -> None:
    out = run("eval", "--dataset", str(dataset), "--predictions", str(dataset / "steps.jsonl"), "--split", "all",
              "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert "step success" in out.stdout and "XTerm" in out.stdout and "100.0%" in out.stdout
    r = report(tmp_path / "r.json")
    assert r["metrics"]["step_success"] == {"value": 1.0, "hits": 3.0, "total": 3}
    assert r["metrics"]["episode_success"]["value"] == 1.0 and r["by_place"]["XTerm"]["step_success"]["total"] == 3
    assert (r["predicted"], r["missing"], r["unknown"]) == (3, 0, 0)


def test_a_baseline_is_scored_the_same_way(dataset: Path, tmp_path: Path) -> None:
    out = run("eval", "--dataset", str(dataset), "--baseline", "repeat-previous", "--split", "all",
              "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    r = report(tmp_path / "r.json")
    # step 0 has nothing before it; step 1 repeats a click 200 px to its left; step 2 ends, not clicks
    assert (r["baseline"], r["missing"], r["metrics"]["action_type"]["value"]) == ("repeat-previous", 1, 1 / 3)
    assert r["metrics"]["step_success"]["value"] == 0.0 and r["metrics"]["click"] == {
        "value": 0.0, "hits": 0.0, "total": 2}


def test_predictions_for_unknown_steps_are_a_warning(dataset: Path, tmp_path: Path) -> None:
    first = json.loads((dataset / "steps.jsonl").read_text().splitlines()[0])
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"episode_id": first["episode_id"], "step": 7, "action": {"type": "wait"}}) + "\n")
    out = run("eval", "--dataset", str(dataset), "--predictions", str(preds), "--split", "all")
    assert out.returncode == 0, out.stderr
    assert f"warning: 1 prediction for steps not in the dataset (first: episode {first['episode_id']} step 7)" \
        in out.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--predictions", "{bad}"], "p.jsonl line 2: not JSON"),
    (["--split", "nonsense"], "no steps in split 'nonsense'"),
    (["--baseline", "oracle"], "unknown baseline 'oracle'"),
    ([], "give either --predictions FILE or --baseline"),
])
def test_bad_input_is_one_line(dataset: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    if args[:1] == ["--predictions"]:
        preds = tmp_path / "p.jsonl"
        preds.write_text('{"episode_id": "e", "step": 0, "action": {"type": "wait"}}\n' + args[1] + "\n")
        args = ["--predictions", str(preds)]
    elif args[:1] == ["--split"]:
        args = [*args, "--baseline", "most-frequent"]
    one_line_error(run("eval", "--dataset", str(dataset), *args), needle)


def test_a_directory_that_is_no_build_is_one_line(tmp_path: Path) -> None:
    one_line_error(run("eval", "--dataset", str(tmp_path), "--baseline", "most-frequent"),
                   "is not a jsonl or hf build")
