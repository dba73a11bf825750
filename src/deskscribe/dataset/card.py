"""The dataset card (README.md) every build writes: Hub metadata, how the data was collected,
what it must not be used for, and the figures of :mod:`deskscribe.dataset.stats`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from deskscribe.dataset.stats import FEWER, DatasetStats

if TYPE_CHECKING:
    from deskscribe.dataset.export.base import BuildSummary

TASK_CATEGORIES = ("image-text-to-text",)
TAGS = ("computer-use", "gui-agent", "deskscribe")
# The Hub's size buckets, by number of rows (steps): (upper bound, name); above the last, n>1T.
SIZE_CATEGORIES = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
                   (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
                   (10**11, "10B<n<100B"), (10**12, "100B<n<1T"))


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1T")


def card_metadata(stats: DatasetStats, data_files: Mapping[str, str]) -> str:
    """The YAML header the Hub and `datasets.load_dataset` read; ``configs`` names each split's
    files, so a directory of screenshots beside them is not taken for an image folder."""
    from huggingface_hub import DatasetCardData

    configs = [{"config_name": "default",
                "data_files": [{"split": split, "path": path} for split, path in data_files.items()]}]
    data = DatasetCardData(license="other", task_categories=list(TASK_CATEGORIES),
                           size_categories=[size_category(stats.steps)], tags=list(TAGS),
                           pretty_name="deskscribe computer-use dataset",
                           configs=configs if data_files else None)
    return str(data.to_yaml())


def dataset_card(s: BuildSummary, *, format_doc: str, data_files: Mapping[str, str]) -> str:
    stats = s.tally.result()
    people = FEWER if stats.contributors is None else str(stats.contributors)
    splits = ", ".join(f"{k}: {v} episodes" for k, v in sorted(stats.splits.items())) or "none"
    return f"""---
{card_metadata(stats, data_files)}
---
# deskscribe computer-use dataset

Recordings of people operating designated work applications, made with deskscribe. Each step
pairs an action with the screenshot the person saw just before it.

* format: `{s.fmt}`; {stats.episodes} episodes, {stats.steps} steps, contributors: {people}
* splits (by contributor, none in two splits): {splits}
* policy versions: {", ".join(sorted(s.policy_versions))}
* recorder versions: {", ".join(sorted(s.recorder_versions))}
* built with reducer parameters version {s.reduce_version}; time offsets at {s.precision_ms} ms
* no wall-clock dates; contributors appear only as pseudonyms keyed for this release
{COLLECTION}
{USES}
{statistics_section(stats)}
{FIELDS}
{format_doc}
"""


COLLECTION = """
## How the data was collected

* **Notice and acknowledgement.** Before anything was recorded, each contributor was shown a
  notice generated from the recording policy (what is recorded, in which applications and web
  sites, how long it is kept, who sees it) and acknowledged it. Recording could be paused at any
  time; an objection stops it.
* **Designated applications only.** Only the applications and web sites the policy designates
  were recorded. While anything else was in front, no key, pointer position or pixel was
  stored, only that there was a gap; other windows are black in every screenshot.
* **Redaction on the device.** Typed personal data (e-mail addresses, phone, card and bank
  numbers, and the like) and secrets were replaced by placeholders such as `<EMAIL_ADDRESS>`
  before anything was written, typing into password fields by `<PASSWORD>`; screenshots were
  read with OCR and such text boxed out; window titles, URLs, element names and instructions
  given in review were scanned the same way.
* **Review by the contributor.** Each contributor saw what their sessions held, could delete
  steps or whole sessions and give an episode its instruction, and approved what left the
  device.
"""

USES = """
## Uses that are not permitted

