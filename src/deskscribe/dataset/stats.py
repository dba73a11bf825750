"""What a built dataset holds, counted from its steps: the figures `deskscribe stats` prints and
the dataset card carries.

Both count the same rows the same way: a build feeds each exported episode's steps to a
:class:`Tally` as it writes them, `deskscribe stats` feeds the rows it reads back from a `jsonl`
or `hf` build's own files. No figure is about a person: contributors appear only as a count, and
only when there are at least ten of them.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from deskscribe.dataset.episodes import REDACTED, placeholder_kinds

if TYPE_CHECKING:
    from deskscribe.dataset.export.base import ExportEpisode

FEWEST_PEOPLE = 10  # below this, how many people a dataset holds is not said
FEWER = f"fewer than {FEWEST_PEOPLE}"
STEPS_FILE = "steps.jsonl"
SHARDS = "data/*.parquet"
_HF_COLUMNS = ("episode_id", "contributor", "instruction", "instruction_source", "flags", "app", "title",
               "url", "screen_w", "screen_h", "action", "target")


@dataclass(frozen=True, slots=True)
class StepRow:
    """What the figures need of one step, whatever format it was read from."""

    episode_id: str
    split: str
    contributor: str
    action: str
    app: str | None
    url: str | None
    screen: tuple[int, int]
    has_target: bool
    texts: tuple[str | None, ...]  # typed text, title, URL, target name: where placeholders show
    instruction: str = ""
    instruction_source: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetStats:
    episodes: int
    steps: int
    steps_per_episode: dict[str, float]  # mean, median, max
    actions: dict[str, int]  # steps by action type
    apps: dict[str, int]  # steps by app
    sites: dict[str, int]  # steps by web site (host)
    screens: dict[str, int]  # episodes by screen size, "WxH"
    action_steps: int  # steps other than `terminate`, which never aim at anything
    target_steps: int  # of those, the ones with a target
    redacted_episodes: int
    redacted_steps: int  # steps showing a placeholder
    placeholders: dict[str, int]  # placeholders by kind, in steps and instructions
    flags: dict[str, int]  # episodes by flag
    instruction_sources: dict[str, int]  # episodes by where their instruction came from
    splits: dict[str, int]  # episodes by split
    contributors: int | None  # None when fewer than FEWEST_PEOPLE

    @property
    def target_share(self) -> float:
        return self.target_steps / self.action_steps if self.action_steps else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes, "steps": self.steps, "steps_per_episode": self.steps_per_episode,
            "actions": self.actions, "apps": self.apps, "sites": self.sites, "screens": self.screens,
            "targets": {"steps": self.target_steps, "of_steps": self.action_steps,
                        "share": round(self.target_share, 4)},
            "redactions": {"episodes": self.redacted_episodes, "steps": self.redacted_steps,
                           "placeholders": self.placeholders},
            "flags": self.flags, "instruction_sources": self.instruction_sources, "splits": self.splits,
            "contributors": FEWER if self.contributors is None else self.contributors,
        }


@dataclass(frozen=True, slots=True)
class _Seen:
    """What is counted once per episode, from its first step."""

    split: str
    screen: tuple[int, int]
    instruction: str
    instruction_source: str | None
    flags: tuple[str, ...]


@dataclass(slots=True)
class Tally:
    """Figures over steps fed one at a time, so neither a build nor a reader holds the dataset."""

    episode_steps: Counter[str] = field(default_factory=Counter)
    episodes: dict[str, _Seen] = field(default_factory=dict)
    actions: Counter[str] = field(default_factory=Counter)
    apps: Counter[str] = field(default_factory=Counter)
    sites: Counter[str] = field(default_factory=Counter)
    placeholders: Counter[str] = field(default_factory=Counter)
    action_steps: int = 0
    target_steps: int = 0
    redacted_steps: int = 0
    contributors: set[str] = field(default_factory=set)

    def add(self, row: StepRow) -> None:
        self.episode_steps[row.episode_id] += 1
        if row.episode_id not in self.episodes:
            self.episodes[row.episode_id] = _Seen(row.split, row.screen, row.instruction,
                                                  row.instruction_source, row.flags)
            self.placeholders.update(placeholder_kinds(row.instruction))
        self.actions[row.action] += 1
        if row.app:
            self.apps[row.app] += 1
        host = urlsplit(row.url).hostname if row.url else None
        if host:
            self.sites[host] += 1
        if row.action != "terminate":
            self.action_steps += 1
            self.target_steps += row.has_target
        kinds = [k for text in row.texts for k in placeholder_kinds(text)]
        self.placeholders.update(kinds)
        self.redacted_steps += bool(kinds)
        self.contributors.add(row.contributor)

    def result(self) -> DatasetStats:
        counts = list(self.episode_steps.values())
        seen = list(self.episodes.values())
        people = len(self.contributors)
        return DatasetStats(
            episodes=len(seen), steps=sum(counts),
            steps_per_episode={"mean": round(statistics.mean(counts), 2) if counts else 0.0,
                               "median": float(statistics.median(counts)) if counts else 0.0,
                               "max": float(max(counts, default=0))},
            actions=_ordered(self.actions), apps=_ordered(self.apps), sites=_ordered(self.sites),
            screens=_ordered(Counter(f"{s.screen[0]}x{s.screen[1]}" for s in seen)),
            action_steps=self.action_steps, target_steps=self.target_steps,
            redacted_episodes=sum(REDACTED in s.flags for s in seen), redacted_steps=self.redacted_steps,
            placeholders=_ordered(self.placeholders),
            flags=_ordered(Counter(f for s in seen for f in s.flags)),
            instruction_sources=_ordered(Counter(s.instruction_source or "none" for s in seen)),
            splits=_ordered(Counter(s.split for s in seen)),
            contributors=people if people >= FEWEST_PEOPLE else None)


def _ordered(counts: Counter[str]) -> dict[str, int]:
    """Most first, ties by name: the same build always prints the same way."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def dataset_stats(rows: Iterable[StepRow]) -> DatasetStats:
    tally = Tally()
    for row in rows:
        tally.add(row)
    return tally.result()


