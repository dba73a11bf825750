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

    def is_designated(self, app: str | None, title: str | None) -> bool:
        """True only for a known app matching a designated glob and no excluded title."""
        if not app:
            return False
        app_l = app.casefold()
        if not any(fnmatch.fnmatchcase(app_l, g.casefold()) for g in self.designated_apps):
            return False
        title_l = (title or "").casefold()
        return not any(fnmatch.fnmatchcase(title_l, g.casefold()) for g in self.excluded_titles)


def parse_policy(raw: Mapping[str, Any], *, source: str = "policy") -> Policy:
    apps = raw.get("designated_apps")
    if not isinstance(apps, list) or not all(isinstance(a, str) and a for a in apps):
        raise PolicyError(f"{source}: designated_apps must be a list of app-id globs, "
                          'e.g. designated_apps = ["XTerm"]')
    titles = raw.get("excluded_titles", [])
    if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
        raise PolicyError(f"{source}: excluded_titles must be a list of title globs")
    interval = raw.get("screenshot_interval_s", DEFAULT_SCREENSHOT_INTERVAL_S)
    if not isinstance(interval, int | float) or interval <= 0:
        raise PolicyError(f"{source}: screenshot_interval_s must be a positive number")
    frames = raw.get("frames", True)
    if not isinstance(frames, bool):
        raise PolicyError(f"{source}: frames must be true or false")
    precision = raw.get("timing_precision_ms", 100)
    if not isinstance(precision, int) or precision < 1:
        raise PolicyError(f"{source}: timing_precision_ms must be a positive whole number of ms")
    version = raw.get("version")
    if version is None:
        version = "sha256:" + hashlib.sha256(repr(sorted(raw.items())).encode()).hexdigest()[:16]
    return Policy(
        version=str(version),
        designated_apps=tuple(apps),
        excluded_titles=tuple(titles),
        screenshot_interval_s=float(interval),
        frames=frames,
        timing_precision_ms=precision,
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
