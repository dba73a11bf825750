"""How an episode ended, in the words the agent formats use.

A recorded task ends `success` or `fail` (`deskscribe task end`); an episode cut at an idle gap,
an excluded window or a session's end, or a task left open, is `unknown`. OpenCUA's
`computer.terminate` knows only `success` and `failure`: an unknown end is written `success`
(the person stopped there, as a demonstrator ends a recorded task), and the formats that have an
outcome field of their own (`task_completed`) say null there, so it is never claimed.
"""

from __future__ import annotations

from typing import Final

FAILED: Final = frozenset({"fail", "failure"})
SUCCEEDED: Final = frozenset({"success"})


def terminate_status(status: str) -> str:
    return "failure" if status in FAILED else "success"


def completed(status: str) -> bool | None:
    """True or False when the person said so at the task's end; None when nobody did."""
    if status in SUCCEEDED:
        return True
    return False if status in FAILED else None