# -- rows: from an episode being exported, or read back from a build ---------------------------


def episode_rows(ep: ExportEpisode) -> Iterator[StepRow]:
    for s in ep.steps:
        yield StepRow(episode_id=ep.episode_id, split=ep.split, contributor=ep.contributor,
                      action=str(s.action["type"]), app=s.app, url=s.url, screen=ep.screen,
                      has_target=s.target is not None,
                      texts=(s.action.get("text"), s.title, s.url, (s.target or {}).get("name")),
                      instruction=ep.instruction, instruction_source=ep.instruction_source,
                      flags=tuple(ep.flags))


def _row(r: Mapping[str, Any], split: str, screen: tuple[int, int]) -> StepRow:
    action, target = r.get("action") or {}, r.get("target")
    return StepRow(episode_id=str(r["episode_id"]), split=split, contributor=str(r["contributor"]),
                   action=str(action.get("type")), app=r.get("app"), url=r.get("url"), screen=screen,
                   has_target=target is not None,
                   texts=(action.get("text"), r.get("title"), r.get("url"), (target or {}).get("name")),
                   instruction=r.get("instruction") or "", instruction_source=r.get("instruction_source"),
                   flags=tuple(r.get("flags") or ()))


def build_format(root: Path) -> str:
    """``jsonl`` or ``hf``, from the files a build of that format writes."""
    if (root / STEPS_FILE).is_file():
        return "jsonl"
    if any(root.glob(SHARDS)):
        return "hf"
    raise ValueError(f"{root} is not a jsonl or hf build (it has neither {STEPS_FILE} nor {SHARDS});"
                     " build one with `deskscribe build --format jsonl|hf`")


def read_rows(root: Path) -> Iterator[StepRow]:
    if build_format(root) == "jsonl":
        return _jsonl_rows(root / STEPS_FILE)
    return _hf_rows(sorted(root.glob(SHARDS)))


def _jsonl_rows(path: Path) -> Iterator[StepRow]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                screen = r["screen"]
                yield _row(r, str(r["split"]), (int(screen["w"]), int(screen["h"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n} is not a step record ({exc})") from None


def _hf_rows(shards: list[Path]) -> Iterator[StepRow]:
    """Every column but the screenshots, a batch at a time; the split is in each shard's name."""
    import pyarrow.parquet as pq

    for shard in shards:
        split = shard.name.rsplit("-", 1)[0]
        try:
            parquet = pq.ParquetFile(shard)
            columns = [c for c in _HF_COLUMNS if c in parquet.schema_arrow.names]
            for batch in parquet.iter_batches(columns=columns):
                for r in batch.to_pylist():
                    yield _row(r, split, (int(r["screen_w"]), int(r["screen_h"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{shard} is not a step shard ({exc})") from None


def read_stats(root: Path) -> DatasetStats:
    """Figures for a build from its own files."""
    return dataset_stats(read_rows(root))
