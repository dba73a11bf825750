"""Offline evaluation on real builds: perfect predictions, perturbed ones scored against a table
worked out by hand, AgentNetBench's rules, malformed prediction files, and the baselines."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.evaluate import (
    METRICS,
    Step,
    baseline,
    evaluate,
    load_steps,
    most_frequent_action,
    read_predictions,
)
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.scoring import Truth, judge, levenshtein
from deskscribe.errors import UserError
from deskscribe.events import Event, Monitor, SessionMeta, validate
from deskscribe.keystore import FileKeyBackend

MS = 1_000_000
Script = list[tuple[int, str, dict[str, Any]]]


def focus(t: int, app: str, url: str | None) -> tuple[int, str, dict[str, Any]]:
    return (t, "focus", {"app": app, "title": app, "pid": 1, "geometry": [0, 0, 1000, 500], "url": url})


def keys(t: int, text: str) -> Script:
    return [(t + 50 * i, "key_down", {"key": "space" if c == " " else c.lower(), "char": c, "vk": 0,
                                      "mods": ["shift"] if c.isupper() else []}) for i, c in enumerate(text)]


def press(t: int, key: str, mods: list[str] | None = None) -> tuple[int, str, dict[str, Any]]:
    return (t, "key_down", {"key": key, "char": None, "vk": 0, "mods": mods or []})


def click(t: int, x: int, y: int) -> Script:
    return [(t, "mouse_down", {"x": x, "y": y, "button": "left"}),
            (t + 50, "mouse_up", {"x": x, "y": y, "button": "left"})]


def task(t: int, marker: str, **data: str) -> tuple[int, str, dict[str, Any]]:
    return (t, "marker", {"marker": marker, **data})


def notes_and_leads() -> Script:
    """On a 1000 x 500 screen: in an editor, a click on Save (box 100..180 x 200..230), "hello
    world", Enter, three notches down, ctrl+s; then on a web page a click with no target and "Q3"."""
    return [
        task(0, "task_start", instruction="Save the note"), focus(10, "Mousepad", None),
        (1000, "mouse_down", {"x": 110, "y": 210, "button": "left"}),
        (1030, "target", {"source": "atspi", "event": "pointerdown", "role": "push button", "name": "Save",
                          "bbox": [100, 200, 80, 30], "states": []}),
        (1050, "mouse_up", {"x": 110, "y": 210, "button": "left"}),
        *keys(2000, "hello world"), press(4000, "enter"),
        (5000, "scroll", {"x": 500, "y": 250, "dx": 0, "dy": -3}),
        press(6000, "s", ["ctrl"]), task(7000, "task_end", status="success"),
        task(8000, "task_start", instruction="Find the lead"),
        focus(8010, "chromium", "https://crm.example.com/leads?id=7"),
        *click(9000, 700, 300), *keys(10000, "Q3"), task(12000, "task_end", status="success"),
    ]


def menu_walk() -> Script:
    """Down three times, "ok", in one episode."""
    return [focus(0, "xterm", None), press(1000, "down"), press(2000, "down"), press(3000, "down"),
            *keys(4000, "ok")]


def build(root: Path, script: Script, *fmts: str) -> dict[str, Path]:
    """One recorded session, exported in each format with the same release key."""
    dd = DataDir(root=root / "data", key_backend=FileKeyBackend(path=root / "key"))
    sid = dd.new_session_id()
    w = dd.create(SessionMeta(session_id=sid, contributor_id="c", started_wall_ns=0, os="Linux",
                              monitors=(Monitor(0, 0, 1000, 500),), double_click_ms=400, double_click_px=5,
                              policy_version="p", recorder_version="r"))
    for t, kind, data in script:
        w.add_event(validate(Event(t_ns=t * MS, kind=kind, data=data)))
    w.close()
    for fmt in fmts:
        build_dataset(open_session=dd.open, session_ids=[sid], exporter=open_exporter(fmt, out=root / fmt),
                      release=Release(key=b"a fixed release key"), fmt=fmt)
    return {fmt: root / fmt for fmt in fmts}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("eval"), notes_and_leads(), "jsonl", "hf")


def rows(build_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (build_dir / "steps.jsonl").read_text().splitlines()]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def rates(report: Any) -> dict[str, tuple[float | None, int]]:
    return {k: (t.rate, t.total) for k, t in report.metrics.items()}


