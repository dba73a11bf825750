"""Command line: the only place that reads configuration and environment and wires parts.

The command groups load only when a command runs (``commands``), so the recorder's own process
(``recording``) starts without the rest of the command line.
"""

from __future__ import annotations


def main() -> None:
    from deskscribe.cli.commands import main as run

    run()
