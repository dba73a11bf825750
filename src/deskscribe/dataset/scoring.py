"""How one predicted action is judged against the action recorded at that step.

The rules follow OpenCUA's AgentNetBench (``evaluation/agentnetbench/eval.py``,
``ActionEvaluator.evaluate_action``) wherever it has one, so a model scored by both gets the
same verdicts on the same predictions: any point inside the target's box counts; the smooth
coordinate score is 1 within 0.01·√2 of the recorded point (normalised coordinates) and
``exp(-120 (d - 0.01·√2))`` beyond; typed text is compared lower-cased and stripped by
Levenshtein distance over the longer length, full credit from 0.8, ``similarity / 0.8`` below;
a typed text followed by Enter is merged into one text ending in a newline; keys compare as
lower-cased sequences, order and repeats kept; an opposite scroll gets nothing, one in the same
direction the ratio of the smaller amount to the larger; a terminate needs the same status;
extra predicted actions scale the score by ``len(truth) / len(predicted)``.

Where deskscribe differs, and why:

* A step holds one recorded action (AgentNetBench's may hold several, such as moveTo + click),
  so ``len(truth)`` is 1 and the write+Enter merge applies to predictions only: the reducer
  keeps Enter as a ``key`` step of its own.
* AgentNetBench's click types (click, doubleClick, rightClick, tripleClick) are one ``click``
  with ``button`` and ``count`` here; its score needs the same button and count, and also the
  same modifiers held (``keys``), which AgentNetBench has no field for. Action-type accuracy
  compares ``type`` alone.
* Pass or fail for a press uses a radius isotropic in pixels: within 1 % of the screen diagonal
  of the recorded point (or anywhere inside the target's box). AgentNetBench's full-credit radius
  of 0.01·√2 in normalised coordinates is exactly 1 % of the diagonal on a square screen; on
  1920 x 1080 it is 27 px sideways but 15 px up or down, where this one is 22 px either way. Its
  smooth score is reported unchanged (``agentnet_coord``).
* AgentNetBench strips texts before it looks for the merged newline, so its 0.9 factor for a
  missing Enter never fires; stripping first here gives the same result on purpose.
* Key names also fold synonyms (``return`` = ``enter``, ``control`` = ``ctrl``, ``escape`` =
  ``esc``, ``del`` = ``delete``, recorder names such as ``ctrl_r``), which press the same key;
  AgentNetBench would score them 0.
* A scroll has ``dx`` and ``dy``: each axis that moves is scored as AgentNetBench scores its one
  signed amount, and the axes are averaged. Its position is not judged, as there.
* A drag is scored as AgentNetBench scores moveTo (start, target box counts) + dragTo (end),
  averaged. ``long_press`` and ``select`` have no counterpart; they score like a click, and a
  select also needs the same option. A ``wait`` of the right type scores 1 (AgentNetBench
  leaves types it does not know without a score).
* Pass or fail for a step also needs no extra predicted actions after merging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from deskscribe.dataset.actions import pyautogui_key

CLICK_RADIUS = 0.01  # of the screen diagonal, in pixels
TEXT_PASS = 0.8
AGENTNET_RADIUS = 0.01 * math.sqrt(2)  # normalised coordinates
AGENTNET_ALPHA = 120.0

PRESSES = frozenset({"click", "long_press", "select", "drag"})  # aimed at a target's box
POINTERS = PRESSES | {"move"}
_KEY_SYNONYMS = {"return": "enter", "control": "ctrl", "escape": "esc", "del": "delete"}

Action = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Truth:
    """A recorded action with what judging it needs: the target's box and the screen size."""

    action: Action
    target: Mapping[str, Any] | None
    screen: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Judgement:
    """Verdicts for one step; a metric that does not apply to the recorded type is None."""

    type_ok: bool
    correct: bool
    agentnet: float
    click: bool | None = None
    coord: float | None = None
    text: bool | None = None
    similarity: float | None = None
    keys: bool | None = None
    scroll: bool | None = None


