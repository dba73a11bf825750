"""`deskscribe eval`: score a model's next-action predictions (or a trivial baseline) on a build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.plural import count
from deskscribe.errors import UserError

if TYPE_CHECKING:
    from deskscribe.dataset.evaluate import Report, Tally

_LABELS = {"action_type": "action type", "click": "click on target", "agentnet_coord": "AgentNet coord score",
           "text": "text (similarity ≥ 0.8)", "text_similarity": "text similarity", "keys": "keys exact",
           "scroll": "scroll direction", "step_success": "step success", "episode_success": "episode success",
           "agentnet_score": "AgentNet step score"}


def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="A `--format jsonl` or `--format hf` build.")],
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="JSON lines {episode_id, step, action} (or actions: [...]).")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="Score a trivial baseline instead: most-frequent or repeat-previous.")] = None,
    split: Annotated[str, typer.Option(help="Split to score (train, validation, test or all).")] = "test",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
) -> None:
    """Score predicted next actions against a dataset, step by step and per episode."""
    from deskscribe.dataset.evaluate import baseline as make_baseline
    from deskscribe.dataset.evaluate import evaluate as score
    from deskscribe.dataset.evaluate import load_steps, read_predictions

    if (predictions is None) == (baseline is None):
        raise UserError("give either --predictions FILE or --baseline most-frequent|repeat-previous")
    if not dataset.is_dir():
        raise UserError(f"no dataset directory {dataset}")
    steps = load_steps(dataset)
    if predictions is not None and not predictions.is_file():
        raise UserError(f"no predictions file {predictions}")
    predicted = read_predictions(predictions) if predictions is not None \
        else make_baseline(baseline or "", steps, split=split)
    report = score(steps, predicted, split=split)
    if report.unknown:
        episode, step = report.unknown[0]
        typer.echo(f"warning: {count(len(report.unknown), 'prediction')} for steps not in the dataset"
                   f" (first: episode {episode} step {step}); left out", err=True)
    _show(report, str(predictions) if predictions is not None else f"baseline {baseline}")
    if json_out is not None:
        json_out.write_text(json.dumps({"predictions": str(predictions) if predictions else None,
                                        "baseline": baseline, **report.as_dict()}, indent=2) + "\n")


def _cell(t: Tally) -> tuple[str, str]:
    rate = t.rate
    hits = f"{t.hits:g}" if float(t.hits).is_integer() else f"{t.hits:.2f}"
    return ("–" if rate is None else f"{rate:.1%}"), f"{hits}/{t.total}"


def _show(report: Report, source: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{source}[/bold]: split {report.split}, {count(report.episodes, 'episode')},"
                  f" {count(report.steps, 'step')}", highlight=False)
    head = Table()
    head.add_column("metric")
    head.add_column("score", justify="right")
    head.add_column("of", justify="right")
    for name, t in report.metrics.items():
        head.add_row(_LABELS.get(name, name), *_cell(t))
    console.print(head)
    for title, rows in (("by app or site", report.by_place), ("by recorded action", report.by_action)):
        table = Table(title=title)
        for column in (title.removeprefix("by "), "steps", "action type", "step success", "AgentNet"):
            table.add_column(column, justify="left" if column == title.removeprefix("by ") else "right")
        for name, row in rows.items():
            table.add_row(name, str(row["step_success"].total), _cell(row["action_type"])[0],
                          _cell(row["step_success"])[0], _cell(row["agentnet_score"])[0])
        console.print(table)
    console.print(f"{report.predicted} of {count(report.steps, 'step')} predicted, {report.missing} missing"
                  f" (counted wrong); left out: {count(len(report.unknown), 'prediction')} for unknown steps,"
                  f" {report.outside_split} for other splits", highlight=False)