def test_the_recording_is_what_the_builds_hold(builds: dict[str, Path]) -> None:
    actions = [r["action"] for r in rows(builds["jsonl"])]
    assert actions == [
        {"type": "click", "x": 0.11, "y": 0.42, "button": "left", "count": 1, "keys": []},
        {"type": "type", "text": "hello world"}, {"type": "key", "keys": ["enter"]},
        {"type": "scroll", "x": 0.5, "y": 0.5, "dx": 0, "dy": -3}, {"type": "key", "keys": ["ctrl", "s"]},
        {"type": "terminate", "status": "success"},
        {"type": "click", "x": 0.7, "y": 0.6, "button": "left", "count": 1, "keys": []},
        {"type": "type", "text": "Q3"}, {"type": "terminate", "status": "success"}]
    assert rows(builds["jsonl"])[0]["target"]["bbox"] == [0.1, 0.4, 0.18, 0.46]


def test_hf_and_jsonl_builds_load_as_the_same_steps(builds: dict[str, Path]) -> None:
    jsonl, hf = load_steps(builds["jsonl"]), load_steps(builds["hf"])
    assert len(jsonl) == 9
    assert sorted(jsonl, key=lambda s: s.key) == sorted(hf, key=lambda s: s.key)
    assert [s.place for s in jsonl] == ["Mousepad"] * 6 + ["crm.example.com"] * 3


@pytest.mark.parametrize("fmt", ["jsonl", "hf"])
def test_the_export_s_own_steps_as_predictions_score_full_marks(builds: dict[str, Path], fmt: str) -> None:
    report = evaluate(load_steps(builds[fmt]), read_predictions(builds["jsonl"] / "steps.jsonl"), split="all")
    assert rates(report) == {
        "action_type": (1.0, 9), "click": (1.0, 2), "agentnet_coord": (1.0, 2), "text": (1.0, 2),
        "text_similarity": (1.0, 2), "keys": (1.0, 2), "scroll": (1.0, 1), "step_success": (1.0, 9),
        "episode_success": (1.0, 2), "agentnet_score": (1.0, 9)}
    assert (report.predicted, report.missing, report.unknown, report.outside_split) == (9, 0, [], 0)


def test_perturbed_predictions_score_the_table_worked_out_by_hand(builds: dict[str, Path], tmp_path: Path) -> None:
    truth = rows(builds["jsonl"])
    e1, e2 = truth[0]["episode_id"], truth[6]["episode_id"]
    far = math.exp(-120 * (0.05 - 0.01 * math.sqrt(2)))  # 0.05 right of a click with no box
    predicted: list[tuple[int, dict[str, Any]]] = [
        # step: prediction                                      hit/ok  AgentNet
        (0, {"action": {"type": "click", "x": 0.17, "y": 0.45}}),  # in box, 62 px off: yes  1
        (1, {"action": {"type": "type", "text": "hello wrld"}}),  # 1 edit in 11: yes       1
        (2, {"action": {"type": "key", "keys": ["ctrl", "enter"]}}),  # wrong keys: no      0
        (3, {"action": {"type": "scroll", "x": 0.5, "y": 0.5, "dx": 0, "dy": 3}}),  # reversed 0
        (4, {"action": {"type": "key", "keys": ["CTRL", "S"]}}),  # same keys: yes          1
        # step 5 (terminate) has no prediction: wrong                                      0
        (6, {"action": {"type": "click", "x": 0.75, "y": 0.6}}),  # 50 px, no box: no      far
        (7, {"action": {"type": "type", "text": "Q4"}}),  # 1 edit in 2, 0.5: no            0.5 / 0.8
        (8, {"actions": [{"type": "terminate", "status": "success"},  # extra action: no    1 / 2
                         {"type": "click", "x": 0.5, "y": 0.5}]}),
    ]
    lines = [{"episode_id": truth[i]["episode_id"], "step": truth[i]["step"], **p} for i, p in predicted]
    lines += [{"episode_id": e1, "step": 99, "action": {"type": "wait"}},
              {"episode_id": "no-such-episode", "step": 0, "action": {"type": "wait"}}]
    report = evaluate(load_steps(builds["jsonl"]), read_predictions(write(tmp_path / "p.jsonl", lines)),
                      split="all")
    expected = {
        "action_type": (8 / 9, 9), "click": (1 / 2, 2), "agentnet_coord": ((1 + far) / 2, 2),
        "text": (1 / 2, 2), "text_similarity": ((10 / 11 + 0.5) / 2, 2), "keys": (1 / 2, 2),
        "scroll": (0.0, 1), "step_success": (3 / 9, 9), "episode_success": (0.0, 2),
        "agentnet_score": ((1 + 1 + 0 + 0 + 1 + 0 + far + 0.625 + 0.5) / 9, 9)}
    assert rates(report) == {k: (pytest.approx(v), n) for k, (v, n) in expected.items()}
    assert (report.predicted, report.missing) == (8, 1)
    assert report.unknown == sorted([(e1, 99), ("no-such-episode", 0)]) and e2 != e1
    place = {name: (row["step_success"].hits, row["step_success"].total) for name, row in report.by_place.items()}
    assert place == {"Mousepad": (3, 6), "crm.example.com": (0, 3)}
    kinds = {name: (row["step_success"].hits, row["step_success"].total) for name, row in report.by_action.items()}
    assert kinds == {"click": (1, 2), "type": (1, 2), "key": (1, 2), "scroll": (0, 1), "terminate": (0, 2)}
    assert list(report.as_dict()["metrics"]) == list(METRICS)


