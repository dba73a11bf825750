"""Offline evaluation: a model's predicted next action at every step of a built dataset, scored
against what the person did, with two trivial baselines that give its numbers context.

Each step is judged on its own (the screenshot is the recorded one, whatever the model did
before), by the rules in :mod:`deskscribe.dataset.scoring`, which follow AgentNetBench and say
where they differ. A step with no prediction is wrong on every metric; predictions naming no
step of the dataset are counted and left out; an episode succeeds when every step does.

A prediction file has one JSON object a line, ``{"episode_id", "step", "action"}`` with the
``action`` shaped like the ``jsonl`` export's, so an export's own ``steps.jsonl`` is a perfect
prediction file. ``"actions": [...]`` instead gives several actions for one step: the first is
judged, and extra ones (after merging a typed text with the Enter after it) scale
AgentNetBench's score by ``1 / len(actions)`` and fail the step.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deskscribe.dataset.actions import ACTION_TYPES
from deskscribe.dataset.scoring import (
    AGENTNET_ALPHA,
    AGENTNET_RADIUS,
    CLICK_RADIUS,
    TEXT_PASS,
    Judgement,
    Truth,
    judge,
)
from deskscribe.errors import UserError

StepKey = tuple[str, int]
Predictions = Mapping[StepKey, Sequence[Mapping[str, Any]]]

METRICS = ("action_type", "click", "agentnet_coord", "text", "text_similarity", "keys", "scroll",
           "step_success", "episode_success", "agentnet_score")
BASELINES = ("most-frequent", "repeat-previous")
THRESHOLDS = {"click_radius_of_diagonal": CLICK_RADIUS, "text_pass": TEXT_PASS,
              "agentnet_radius": AGENTNET_RADIUS, "agentnet_alpha": AGENTNET_ALPHA}
_HF_COLUMNS = ("episode_id", "step", "split", "app", "url", "screen_w", "screen_h", "action", "target")


@dataclass(frozen=True, slots=True)
class Step:
    episode_id: str
    step: int
    split: str
    place: str  # the app, or the host of the page for a web step
    truth: Truth

    @property
    def key(self) -> StepKey:
        return (self.episode_id, self.step)


def place_of(app: str | None, url: str | None) -> str:
    host = urlsplit(url).hostname if url else None
    return host or app or "(unknown)"


# -- the dataset ---------------------------------------------------------------------------

def load_steps(directory: Path) -> list[Step]:
    """Every step of a ``jsonl`` or ``hf`` build, episodes in file order, steps in order."""
    if (directory / "steps.jsonl").is_file():
        rows: Iterable[tuple[str, dict[str, Any]]] = _jsonl_rows(directory / "steps.jsonl")
    elif shards := sorted((directory / "data").glob("*.parquet")):
        rows = _parquet_rows(shards)
    else:
        raise UserError(f"{directory} is not a jsonl or hf build (no steps.jsonl, no data/*.parquet);"
                        " make one with deskscribe build --format jsonl or --format hf")
    steps = [_step(where, row) for where, row in rows]
    order = {ep: i for i, ep in enumerate(dict.fromkeys(s.episode_id for s in steps))}
    return sorted(steps, key=lambda s: (order[s.episode_id], s.step))


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                where = f"{path.name} line {n}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{where}: not JSON ({exc.msg})") from None
                screen = row.get("screen") if isinstance(row, dict) else None
                if isinstance(screen, dict):
                    row = {**row, "screen_w": screen.get("w"), "screen_h": screen.get("h")}
                yield where, row


def _parquet_rows(shards: Sequence[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Read with pyarrow, leaving the image column on disk; the split is in the shard's name."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("reading an hf build needs pyarrow: pip install 'deskscribe[dataset]'") from None
    for shard in shards:
        try:
            names = pq.read_schema(shard).names
            table = pq.read_table(shard, columns=[c for c in _HF_COLUMNS if c in names])
        except (OSError, ValueError) as exc:
            raise UserError(f"{shard}: not a readable Parquet file ({exc})") from None
        split = shard.stem.rsplit("-", 1)[0]
        for i, row in enumerate(table.to_pylist()):
            yield f"{shard.name} row {i}", {**row, "split": row.get("split") or split}


def _step(where: str, row: Any) -> Step:
    try:
        action, target = row["action"], row.get("target")
        step = Step(episode_id=str(row["episode_id"]), step=int(row["step"]), split=str(row["split"]),
                    place=place_of(row.get("app"), row.get("url")),
                    truth=Truth(action=_clean(action), target=target,
                                screen=(int(row["screen_w"]), int(row["screen_h"]))))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{where}: not a deskscribe step ({type(exc).__name__}: {exc})") from None
    if not isinstance(step.truth.action.get("type"), str):
        raise UserError(f"{where}: not a deskscribe step (its action has no type)")
    return step


def _clean(action: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an action has: ``hf`` stores every field, null or empty where unused."""
    return {k: v for k, v in action.items() if v is not None and v != []}


