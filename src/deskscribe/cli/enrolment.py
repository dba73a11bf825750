"""This device's enrolment with a collector: the credential file in the data dir, and the
client that calls the collector with it.

The credential holds the device's bearer token, so it is only ever written owner-only (0600)
and replaced atomically: a crash mid-write never leaves a readable or half-written token. It
also holds the certificate authority given at enrolment (`enrol --ca`), when there was one:
every later call trusts that authority alone for the collector's HTTPS certificate.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, cast

from deskscribe.errors import UserError

if TYPE_CHECKING:
    from deskscribe.client import CollectorClient, Enrolment

    class Credential(Enrolment):
        url: str
        key_deposited: NotRequired[bool]
        ca_pem: NotRequired[str]

CREDENTIAL = "collector.json"


def credential(root: Path) -> Credential | None:
    """The credential, or None when this device never enrolled."""
    try:
        raw = json.loads((root / CREDENTIAL).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise UserError(f"the collector credential {root / CREDENTIAL} is damaged; enrol again") from None
    if not isinstance(raw, dict) or not {"url", "token"} <= raw.keys():
        raise UserError(f"the collector credential {root / CREDENTIAL} is damaged; enrol again")
    return cast("Credential", raw)


def save_credential(root: Path, cred: Mapping[str, object], *, ca_pem: str | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    path = root / CREDENTIAL
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**cred, "ca_pem": ca_pem} if ca_pem else cred, fh)
    os.replace(tmp, path)


def open_client(root: Path, *, retries: int | None = None, sleep: Callable[[float], None] = time.sleep,
                timeout_s: float | None = None) -> CollectorClient:
    """A client for the collector this device enrolled with, carrying its credential; the
    client's own retries and timeout unless a command that a person waits on asks for less."""
    from deskscribe.client import RETRIES, TIMEOUT_S, CollectorClient

    cred = credential(root)
    if cred is None:
        raise UserError("this device is not enrolled: run `deskscribe enrol URL CODE` first")
    return CollectorClient(base_url=cred["url"], token=cred["token"], sleep=sleep,
                           retries=RETRIES if retries is None else retries,
                           timeout_s=TIMEOUT_S if timeout_s is None else timeout_s,
                           ca_pem=cred.get("ca_pem"))


def read_ca(path: Path, url: str) -> str:
    """The PEM certificate authority in ``path``, once it loads as one, for an https ``url``."""
    import ssl

    if not url.startswith("https://"):
        raise UserError(f"--ca is for a collector served over HTTPS; {url} is not an https:// address")
    try:
        pem = path.read_text(encoding="ascii")
        ssl.create_default_context(cadata=pem)
    except (UnicodeDecodeError, ssl.SSLError, ValueError):  # SSLError before OSError: it is one
        raise UserError(f"{path} is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    except OSError as exc:
        raise UserError(f"cannot read the certificate authority {path}: {exc.strerror or exc}") from None
    return pem