def steps_of(*rows: tuple[str, str, dict[str, Any]]) -> list[Step]:
    """(episode, split, action) rows, numbered within each episode."""
    seen: dict[str, int] = {}
    out = []
    for episode, split, action in rows:
        seen[episode] = seen.get(episode, -1) + 1
        out.append(Step(episode_id=episode, step=seen[episode], split=split, place="app",
                        truth=Truth(action=action, target=None, screen=(1000, 500))))
    return out


def test_predictions_for_other_splits_are_counted_apart_and_an_empty_split_is_one_line() -> None:
    steps = steps_of(("a", "train", {"type": "key", "keys": ["a"]}), ("b", "test", {"type": "key", "keys": ["b"]}))
    report = evaluate(steps, {("a", 0): [{"type": "key", "keys": ["a"]}], ("b", 0): [{"type": "key", "keys": ["b"]}]})
    assert (report.steps, report.outside_split, report.metrics["step_success"].rate) == (1, 1, 1.0)
    with pytest.raises(UserError, match=r"no steps in split 'validation'; this dataset has: test, train"):
        evaluate(steps, {}, split="validation")


def test_baselines_on_a_tiny_build_score_what_counting_by_hand_gives(tmp_path: Path) -> None:
    steps = load_steps(build(tmp_path, menu_walk(), "jsonl")["jsonl"])
    assert [s.truth.action for s in steps] == [
        {"type": "key", "keys": ["down"]}, {"type": "key", "keys": ["down"]}, {"type": "key", "keys": ["down"]},
        {"type": "type", "text": "ok"}, {"type": "terminate", "status": "unknown"}]
    # most frequent: key down everywhere, right on the three downs
    frequent = evaluate(steps, baseline("most-frequent", steps, split="all"), split="all")
    assert {k: frequent.metrics[k].rate for k in ("action_type", "keys", "text", "step_success",
                                                   "episode_success", "agentnet_score")} == {
        "action_type": 3 / 5, "keys": 3 / 3, "text": 0.0, "step_success": 3 / 5, "episode_success": 0.0,
        "agentnet_score": 3 / 5}
    # repeat previous: nothing for step 0; down, down right; down for "ok" and "ok" for the end wrong
    repeat = evaluate(steps, baseline("repeat-previous", steps, split="all"), split="all")
    assert {k: repeat.metrics[k].rate for k in ("action_type", "keys", "step_success", "agentnet_score")} == {
        "action_type": 2 / 5, "keys": 2 / 3, "step_success": 2 / 5, "agentnet_score": 2 / 5}
    assert (repeat.predicted, repeat.missing) == (4, 1)


def test_the_most_frequent_action_comes_from_train_and_ties_go_to_the_first_seen() -> None:
    up, down = {"type": "key", "keys": ["up"]}, {"type": "key", "keys": ["down"]}
    steps = steps_of(("a", "train", up), ("a", "train", down), ("b", "test", down), ("b", "test", down))
    assert most_frequent_action(steps) == up
    assert most_frequent_action(steps[2:]) == down
    with pytest.raises(UserError, match="unknown baseline 'oracle'"):
        baseline("oracle", steps)