This dataset is for building and testing software agents. It must not be used to evaluate,
monitor, rank or identify the people who recorded it: not for assessments of anyone's
performance, productivity, attendance or behaviour, not to re-identify a contributor (from
pseudonyms, screen contents, habits or timing), and not to link pseudonyms across releases.
"""


def _table(title: str, heads: tuple[str, str], counts: Mapping[str, int], total: int) -> str:
    """Counts with their share of ``total``; nothing when there are none."""
    if not counts or not total:
        return ""
    rows = "\n".join(f"| {_cell(k)} | {v} | {v / total:.1%} |" for k, v in counts.items())
    return f"\n### {title}\n\n| {heads[0]} | {heads[1]} | share |\n|---|---:|---:|\n{rows}\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def statistics_section(st: DatasetStats) -> str:
    per = st.steps_per_episode
    people = FEWER if st.contributors is None else str(st.contributors)
    return f"""
## Statistics

Counted from the steps of this build (`deskscribe stats DIR` prints the same figures).

| | |
|---|---:|
| episodes | {st.episodes} |
| steps | {st.steps} |
| steps per episode (mean / median / max) | {per["mean"]:g} / {per["median"]:g} / {per["max"]:g} |
| steps with a target, of the {st.action_steps} not `terminate` | {st.target_steps} ({st.target_share:.1%}) |
| episodes with redacted content | {st.redacted_episodes} |
| steps showing a placeholder | {st.redacted_steps} |
| contributors | {people} |
{_table("Actions", ("type", "steps"), st.actions, st.steps)}\
{_table("Applications", ("app", "steps"), st.apps, st.steps)}\
{_table("Web sites", ("site", "steps"), st.sites, st.steps)}\
{_table("Screen sizes", ("pixels", "episodes"), st.screens, st.episodes)}\
{_table("Placeholders", ("kind", "placeholders"), st.placeholders, sum(st.placeholders.values()))}\
{_table("Flags", ("flag", "episodes"), st.flags, st.episodes)}\
{_table("Instruction sources", ("source", "episodes"), st.instruction_sources, st.episodes)}"""


FIELDS = """
## Instructions and flags

`instruction` is the episode's task as the contributor named it; `instruction_source` says
where it came from: `task_start` (named when the task was started, `deskscribe task start`),
`review` (given or corrected in review before upload, and scanned like titles), or null (no
instruction; `instruction` is empty). `flags` lists what a consumer may want to filter on:
`frames_dropped` (a step has no screenshot because the recorder dropped it when redaction fell
behind), `redacted` (a step's typed text, title, URL or target name, or the instruction, had
content replaced by redaction). Formats with one record per step (`jsonl`, `hf`) carry both on
every step.

## Actions

Coordinates are fractions of the screen (`screen.w`, `screen.h` give pixels). Fields by type:
click `x,y,button,count,keys`; drag `x,y,x2,y2,button,keys`; scroll `x,y,dx,dy` (wheel notches,
up and right positive); type `text`; key `keys` (pyautogui names, a chord lists its modifiers
first); move `x,y`; long_press `x,y,ms,button,keys`; terminate `status`. On a click, drag or
long press `keys` lists the modifiers held at the press (`ctrl`, `alt`, `shift`, `win`,
`altright`; empty when none, and for sessions recorded before modifiers were stored). Actions
that change nothing (typing corrected away, a scroll back to where it began, a drag that ends
where it started, a move to where the pointer is) are left out. select `x,y,value`: a click on
a web page's drop-down that chose the option `value` (its text as shown).

## Targets

Where the recorder saw the element an action was aimed at (a designated web page, through the
browser extension), the step's `target` holds `source`, `event` (what the page saw:
`pointerdown`, `focus`, `keydown`, `change`, `scroll`), `tag`, `role`, `name` (the accessible
label, scanned like titles; never a field's content), `selector`, `states`, and `bbox` as
`[left, top, right, bottom]` fractions of the screen. A click's target contains the click
point; typing's is the field that had focus. Null when nothing was seen.

## How it was built

`deskscribe build` reduced raw input events to actions, paired each with the pre-action
screenshot (keyframe plus lossless changed-region crops), split sessions into episodes at task
markers, or else at excluded gaps, long idle gaps and session ends, and ended every episode with
a `terminate` step.
"""