def judge(truth: Truth, predicted: Sequence[Action] | None) -> Judgement:
    """No prediction, or a first action of another type, fails every metric of the step."""
    kind = str(truth.action["type"])
    actions = merge_write_enter(predicted or [])
    if not actions or actions[0].get("type") != kind:
        return _failed(kind)
    rule = _RULES.get(kind, _same_type)
    verdict = rule(truth, actions[0])
    return replace(verdict, correct=verdict.correct and len(actions) == 1,
                   agentnet=verdict.agentnet / len(actions))


def _failed(kind: str) -> Judgement:
    return Judgement(type_ok=False, correct=False, agentnet=0.0,
                     click=False if kind in PRESSES else None, coord=0.0 if kind in POINTERS else None,
                     text=False if kind == "type" else None, similarity=0.0 if kind == "type" else None,
                     keys=False if kind == "key" else None, scroll=False if kind == "scroll" else None)


def merge_write_enter(actions: Sequence[Action]) -> list[Action]:
    """A text followed by Enter is one text ending in a newline; as in AgentNetBench, a merged
    text does not take a second Enter."""
    out: list[Action] = []
    i = 0
    while i < len(actions):
        a = actions[i]
        nxt = actions[i + 1] if i + 1 < len(actions) else None
        if a.get("type") == "type" and nxt is not None and nxt.get("type") == "key" \
                and normalise_keys(nxt.get("keys")) == ["enter"]:
            out.append({**a, "text": f"{a.get('text', '')}\n"})
            i += 2
            continue
        out.append(a)
        i += 1
    return out


# -- pointer actions -----------------------------------------------------------------------

def _point(a: Action, second: bool = False) -> tuple[float, float]:
    return (float(a["x2"]), float(a["y2"])) if second else (float(a["x"]), float(a["y"]))


def in_box(point: tuple[float, float], target: Mapping[str, Any] | None) -> bool:
    """Any point inside the box counts, edges included, as in AgentNetBench."""
    box = target.get("bbox") if target else None
    if not isinstance(box, Sequence) or len(box) != 4:
        return False
    left, top, right, bottom = (float(v) for v in box)
    return left <= point[0] <= right and top <= point[1] <= bottom


def near(point: tuple[float, float], recorded: tuple[float, float], screen: tuple[int, int]) -> bool:
    w, h = screen
    return math.hypot((point[0] - recorded[0]) * w, (point[1] - recorded[1]) * h) \
        <= CLICK_RADIUS * math.hypot(w, h)


def agentnet_coord(point: tuple[float, float], recorded: tuple[float, float],
                   target: Mapping[str, Any] | None) -> float:
    if in_box(point, target):
        return 1.0
    distance = math.dist(point, recorded)
    return 1.0 if distance <= AGENTNET_RADIUS else math.exp(-AGENTNET_ALPHA * (distance - AGENTNET_RADIUS))


def _modifiers(a: Action) -> frozenset[str]:
    """Modifiers are held together, so their order says nothing."""
    return frozenset(normalise_keys(a.get("keys")))


def _same_press(t: Action, p: Action, *fields: str) -> bool:
    defaults = {"button": "left", "count": 1}
    return all(p.get(f, defaults.get(f)) == t.get(f, defaults.get(f)) for f in fields) \
        and _modifiers(p) == _modifiers(t)


def _press(truth: Truth, p: Action, same: bool) -> Judgement:
    t, point = truth.action, _point(p)
    hit = in_box(point, truth.target) or near(point, _point(t), truth.screen)
    coord = agentnet_coord(point, _point(t), truth.target) if same else 0.0
    return Judgement(type_ok=True, correct=hit and same, agentnet=coord, click=hit, coord=coord)


def _click(truth: Truth, p: Action) -> Judgement:
    return _press(truth, p, _same_press(truth.action, p, "button", "count"))