@pytest.mark.parametrize(("recorded", "predicted", "correct", "agentnet"), [
    # a drag: start as moveTo (its box counts), end as dragTo; the end here is 50 px off
    ({"type": "drag", "x": 0.2, "y": 0.2, "x2": 0.6, "y2": 0.2}, {"type": "drag", "x": 0.2, "y": 0.2, "x2": 0.65,
                                                                  "y2": 0.2}, False,
     (1 + math.exp(-120 * (0.05 - 0.01 * math.sqrt(2)))) / 2),
    # each scroll axis that moves is scored by amount, and the axes averaged
    ({"type": "scroll", "dx": 2, "dy": -3}, {"type": "scroll", "dx": 1, "dy": -3}, True, (0.5 + 1) / 2),
    ({"type": "scroll", "dx": 0, "dy": -3}, {"type": "scroll", "dx": 2, "dy": -3}, False, (0 + 1) / 2),
    ({"type": "select", "x": 0.3, "y": 0.2, "value": "Norway"},
     {"type": "select", "x": 0.3, "y": 0.2, "value": " norway"}, True, 1.0),
    ({"type": "select", "x": 0.3, "y": 0.2, "value": "Norway"},
     {"type": "select", "x": 0.3, "y": 0.2, "value": "Sweden"}, False, 0.0),
    ({"type": "long_press", "x": 0.3, "y": 0.2, "ms": 900}, {"type": "long_press", "x": 0.3, "y": 0.2, "ms": 2000},
     True, 1.0),
])
def test_actions_agentnetbench_has_no_type_for(recorded: dict[str, Any], predicted: dict[str, Any],
                                               correct: bool, agentnet: float) -> None:
    verdict = judge(Truth(action=recorded, target=None, screen=(1000, 500)), [predicted])
    assert (verdict.correct, verdict.agentnet) == (correct, pytest.approx(agentnet))


@pytest.mark.parametrize(("recorded", "predicted", "correct", "agentnet"), [
    # AgentNetBench's own cases: opposite scroll, half the amount, hotkey order, repeated key, extra action
    ({"type": "scroll", "dy": -3}, [{"type": "scroll", "dy": 3}], False, 0.0),
    ({"type": "scroll", "dy": -6}, [{"type": "scroll", "dy": -3}], True, 0.5),
    ({"type": "key", "keys": ["ctrl", "v"]}, [{"type": "key", "keys": ["v", "ctrl"]}], False, 0.0),
    ({"type": "key", "keys": ["down", "down"]}, [{"type": "key", "keys": ["down"]}], False, 0.0),
    ({"type": "click", "x": 0.5, "y": 0.5}, [{"type": "click", "x": 0.5, "y": 0.5},
                                            {"type": "type", "text": "unexpected"}], False, 0.5),
    # a text with the Enter after it is one text; case and the stripped newline cost nothing
    ({"type": "type", "text": "Q3"}, [{"type": "type", "text": "q3"}, {"type": "key", "keys": ["Return"]}], True, 1.0),
    # a second Enter is not merged into a merged text: an extra action
    ({"type": "type", "text": "Q3"}, [{"type": "type", "text": "Q3"}, {"type": "key", "keys": ["enter"]},
                                      {"type": "key", "keys": ["enter"]}], False, 0.5),
    # below the pass mark a text scores similarity / 0.8
    ({"type": "type", "text": "Q3"}, [{"type": "type", "text": "Q4"}], False, 0.5 / 0.8),
    ({"type": "terminate", "status": "success"}, [{"type": "terminate", "status": "failure"}], False, 0.0),
    ({"type": "key", "keys": ["enter"]}, [{"type": "type", "text": "\n"}], False, 0.0),
    ({"type": "key", "keys": ["enter"]}, None, False, 0.0),
])
def test_agentnetbench_rules(recorded: dict[str, Any], predicted: list[dict[str, Any]] | None, correct: bool,
                             agentnet: float) -> None:
    verdict = judge(Truth(action=recorded, target=None, screen=(1000, 500)), predicted)
    assert (verdict.correct, verdict.agentnet) == (correct, pytest.approx(agentnet))


