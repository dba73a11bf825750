"""Expected failures end a command with one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from deskscribe.errors import DeskscribeError


def one_line_errors(run: Callable[[], object]) -> None:
    try:
        run()
    except DeskscribeError as exc:
        typer.echo(f"deskscribe: error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"deskscribe: error: {exc.strerror or exc} ({exc.filename or ''})", err=True)
        sys.exit(2)
