"""`deskscribe build` and `replay`: from sessions to datasets, and back to the screen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskscribe.cli.config import DataDirOpt, open_datadir
from deskscribe.cli.plural import count
from deskscribe.cli.sessions import skipped, usable
from deskscribe.errors import UserError, VirtualDisplayError

if TYPE_CHECKING:
    from deskscribe.dataset.export.base import Exporter


def build(
    out: Annotated[Path, typer.Option("--out", help="Directory for the dataset.")],
    sessions: Annotated[list[str] | None, typer.Argument(help="Session ids (default: all sealed).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=(
        "hf (Parquet + card), jsonl, chat (conversations with pyautogui or UI-TARS actions),"
        " agentnet (OpenCUA trajectories), agentnetbench (OpenCUA's offline benchmark) or"
        " grounding (ScreenSpot-style Parquet)."))] = "hf",
    coords: Annotated[str | None, typer.Option(
        "--coords", help="chat and grounding: fraction (screen fractions, the default), pixel (of the"
                         " recorded screen) or 1000 (the 0-1000 grid of Qwen-VL and UI-TARS).")] = None,
    style: Annotated[str | None, typer.Option(
        "--style", help="chat: pyautogui (code, the default) or uitars (UI-TARS action strings).")] = None,
    data_dir: DataDirOpt = None,
    release_key: Annotated[Path | None, typer.Option(
        help="File with this release's pseudonym key (created if missing; default: a new random key,"
             " so pseudonyms link to no other release).")] = None,
    precision_ms: Annotated[int, typer.Option(help="Time offsets are rounded down to this.")] = 100,
) -> None:
    """Turn recorded sessions into an agent-training dataset (reduce, pair, segment, export)."""
    from rich.progress import Progress

    from deskscribe.dataset.build import Release, build_dataset
    from deskscribe.dataset.export import FORMATS

    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    exporter = _exporter(fmt, out, {"coords": coords, "style": style})
    if precision_ms < 1:
        raise UserError("--precision-ms must be at least 1")
    _, dd = open_datadir(data_dir)
    ids = sessions or usable(dd.sessions())  # named sessions must all be readable; the rest may be skipped
    if not ids:
        raise UserError(f"no sealed sessions in {dd.root}; record one first (deskscribe record/demo)")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new directory for the dataset")
    release = Release(key=_release_key(release_key), precision_ms=precision_ms)
    lost: list[str] = []

    def skip(session_id: str, reason: str) -> None:
        lost.append(session_id)
        skipped(session_id, reason)

    with Progress(transient=True) as bar:
        task = bar.add_task("building", total=len(ids))
        summary = build_dataset(open_session=dd.open, session_ids=ids, exporter=exporter,
                                release=release, fmt=fmt, progress=lambda _: bar.advance(task),
                                on_skip=None if sessions else skip)
    if len(lost) == len(ids):
        raise UserError("no session could be read (see the warnings above); the dataset is empty")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.actions.items()))
    typer.echo(f"built {fmt} dataset in {out}: {count(summary.episodes, 'episode')},"
               f" {count(summary.steps, 'step')} ({kinds}), {summary.bytes / 1024:.0f} KiB")


def replay(
    export_dir: Annotated[Path, typer.Argument(help="A `--format jsonl` export.")],
    launch: Annotated[str, typer.Option(help="Command that starts a fresh instance of the app.")],
    episode: Annotated[str | None, typer.Option(help="Episode id (default: the first).")] = None,
) -> None:
    """Re-perform an episode on a fresh virtual desktop and report how many steps reproduce."""
    import shlex

    from deskscribe.dataset.replay import load_episode, run_replay
    from deskscribe.errors import ReplayError

    try:
        steps = load_episode(export_dir, episode)
        results = run_replay(export_dir=export_dir, steps=steps, command=shlex.split(launch),
                             note=lambda text: typer.echo(f"note: {text}", err=True),
                             progress=lambda r: typer.echo(
                                 f"step {r.step:3d} {r.action:10s} {r.similarity:7.2%}"
                                 f" {'match' if r.matched else 'differs'}"))
    except (ReplayError, VirtualDisplayError) as exc:
        raise UserError(str(exc)) from None
    matched = sum(r.matched for r in results)
    verb = "reproduces" if len(results) == 1 else "reproduce"
    typer.echo(f"replayed episode {steps[0]['episode_id']}: {matched}/{count(len(results), 'step')} {verb}"
               f" the recorded screen ({matched / max(len(results), 1):.0%})")


def _exporter(fmt: str, out: Path, given: dict[str, str | None]) -> Exporter:
    """The format's exporter with the options given on the command line, each checked here so
    a wrong one is named as the flag it came from."""
    from deskscribe.dataset.export import formats_taking, open_exporter, option_choices

    options = {name: value for name, value in given.items() if value is not None}
    for name, value in options.items():
        choices = option_choices(fmt).get(name)
        if choices is None:
            raise UserError(f"--{name} does not apply to --format {fmt};"
                            f" it applies to {' and '.join(formats_taking(name))}")
        if value not in choices:
            raise UserError(f"--{name} must be one of {', '.join(choices)}, not {value!r}")
    return open_exporter(fmt, out=out, **options)


def _release_key(path: Path | None) -> bytes:
    import secrets

    if path is None:
        return secrets.token_bytes(32)
    if path.exists():
        key = path.read_bytes()
        if len(key) < 16:
            raise UserError(f"release key {path} is too short (need at least 16 bytes)")
        return key
    key = secrets.token_bytes(32)
    path.write_bytes(key)
    path.chmod(0o600)
    return key



datasets_app = typer.Typer(help="Datasets built on the collector (for the ML-engineer role).",
                           no_args_is_help=True)


@datasets_app.command("list")
def datasets_list(data_dir: DataDirOpt = None) -> None:
    """Datasets on the collector you are enrolled with, and their state."""
    from deskscribe.cli.config import load_config
    from deskscribe.cli.enrolment import open_client

    with open_client(load_config(data_dir).data_dir) as client:
        rows = client.datasets()
    if not rows:
        typer.echo("no datasets on the collector yet")
    for row in rows:
        why = f"  ({row['stale_reason']})" if row["stale_reason"] else ""
        typer.echo(f"{row['id']}  {row['state']:8s} {row['fmt']:5s} {count(row['episodes'], 'episode'):>15s}"
                   f" {count(row['steps'], 'step'):>13s}{why}")


@datasets_app.command("pull")
def datasets_pull(dataset_id: str,
                  out: Annotated[Path, typer.Option("--out", help="New directory for the dataset.")],
                  data_dir: DataDirOpt = None) -> None:
    """Download a ready dataset (every file read is in the collector's audit log)."""
    from rich.progress import Progress

    from deskscribe.cli.config import load_config
    from deskscribe.cli.enrolment import open_client

    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new directory")
    with open_client(load_config(data_dir).data_dir) as client:
        names = client.dataset_files(dataset_id)
        with Progress(transient=True) as bar:
            task = bar.add_task("downloading", total=len(names))
            for name in names:
                target = (out / name).resolve()
                if out.resolve() not in target.parents:
                    raise UserError(f"the collector sent a file name outside {out}: {name}")
                target.parent.mkdir(parents=True, exist_ok=True)
                client.dataset_file(dataset_id, name, target)
                bar.advance(task)
    typer.echo(f"downloaded dataset {dataset_id} ({count(len(names), 'file')}) to {out}")
