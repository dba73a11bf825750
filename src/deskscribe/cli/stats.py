"""`deskscribe stats`: what a built dataset holds, from its own files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.errors import UserError

if TYPE_CHECKING:
    from rich.table import Table

    from deskscribe.dataset.stats import DatasetStats


def stats(
    dataset_dir: Annotated[Path, typer.Argument(help="A `jsonl` or `hf` build.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Count a dataset's episodes, steps, actions, apps, screens, targets and redactions."""
    from deskscribe.dataset.stats import read_stats

    try:
        figures = read_stats(dataset_dir)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(figures.to_json(), indent=2))
        return
    _print(figures, dataset_dir)


def _print(st: DatasetStats, dataset_dir: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from deskscribe.dataset.stats import FEWER

    per = st.steps_per_episode
    spread = f"{per['mean']:g} / {per['median']:g} / {per['max']:g}"
    table = Table("figure", "value", show_header=False, title=escape(f"dataset {dataset_dir}"))
    for name, value in (
            ("episodes", str(st.episodes)), ("steps", str(st.steps)),
            ("steps per episode (mean / median / max)", spread),
            (f"steps with a target (of {st.action_steps} not terminate)",
             f"{st.target_steps} ({st.target_share:.1%})"),
            ("episodes with redacted content", str(st.redacted_episodes)),
            ("steps showing a placeholder", str(st.redacted_steps)),
            ("contributors", FEWER if st.contributors is None else str(st.contributors))):
        table.add_row(name, value)
    console = Console()
    console.print(table)
    for title, heads, counts, total in (
            ("actions", ("type", "steps"), st.actions, st.steps),
            ("applications", ("app", "steps"), st.apps, st.steps),
            ("web sites", ("site", "steps"), st.sites, st.steps),
            ("screen sizes", ("pixels", "episodes"), st.screens, st.episodes),
            ("placeholders", ("kind", "placeholders"), st.placeholders, sum(st.placeholders.values())),
            ("flags", ("flag", "episodes"), st.flags, st.episodes),
            ("instruction sources", ("source", "episodes"), st.instruction_sources, st.episodes),
            ("splits", ("split", "episodes"), st.splits, st.episodes)):
        if counts:
            console.print(_counts(title, heads, counts, total))


def _counts(title: str, heads: tuple[str, str], counts: Mapping[str, int], total: int) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(heads[0], heads[1], "share", title=title)
    for name, n in counts.items():  # names come from recordings: shown as they are, never as markup
        table.add_row(escape(name), str(n), f"{n / total:.1%}" if total else "")
    return table