def in_split(steps: Sequence[Step], split: str) -> list[Step]:
    chosen = list(steps) if split == "all" else [s for s in steps if s.split == split]
    if not chosen:
        have = ", ".join(sorted({s.split for s in steps})) or "none"
        raise UserError(f"no steps in split {split!r}; this dataset has: {have} (or use --split all)")
    return chosen


# -- predictions ---------------------------------------------------------------------------

_REQUIRED = {"click": ("x", "y"), "move": ("x", "y"), "long_press": ("x", "y"), "select": ("x", "y", "value"),
             "drag": ("x", "y", "x2", "y2"), "type": ("text",), "key": ("keys",)}
_NUMBERS = ("x", "y", "x2", "y2", "dx", "dy", "count", "ms", "s")
_TEXTS = ("text", "value", "button", "status")


def read_predictions(path: Path) -> dict[StepKey, list[dict[str, Any]]]:
    """Predictions by step; anything off the format is one line naming the line it is on."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    out: dict[StepKey, list[dict[str, Any]]] = {}
    first: dict[StepKey, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        key, actions = _prediction(line, where)
        if key in first:
            raise UserError(f"{where}: a second prediction for episode {key[0]} step {key[1]}"
                            f" (the first is on line {first[key]})")
        first[key], out[key] = n, actions
    return out


def _prediction(line: str, where: str) -> tuple[StepKey, list[dict[str, Any]]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected an object with episode_id, step and action")
    episode, step = record.get("episode_id"), record.get("step")
    if not isinstance(episode, str) or not episode:
        raise UserError(f"{where}: episode_id must be a non-empty string")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise UserError(f"{where}: step must be a whole number from 0")
    if ("action" in record) == ("actions" in record):
        raise UserError(f"{where}: give either action (an object) or actions (a list of them)")
    actions = [record["action"]] if "action" in record else record["actions"]
    if not isinstance(actions, list) or not actions:
        raise UserError(f"{where}: actions must be a non-empty list")
    return (episode, step), [check_action(a, where) for a in actions]


def check_action(action: Any, where: str) -> dict[str, Any]:
    """An action shaped like the ``jsonl`` export's, without its null fields."""
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        raise UserError(f"{where}: an action is an object with a string type")
    kind = action["type"]
    if kind not in ACTION_TYPES:
        raise UserError(f"{where}: unknown action type {kind!r}; one of {', '.join(sorted(ACTION_TYPES))}")
    missing = [f for f in _REQUIRED.get(kind, ()) if action.get(f) is None]
    if missing:
        raise UserError(f"{where}: a {kind} action needs {', '.join(missing)}")
    for f in _NUMBERS:
        v = action.get(f)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
            raise UserError(f"{where}: {kind} field {f} must be a number")
    for f in _TEXTS:
        if action.get(f) is not None and not isinstance(action[f], str):
            raise UserError(f"{where}: {kind} field {f} must be a string")
    keys = action.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise UserError(f"{where}: {kind} field keys must be a list of key names")
    return _clean(action)


# -- scores --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Tally:
    hits: float
    total: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.rate, "hits": self.hits, "total": self.total}


def tally(values: Iterable[float | bool | None]) -> Tally:
    """Over the values that apply (not None)."""
    kept = [float(v) for v in values if v is not None]
    return Tally(hits=sum(kept), total=len(kept))


