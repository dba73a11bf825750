"""Where the recorder's policy comes from: a file passed with --policy, or the collector the
device is enrolled with (fetched on start and periodically, cached for offline starts)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from deskscribe.errors import UserError
from deskscribe.policy import Policy, load_policy, parse_policy

CREDENTIAL = "collector.json"
CACHE = "policy.json"


def credential(root: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((root / CREDENTIAL).read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise UserError(f"the collector credential {root / CREDENTIAL} is damaged; enrol again") from None


def fetch(root: Path) -> dict[str, Any] | None:
    """The collector's answer for this device, cached; None when it cannot be reached."""
    import httpx

    cred = credential(root)
    if cred is None:
        return None
    try:
        r = httpx.get(cred["url"] + "/v1/policy", headers={"Authorization": f"Bearer {cred['token']}"},
                      timeout=15)
    except httpx.HTTPError:
        return None
    if r.status_code == 404:
        raise UserError("the collector has no policy published yet; ask your data steward")
    if r.status_code != 200:
        raise UserError(f"the collector refused the policy request ({r.status_code}): {r.text[:200]}")
    answer = dict(r.json())
    tmp = root / (CACHE + ".tmp")
    tmp.write_text(json.dumps(answer))
    os.replace(tmp, root / CACHE)
    return answer


def cached(root: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((root / CACHE).read_text()))
    except (OSError, ValueError):
        return None


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


def from_answer(answer: dict[str, Any]) -> Policy:
    if not answer.get("enabled", False):
        names = {"dpia": "DPIA", "works_agreement": "works agreement"}
        missing = " and ".join(names.get(str(m), str(m)) for m in answer.get("missing", []))
        raise UserError(f"recording is not enabled in region {answer.get('region')} until your"
                        f" organisation records its {missing}; nothing is recorded")
    return parse_policy(answer["policy"], source=f"collector policy {answer['version']}")


class PolicyWatch:
    """Asks the collector for its policy every ``every_s``; calls ``on_change`` once the
    published policy differs from the one recording runs under (or stops applying here)."""

    def __init__(self, *, fetch: Callable[[], dict[str, Any] | None], current: Policy,
                 every_s: float, on_change: Callable[[], None]) -> None:
        self._fetch, self._current, self._every = fetch, current, every_s
        self._on_change = on_change
        self._stop = threading.Event()
        self.changed = False
        self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                answer = self._fetch()
            except UserError:
                continue  # a refusal now is reported at the next start
            if answer is None:
                continue
            new = answer["policy"].get("version")
            if not answer.get("enabled", False) or str(new) != self._current.version:
                self.changed = True
                self._on_change()
                return
