"""Capture policy: which apps may be recorded and how. Default deny.

A window is recorded only when its app id matches a ``designated_apps`` glob and its title
matches no ``excluded_titles`` glob. Everything here is pure so the rules are table-tested.
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SCREENSHOT_INTERVAL_S = 10.0
# Where keystrokes are passwords whatever they look like; a policy can add to these.
SECURE_APPS = ("*keepass*", "*bitwarden*", "*1password*", "*pinentry*", "*polkit*",
               "*askpass*", "gcr-prompter", "*keyring*")
SECURE_TITLES = ("*password*", "*passphrase*", "*passwort*", "*mot de passe*", "*sudo*",
                 "*authenticat*", "*unlock*", "*pin code*", "*credential*")
# A line starting with one of these is usually followed by a password prompt in a terminal.
SECURE_COMMANDS = ("sudo", "su", "doas", "passwd", "pkexec", "login", "ssh", "scp", "sftp",
                   "kinit", "gpg", "openssl", "vault", "mysql", "psql")


class PolicyError(ValueError):
    """The policy file cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    designated_apps: tuple[str, ...]
    excluded_titles: tuple[str, ...] = ()
    screenshot_interval_s: float = DEFAULT_SCREENSHOT_INTERVAL_S
    frames: bool = True
    timing_precision_ms: int = 100
    secure_apps: tuple[str, ...] = SECURE_APPS
    secure_titles: tuple[str, ...] = SECURE_TITLES
    secure_commands: tuple[str, ...] = SECURE_COMMANDS
    deny_list: tuple[str, ...] = ()
    synthetic_values: bool = False

    def is_designated(self, app: str | None, title: str | None) -> bool:
        """True only for a known app matching a designated glob and no excluded title."""
        if not app:
            return False
        app_l = app.casefold()
        if not any(fnmatch.fnmatchcase(app_l, g.casefold()) for g in self.designated_apps):
            return False
        return not _matches(title, self.excluded_titles)

    def is_secure(self, app: str | None, title: str | None) -> bool:
        """Password prompts and password managers: keys there are never stored."""
        return _matches(app, self.secure_apps) or _matches(title, self.secure_titles)


def _matches(value: str | None, globs: tuple[str, ...]) -> bool:
    v = (value or "").casefold()
    return any(fnmatch.fnmatchcase(v, g.casefold()) for g in globs)


def _strings(raw: Mapping[str, Any], key: str, source: str, default: tuple[str, ...] = ()
             ) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{source}: {key} must be a list of strings")
    return tuple(value)


def parse_policy(raw: Mapping[str, Any], *, source: str = "policy") -> Policy:
    apps = raw.get("designated_apps")
    if not isinstance(apps, list) or not all(isinstance(a, str) and a for a in apps):
        raise PolicyError(f"{source}: designated_apps must be a list of app-id globs, "
                          'e.g. designated_apps = ["XTerm"]')
    titles = _strings(raw, "excluded_titles", source)
    interval = raw.get("screenshot_interval_s", DEFAULT_SCREENSHOT_INTERVAL_S)
    if not isinstance(interval, int | float) or interval <= 0:
        raise PolicyError(f"{source}: screenshot_interval_s must be a positive number")
    frames, synthetic = raw.get("frames", True), raw.get("synthetic_values", False)
    if not isinstance(frames, bool) or not isinstance(synthetic, bool):
        raise PolicyError(f"{source}: frames and synthetic_values must be true or false")
    precision = raw.get("timing_precision_ms", 100)
    if not isinstance(precision, int) or precision < 1:
        raise PolicyError(f"{source}: timing_precision_ms must be a positive whole number of ms")
    version = raw.get("version")
    if version is None:
        version = "sha256:" + hashlib.sha256(repr(sorted(raw.items())).encode()).hexdigest()[:16]
    return Policy(
        version=str(version),
        designated_apps=tuple(apps),
        excluded_titles=titles,
        screenshot_interval_s=float(interval),
        frames=frames,
        timing_precision_ms=precision,
        # Policy entries add to the built-in lists; they can never switch protection off.
        secure_apps=SECURE_APPS + _strings(raw, "secure_apps", source),
        secure_titles=SECURE_TITLES + _strings(raw, "secure_titles", source),
        secure_commands=SECURE_COMMANDS + _strings(raw, "secure_commands", source),
        deny_list=_strings(raw, "deny_list", source),
        synthetic_values=synthetic,
    )


def load_policy(path: Path) -> Policy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from None
    return parse_policy(raw, source=str(path))
