"""Which policy the recorder runs under: a file passed with --policy, or the one the collector
this device enrolled with publishes (fetched on start and while recording, and cached so a
recorder can start offline under the policy it last saw)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from deskscribe.cli.enrolment import credential, open_client
from deskscribe.errors import UserError
from deskscribe.policy import Policy, load_policy, parse_policy

if TYPE_CHECKING:
    from deskscribe.client import PolicyAnswer

CACHE = "policy.json"
FETCH_TIMEOUT_S = 15.0


def fetch(root: Path) -> PolicyAnswer | None:
    """The collector's answer for this device, cached; None when it cannot be reached (asked
    once: the cached policy is there for that)."""
    from deskscribe.errors import CollectorUnreachable

    if credential(root) is None:
        return None
    try:
        with open_client(root, retries=0, timeout_s=FETCH_TIMEOUT_S) as client:
            answer = client.policy()
    except CollectorUnreachable:
        return None
    if answer is None:
        raise UserError("the collector has no policy published yet; ask your data steward")
    tmp = root / (CACHE + ".tmp")
    tmp.write_text(json.dumps(answer))
    os.replace(tmp, root / CACHE)
    return answer


def cached(root: Path) -> PolicyAnswer | None:
    try:
        answer = json.loads((root / CACHE).read_text())
    except (OSError, ValueError):
        return None
    return cast("PolicyAnswer", answer) if isinstance(answer, dict) else None


def resolve(path: Path | None, root: Path, *, online: bool = True) -> Policy:
    """The policy to record under; a region still waiting for its approvals is refused."""
    if path is not None:
        return load_policy(path)
    if credential(root) is None:
        raise UserError("no policy: pass --policy FILE, or enrol with your organisation's collector"
                        " (`deskscribe enrol URL CODE`) to use the policy it publishes")
    answer = fetch(root) if online else None
    if answer is None:
        answer = cached(root)
        if answer is None:
            raise UserError("the collector cannot be reached and no policy was fetched before;"
                            " check the network and try again")
        typer.echo(f"note: the collector cannot be reached; using policy {answer['version']} fetched"
                   " before", err=True)
    return from_answer(answer)


def from_answer(answer: PolicyAnswer) -> Policy:
    if not answer.get("enabled", False):
        names = {"dpia": "DPIA", "works_agreement": "works agreement"}
        missing = " and ".join(names.get(str(m), str(m)) for m in answer.get("missing", []))
        raise UserError(f"recording is not enabled in region {answer.get('region')} until your"
                        f" organisation records its {missing}; nothing is recorded")
    return parse_policy(answer["policy"], source=f"collector policy {answer['version']}")