CLICK = Truth(action={"type": "click", "x": 0.5, "y": 0.5, "button": "left", "count": 1, "keys": ["shift"]},
              target={"bbox": [0.45, 0.45, 0.55, 0.51]}, screen=(1920, 1080))  # box 864..1056 x 486..551 px


@pytest.mark.parametrize(("predicted", "hit", "correct"), [
    ({"x": 0.55, "y": 0.45, "keys": ["shift"]}, True, True),  # the box's corner, 110 px from the point
    ({"x": 0.5, "y": 0.5 + 21 / 1080, "keys": ["shift"]}, True, True),  # below the box, 21 px: within 1 % of 2203
    ({"x": 0.5, "y": 0.5 + 23 / 1080, "keys": ["shift"]}, False, False),  # below the box, 23 px
    ({"x": 0.5, "y": 0.5, "keys": []}, True, False),  # no shift held
    ({"x": 0.5, "y": 0.5, "keys": ["Shift_R"]}, True, True),  # the other shift key, named as the recorder does
    ({"x": 0.5, "y": 0.5, "keys": ["shift"], "count": 2}, True, False),  # a double click
    ({"x": 0.5, "y": 0.5, "keys": ["shift"], "button": "right"}, True, False),
])
def test_a_click_lands_in_the_box_or_near_the_point_and_must_be_the_same_press(
        predicted: dict[str, Any], hit: bool, correct: bool) -> None:
    verdict = judge(CLICK, [{"type": "click", **predicted}])
    assert (verdict.click, verdict.correct, verdict.type_ok) == (hit, correct, True)


def test_on_a_square_screen_the_pass_radius_is_agentnetbench_s_full_credit_radius() -> None:
    at = Truth(action={"type": "move", "x": 0.5, "y": 0.5}, target=None, screen=(1000, 1000))
    inside, outside = judge(at, [{"type": "move", "x": 0.509, "y": 0.509}]), \
        judge(at, [{"type": "move", "x": 0.511, "y": 0.511}])
    assert (inside.correct, inside.coord) == (True, 1.0)
    assert outside.correct is False and outside.coord == pytest.approx(math.exp(-120 * 0.001 * math.sqrt(2)))
    assert judge(at, [{"type": "move", "x": 0.6, "y": 0.5}]).coord == pytest.approx(
        math.exp(-120 * (0.1 - 0.01 * math.sqrt(2))))
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "line 2: not JSON"),
    ("[1, 2]", "line 2: expected an object"),
    ('{"step": 0, "action": {"type": "wait"}}', "line 2: episode_id must be"),
    ('{"episode_id": "e", "step": "0", "action": {"type": "wait"}}', "line 2: step must be a whole number"),
    ('{"episode_id": "e", "step": 0}', "line 2: give either action"),
    ('{"episode_id": "e", "step": 0, "actions": []}', "line 2: actions must be a non-empty list"),
    ('{"episode_id": "e", "step": 0, "action": {"type": "doubleClick"}}', "line 2: unknown action type"),
    ('{"episode_id": "e", "step": 0, "action": {"type": "click", "x": 0.5}}', "line 2: a click action needs y"),
    ('{"episode_id": "e", "step": 0, "action": {"type": "type", "text": 5}}', "line 2: type field text must be"),
    ('{"episode_id": "e", "step": 0, "action": {"type": "key", "keys": "enter"}}', "line 2: key field keys must"),
    ('{"episode_id": "e", "step": 0, "action": {"type": "move", "x": NaN, "y": 0}}', "line 2: move field x must"),
    ('{"episode_id": "e", "step": 1, "action": {"type": "wait"}}', "line 2: a second prediction for episode e step 1"),
])
def test_a_malformed_prediction_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"episode_id": "e", "step": 1, "action": {"type": "wait"}}\n' + line + "\n")
    with pytest.raises(UserError, match="^" + re.escape(f"p.jsonl {message}")):
        read_predictions(path)


def test_a_directory_that_is_no_build_and_a_damaged_step_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a jsonl or hf build"):
        load_steps(tmp_path)
    (tmp_path / "steps.jsonl").write_text('{"episode_id": "e", "step": 0}\n')
    with pytest.raises(UserError, match=r"steps\.jsonl line 1: not a deskscribe step"):
        load_steps(tmp_path)
