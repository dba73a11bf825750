"""Native messaging host manifests: where each browser looks for them, what they say, and the
launcher they point to.

A manifest's ``path`` cannot carry arguments, so it names a small launcher script that runs
``deskscribe browser host`` with this interpreter (and the data directory, when one was
chosen). Only the extension with our fixed id may start the host.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from deskscribe.errors import UserError

HOST_NAME = "org.deskscribe.host"
MANIFEST_NAME = f"{HOST_NAME}.json"
FIREFOX_EXTENSION_ID = "deskscribe@deskscribe.org"
LAUNCHER_NAME = "browser-host"
_LAUNCHER_MARK = "# deskscribe native messaging host"


class Browser(StrEnum):
    CHROMIUM = "chromium"
    CHROME = "chrome"
    FIREFOX = "firefox"

    @property
    def chromium_based(self) -> bool:
        return self is not Browser.FIREFOX


@dataclass(frozen=True)
class UserDirs:
    """The directories browsers derive their own from; the command line fills them in."""

    home: Path
    config_home: Path  # $XDG_CONFIG_HOME, or ~/.config


def manifest_path(browser: Browser, dirs: UserDirs, *, user_data_dir: Path | None = None) -> Path:
    """Where ``browser`` looks for our manifest: user level, or inside one Chromium profile."""
    if user_data_dir is not None:
        if not browser.chromium_based:
            raise UserError("--user-data-dir is a Chromium or Chrome profile; Firefox reads host"
                            " manifests from ~/.mozilla/native-messaging-hosts only")
        return user_data_dir / "NativeMessagingHosts" / MANIFEST_NAME
    if browser is Browser.FIREFOX:
        return dirs.home / ".mozilla" / "native-messaging-hosts" / MANIFEST_NAME
    profile = "chromium" if browser is Browser.CHROMIUM else "google-chrome"
    return dirs.config_home / profile / "NativeMessagingHosts" / MANIFEST_NAME


def manifest(browser: Browser, *, launcher: Path, chromium_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": HOST_NAME,
                           "description": "deskscribe: relays the extension's page reports to the recorder",
                           "path": str(launcher), "type": "stdio"}
    if browser.chromium_based:
        doc["allowed_origins"] = [f"chrome-extension://{chromium_id}/"]
    else:
        doc["allowed_extensions"] = [FIREFOX_EXTENSION_ID]
    return doc


def launcher_script(*, python: str, data_dir: Path | None) -> str:
    """A shell script that starts the host; the browser's own arguments follow as ``$@``."""
    command = [python, "-m", "deskscribe", "browser", "host"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return f"#!/bin/sh\n{_LAUNCHER_MARK} (written by deskscribe browser install)\n" \
           f"exec {shlex.join(command)} \"$@\"\n"


def is_launcher(path: Path) -> bool:
    """True for a launcher install wrote, so uninstall never removes anything else."""
    try:
        return path.name == LAUNCHER_NAME and _LAUNCHER_MARK in path.read_text(errors="replace")
    except OSError:
        return False


def launcher_of(manifest_file: Path) -> Path | None:
    """The executable a manifest names, or None when there is no readable manifest."""
    try:
        doc = json.loads(manifest_file.read_text())
    except (OSError, ValueError):
        return None
    path = doc.get("path") if isinstance(doc, dict) else None
    return Path(path) if isinstance(path, str) else None


def write_launcher(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(script)
    tmp.chmod(0o700)
    os.replace(tmp, path)


def write_manifest(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, path)


def _installs_file(launcher: Path) -> Path:
    return launcher.with_name("browser-hosts.txt")


def installs(launcher: Path) -> list[Path]:
    """Every manifest install wrote for ``launcher`` that still names it: a profile's
    (``--user-data-dir``) manifest is found nowhere else."""
    try:
        lines = _installs_file(launcher).read_text().splitlines()
    except OSError:
        return []
    return [p for p in dict.fromkeys(Path(line) for line in lines if line) if launcher_of(p) == launcher]


def record_install(launcher: Path, manifest_file: Path, *, forget: bool = False) -> list[Path]:
    """Add (or with ``forget`` remove) a manifest in the launcher's list; the list after."""
    kept = [p for p in installs(launcher) if p != manifest_file]
    if not forget:
        kept.append(manifest_file)
    tmp = _installs_file(launcher).with_name(".browser-hosts.txt.tmp")
    tmp.write_text("".join(f"{p}\n" for p in kept))
    os.replace(tmp, _installs_file(launcher))
    return kept