@dataclass(frozen=True, slots=True)
class Report:
    split: str
    episodes: int
    steps: int
    predicted: int  # steps of the split that had a prediction
    unknown: list[StepKey]  # predictions naming no step of the dataset
    outside_split: int  # predictions for steps of other splits
    metrics: dict[str, Tally]
    by_place: dict[str, dict[str, Tally]]
    by_action: dict[str, dict[str, Tally]]

    @property
    def missing(self) -> int:
        return self.steps - self.predicted

    def as_dict(self) -> dict[str, Any]:
        def table(rows: dict[str, dict[str, Tally]]) -> dict[str, Any]:
            return {name: {k: t.as_dict() for k, t in row.items()} for name, row in rows.items()}

        return {"split": self.split, "episodes": self.episodes, "steps": self.steps,
                "predicted": self.predicted, "missing": self.missing, "unknown": len(self.unknown),
                "unknown_examples": [list(k) for k in self.unknown[:5]], "outside_split": self.outside_split,
                "thresholds": THRESHOLDS, "metrics": {k: t.as_dict() for k, t in self.metrics.items()},
                "by_place": table(self.by_place), "by_action": table(self.by_action)}


def evaluate(steps: Sequence[Step], predictions: Predictions, *, split: str = "test") -> Report:
    scored = in_split(steps, split)
    known = {s.key for s in steps}
    inside = {s.key for s in scored}
    judged = [(s, judge(s.truth, predictions.get(s.key))) for s in scored]
    return Report(split=split, episodes=len({s.episode_id for s in scored}), steps=len(scored),
                  predicted=sum(1 for s in scored if predictions.get(s.key)),
                  unknown=sorted(k for k in predictions if k not in known),
                  outside_split=sum(1 for k in predictions if k in known and k not in inside),
                  metrics=_metrics(judged), by_place=_breakdown(judged, lambda s: s.place),
                  by_action=_breakdown(judged, lambda s: str(s.truth.action["type"])))


def _metrics(judged: Sequence[tuple[Step, Judgement]]) -> dict[str, Tally]:
    episodes: dict[str, bool] = {}
    for s, j in judged:
        episodes[s.episode_id] = episodes.get(s.episode_id, True) and j.correct
    js = [j for _, j in judged]
    return {"action_type": tally(j.type_ok for j in js), "click": tally(j.click for j in js),
            "agentnet_coord": tally(j.coord for j in js), "text": tally(j.text for j in js),
            "text_similarity": tally(j.similarity for j in js), "keys": tally(j.keys for j in js),
            "scroll": tally(j.scroll for j in js), "step_success": tally(j.correct for j in js),
            "episode_success": tally(episodes.values()), "agentnet_score": tally(j.agentnet for j in js)}


def _breakdown(judged: Sequence[tuple[Step, Judgement]], group: Callable[[Step], str]
               ) -> dict[str, dict[str, Tally]]:
    groups: dict[str, list[Judgement]] = defaultdict(list)
    for s, j in judged:
        groups[group(s)].append(j)
    return {name: {"action_type": tally(j.type_ok for j in js), "step_success": tally(j.correct for j in js),
                   "agentnet_score": tally(j.agentnet for j in js)}
            for name, js in sorted(groups.items())}


# -- baselines -----------------------------------------------------------------------------

def baseline(name: str, steps: Sequence[Step], *, split: str = "test") -> dict[StepKey, list[dict[str, Any]]]:
    """Predictions a model must beat, made from the dataset alone."""
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    scored = in_split(steps, split)
    if name == "repeat-previous":
        return repeat_previous(scored)
    action = most_frequent_action(steps)
    return {s.key: [action] for s in scored}


def most_frequent_action(steps: Sequence[Step]) -> dict[str, Any]:
    """The commonest whole action of the train split (of all steps when there is none), so a
    held-out split is not predicted from its own answers; a tie goes to the one seen first."""
    pool = [s for s in steps if s.split == "train"] or list(steps)
    counts = Counter(json.dumps(s.truth.action, sort_keys=True) for s in pool)
    return dict(json.loads(counts.most_common(1)[0][0]))


def repeat_previous(steps: Sequence[Step]) -> dict[StepKey, list[dict[str, Any]]]:
    """Each step predicted as the one before it in its episode; a first step gets nothing."""
    by_key = {s.key: s for s in steps}
    return {s.key: [dict(prev.truth.action)] for s in steps
            if (prev := by_key.get((s.episode_id, s.step - 1))) is not None}
