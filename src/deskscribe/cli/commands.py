"""The ``deskscribe`` command: every command group, each in its own module, assembled here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperOption

from deskscribe import __version__
from deskscribe.cli import (
    browser,
    collector,
    collector_policy,
    consent,
    contributor,
    dataset,
    enrolment,
    evaluate,
    record,
    review,
    sessions,
    stats,
)
from deskscribe.cli.config import DataDirOpt, load_config
from deskscribe.cli.failure import one_line_errors
from deskscribe.errors import DeskscribeError, UserError

__all__ = ["UserError", "app", "main"]


def _flags_without_placeholder() -> None:
    """Typer's rich help labels every on/off flag (--yes, --help) `<bool>`, as if it took a value;
    a flag takes none, so it is shown bare."""
    typed = TyperOption.display_type_rich
    if getattr(typed, "bare_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else typed(self, ctx)

    display_type_rich.bare_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_placeholder()


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            number = installed("deskscribe")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = __version__
        typer.echo(f"deskscribe {number}")
        raise typer.Exit()


app = typer.Typer(help="Record work-app interaction with consent, redact on device, build agent datasets.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False
          ) -> None:
    """The options every command shares; command groups do the work."""


app.command(rich_help_panel="Recording")(record.record)
app.command(rich_help_panel="Recording")(record.pause)
app.command(rich_help_panel="Recording")(record.resume)
app.add_typer(record.task_app, name="task", rich_help_panel="Recording")
app.add_typer(sessions.sessions_app, name="sessions", rich_help_panel="Sessions and datasets")
app.add_typer(consent.consent_app, name="consent", rich_help_panel="Recording")
app.add_typer(browser.browser_app, name="browser", rich_help_panel="Recording")
app.command(rich_help_panel="Sessions and datasets")(dataset.build)
app.command(rich_help_panel="Sessions and datasets")(dataset.replay)
app.command(rich_help_panel="Sessions and datasets")(stats.stats)
app.command("eval", rich_help_panel="Sessions and datasets")(evaluate.evaluate)
app.add_typer(dataset.datasets_app, name="datasets", rich_help_panel="Collector")


@app.command()
def doctor(data_dir: DataDirOpt = None,
           display: Annotated[str | None, typer.Option(help="X display to check.")] = None) -> None:
    """Check what recording needs on this machine and say how to fix what is missing."""
    from deskscribe.capture.atspi import open_accessibility_bus
    from deskscribe.doctor import check_accessibility, check_collector, run_checks

    cfg = load_config(data_dir)
    cred = enrolment.credential(cfg.data_dir)
    ok = run_checks(display_name=display or os.environ.get("DISPLAY"),
                    wayland=bool(os.environ.get("WAYLAND_DISPLAY")), data_dir=cfg.data_dir,
                    min_free_bytes=cfg.min_free_bytes, key_store=cfg.key_store,
                    collector=check_collector(cred["url"] if cred else None,
                                              lambda: collector_policy.fetch(cfg.data_dir)),
                    browser=browser.doctor_checks(cfg.data_dir),
                    accessibility=check_accessibility(
                        os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
                        probe=lambda address: open_accessibility_bus(address).close(),
                        qt_always_on=os.environ.get("QT_LINUX_ACCESSIBILITY_ALWAYS_ON") == "1"))
    raise typer.Exit(0 if ok else 1)


@app.command()
def demo(out: Annotated[Path | None, typer.Option(
        "--out", "--data-dir", help="New or empty directory for everything the demo writes (default: a"
                                    " new temporary one; never your own data directory).")] = None) -> None:
    """Start a virtual desktop with real apps, record a scripted session, show what was kept."""
    from deskscribe.demo import run_demo

    try:
        run_demo(out=out, command=os.path.relpath(sys.argv[0]) if os.sep in sys.argv[0] else "deskscribe")
    except (DeskscribeError, RuntimeError) as exc:
        raise UserError(f"demo failed: {exc}") from None


@app.command()
def version() -> None:
    """Print the deskscribe version."""
    typer.echo(__version__)


app.add_typer(review.review_app, name="review", rich_help_panel="Collector")
# A code issued before codes were letters and digits may start with '-'; it is a code, not an option.
app.command(rich_help_panel="Collector", context_settings={"ignore_unknown_options": True})(contributor.enrol)
app.command(rich_help_panel="Collector")(contributor.upload)
app.add_typer(contributor.me_app, name="me", rich_help_panel="Collector")
app.command(rich_help_panel="Collector")(collector.serve)
app.add_typer(collector.admin_app, name="admin", rich_help_panel="Collector")


def main() -> None:
    one_line_errors(app)
