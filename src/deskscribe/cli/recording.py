"""The recorder's own process. ``deskscribe record`` checks its options and then becomes this
(exec, same PID), so a recorder running all day holds only what recording needs: the rest of the
command line stays out, and with it the pydantic models typer builds for every option (~12 MiB).

    python -m deskscribe.cli.recording [--policy FILE] [--data-dir DIR] [--duration S] [--display D]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def hand_over(*, policy: Path | None, data_dir: Path | None, duration: float | None,
              display: str | None) -> None:
    """Replace this process by the recorder's own, with the options already checked."""
    argv = [sys.executable, "-m", "deskscribe.cli.recording"]
    for flag, value in (("--policy", policy), ("--data-dir", data_dir), ("--duration", duration),
                        ("--display", display)):
        if value is not None:
            argv += [flag, str(value)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="deskscribe record", description="See `deskscribe record --help`.")
    parser.add_argument("--policy", type=Path)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--display")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from deskscribe.cli.failure import one_line_errors
    from deskscribe.cli.record import run

    args = _arguments(argv)
    try:
        one_line_errors(lambda: run(policy=args.policy, data_dir=args.data_dir, duration=args.duration,
                                    display=args.display))
    except KeyboardInterrupt:  # Ctrl+C before recording began: nothing was recorded
        sys.exit(130)


if __name__ == "__main__":
    main()