def _long_press(truth: Truth, p: Action) -> Judgement:
    return _press(truth, p, _same_press(truth.action, p, "button"))


def _select(truth: Truth, p: Action) -> Judgement:
    same = str(p.get("value", "")).strip().casefold() == str(truth.action.get("value", "")).strip().casefold()
    return _press(truth, p, same)


def _drag(truth: Truth, p: Action) -> Judgement:
    t = truth.action
    same = _same_press(t, p, "button")
    start = _press(truth, p, same)
    end, recorded_end = _point(p, True), _point(t, True)
    coord = (start.agentnet + agentnet_coord(end, recorded_end, None)) / 2 if same else 0.0
    return replace(start, correct=start.correct and near(end, recorded_end, truth.screen),
                   agentnet=coord, coord=coord)


def _move(truth: Truth, p: Action) -> Judgement:
    point, recorded = _point(p), _point(truth.action)
    coord = agentnet_coord(point, recorded, None)
    return Judgement(type_ok=True, correct=near(point, recorded, truth.screen), agentnet=coord, coord=coord)


# -- keyboard, wheel and the end -----------------------------------------------------------

def levenshtein(a: str, b: str) -> int:
    """Plain edit distance, the one AgentNetBench uses. Typed bursts are short, so the
    quadratic table is cheap and no library is needed for it."""
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def text_similarity(recorded: str, predicted: str) -> float:
    """1 - distance / longer length, on lower-cased, stripped texts."""
    a, b = recorded.lower().strip(), predicted.lower().strip()
    longest = max(len(a), len(b))
    return 1.0 if not longest else 1.0 - levenshtein(a, b) / longest


def _type(truth: Truth, p: Action) -> Judgement:
    sim = text_similarity(str(truth.action.get("text", "")), str(p.get("text", "")))
    ok = sim >= TEXT_PASS
    return Judgement(type_ok=True, correct=ok, agentnet=1.0 if ok else sim / TEXT_PASS, text=ok,
                     similarity=sim)


def normalise_keys(keys: Any) -> list[str]:
    """Lower-cased pyautogui names in the order given; a lone name is a sequence of one."""
    names = keys if isinstance(keys, list | tuple) else [] if keys in (None, "") else [keys]
    out = []
    for name in names:
        k = str(name).strip().lower()
        out.append(pyautogui_key(_KEY_SYNONYMS.get(k, k)))
    return out


def _key(truth: Truth, p: Action) -> Judgement:
    ok = normalise_keys(p.get("keys")) == normalise_keys(truth.action.get("keys"))
    return Judgement(type_ok=True, correct=ok, agentnet=float(ok), keys=ok)


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _amount(predicted: float, recorded: float) -> float:
    if _sign(predicted) != _sign(recorded) or not predicted:
        return 0.0
    return min(abs(predicted), abs(recorded)) / max(abs(predicted), abs(recorded))


def _scroll(truth: Truth, p: Action) -> Judgement:
    axes = [(float(p.get(a) or 0), float(truth.action.get(a) or 0)) for a in ("dx", "dy")]
    ok = all(_sign(pv) == _sign(tv) for pv, tv in axes)
    moving = [(pv, tv) for pv, tv in axes if pv or tv]
    score = sum(_amount(pv, tv) for pv, tv in moving) / len(moving) if moving else 1.0
    return Judgement(type_ok=True, correct=ok, agentnet=score, scroll=ok)


def _terminate(truth: Truth, p: Action) -> Judgement:
    ok = p.get("status") == truth.action.get("status")
    return Judgement(type_ok=True, correct=ok, agentnet=float(ok))


def _same_type(truth: Truth, p: Action) -> Judgement:
    return Judgement(type_ok=True, correct=True, agentnet=1.0)


_RULES = {"click": _click, "long_press": _long_press, "select": _select, "drag": _drag, "move": _move,
          "type": _type, "key": _key, "scroll": _scroll, "terminate": _terminate}
