"""Capture policy: which apps may be recorded and how. Default deny.

A window is recorded only when its app id matches a ``designated_apps`` glob and its title
matches no ``excluded_titles`` glob. Everything here is pure so the rules are table-tested.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskscribe.errors import PolicyError
from deskscribe.sites import matches_any, parse_glob

DEFAULT_SCREENSHOT_INTERVAL_S = 10.0
# Where keystrokes are passwords whatever they look like; a policy can add to these.
SECURE_APPS = ("*keepass*", "*bitwarden*", "*1password*", "*pinentry*", "*polkit*",
               "*askpass*", "gcr-prompter", "*keyring*")
SECURE_TITLES = ("*password*", "*passphrase*", "*passwort*", "*mot de passe*", "*sudo*",
                 "*authenticat*", "*unlock*", "*pin code*", "*credential*")
# A line starting with one of these is usually followed by a password prompt in a terminal.
SECURE_COMMANDS = ("sudo", "su", "doas", "passwd", "pkexec", "login", "ssh", "scp", "sftp",
                   "kinit", "gpg", "openssl", "vault", "mysql", "psql")


@dataclass(frozen=True, slots=True)
class Retention:
    """Days the collector keeps each stage; the server deletes what is older."""

    incomplete_days: int = 7
    sessions_days: int = 90
    datasets_days: int = 365


RETENTION_KEYS = ("incomplete_days", "sessions_days", "datasets_days")


@dataclass(frozen=True, slots=True)
class FleetStatsPolicy:
    """Weekly action counts across the fleet with Laplace noise: each person's actions in a week
    are bounded to ``max_actions_per_person`` in all, so one person moves the whole table by at
    most that much, and the noise makes the week's table ``epsilon``-differentially private."""

    epsilon: float = 1.0
    max_actions_per_person: int = 500


FLEET_STATS_DEFAULT = FleetStatsPolicy()
FLEET_STATS_KEYS = ("epsilon", "max_actions_per_person")
REGION_REQUIREMENTS = ("dpia", "works_agreement")
# Settings a region may set differently from the rest of the organisation.
REGION_OVERRIDES = ("designated_apps", "excluded_titles", "screenshot_interval_s", "frames",
                    "timing_precision_ms", "deny_list", "synthetic_values", "designated_sites",
                    "excluded_urls", "site_masks")
# Every key a policy document may hold; anything else is a typo that would silently switch a
# protection off (``deny_lst``) or leave the notice promising something else.
POLICY_KEYS = ("version", "designated_apps", "excluded_titles", "screenshot_interval_s", "frames",
               "timing_precision_ms", "secure_apps", "secure_titles", "secure_commands", "deny_list",
               "synthetic_values", "retention", "auto_approve_hours", "regions", "designated_sites",
               "excluded_urls", "browser_apps", "keep_url_query", "site_masks", "fleet_stats")
# Window classes (WM_CLASS) of the common browsers: with designated sites, these windows are
# recorded only while the extension vouches for a designated page in them.
BROWSER_APPS = ("chromium*", "google-chrome*", "chrome", "firefox*", "navigator", "firefox-esr",
                "microsoft-edge*", "brave-browser*", "vivaldi*", "opera*")
SITE_MASK_KEYS = ("url", "selectors")


@dataclass(frozen=True, slots=True)
class Region:
    """Rules for contributors enrolled in one region: what must be on record before anyone
    there is recorded, and the settings that differ there."""

    requires: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteMask:
    """Parts of a designated site that are never captured (other people's messages)."""

    url: str
    selectors: tuple[str, ...]


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
    retention: Retention = field(default_factory=lambda: Retention())
    auto_approve_hours: float | None = None
    regions: Mapping[str, Region] = field(default_factory=dict)
    designated_sites: tuple[str, ...] = ()
    excluded_urls: tuple[str, ...] = ()
    browser_apps: tuple[str, ...] = BROWSER_APPS
    keep_url_query: bool = False
    site_masks: tuple[SiteMask, ...] = ()
    fleet_stats: FleetStatsPolicy | None = None  # None: no fleet statistics are published

    def is_browser(self, app: str | None) -> bool:
        """A browser whose windows are designated per site: only when the policy names sites."""
        return bool(self.designated_sites) and _matches(app, self.browser_apps)

    def site_designated(self, url: str | None) -> bool:
        """A page the policy designates: it matches a designated site and no excluded URL."""
        return matches_any(url, self.designated_sites) and not matches_any(url, self.excluded_urls)

    def masks_for(self, url: str | None) -> tuple[str, ...]:
        return tuple(sel for m in self.site_masks if matches_any(url, (m.url,)) for sel in m.selectors)

    def is_designated(self, app: str | None, title: str | None) -> bool:
        """True only for a known app matching a designated glob and no excluded title. A browser
        under a policy with designated sites is never designated as an app: only a page in it,
        vouched for by the browser extension, can be (see :meth:`site_designated`)."""
        if not app or (self.designated_sites and self.is_browser(app)):
            return False
        app_l = app.casefold()
        if not any(fnmatch.fnmatchcase(app_l, g.casefold()) for g in self.designated_apps):
            return False
        return not _matches(title, self.excluded_titles)

    def title_excluded(self, title: str | None) -> bool:
        return _matches(title, self.excluded_titles)

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


def unknown_key(keys: Iterable[str], valid: Iterable[str], *, where: str = "") -> str | None:
    """What is wrong with the first key not in ``valid``, naming the nearest valid one; None when
    every key is known. ``where`` prefixes the names, e.g. ``retention.``."""
    allowed = list(valid)
    for key in keys:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{where}{near[0]}'?" if near else f"valid keys: {', '.join(allowed)}"
            return f"unknown key '{where}{key}' ({hint})"
    return None


def _known_keys(raw: Mapping[str, Any], valid: Iterable[str], source: str, where: str = "") -> None:
    problem = unknown_key(raw, valid, where=where)
    if problem:
        raise PolicyError(f"{source}: {problem}")


def parse_policy(raw: Mapping[str, Any], *, source: str = "policy") -> Policy:
    _known_keys(raw, POLICY_KEYS, source)
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
        retention=_retention(raw.get("retention", {}), source),
        auto_approve_hours=_auto_approve(raw.get("auto_approve_hours"), source),
        regions=_regions(raw.get("regions", {}), source),
        fleet_stats=_fleet_stats(raw.get("fleet_stats"), source),
        **_sites(raw, source),
    )


def _fleet_stats(raw: Any, source: str) -> FleetStatsPolicy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: [fleet_stats] takes epsilon and max_actions_per_person")
    _known_keys(raw, FLEET_STATS_KEYS, source, "fleet_stats.")
    eps = raw.get("epsilon", FLEET_STATS_DEFAULT.epsilon)
    if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps <= 10:
        raise PolicyError(f"{source}: fleet_stats.epsilon must be a number above 0 and at most 10")
    bound = raw.get("max_actions_per_person", FLEET_STATS_DEFAULT.max_actions_per_person)
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
        raise PolicyError(f"{source}: fleet_stats.max_actions_per_person must be a whole number, at least 1")
    return FleetStatsPolicy(epsilon=float(eps), max_actions_per_person=bound)


def _sites(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    sites, excluded = _strings(raw, "designated_sites", source), _strings(raw, "excluded_urls", source)
    for glob in (*sites, *excluded):
        try:
            parse_glob(glob)
        except PolicyError as exc:
            raise PolicyError(f"{source}: {exc}") from None
    keep = raw.get("keep_url_query", False)
    if not isinstance(keep, bool):
        raise PolicyError(f"{source}: keep_url_query must be true or false")
    masks = raw.get("site_masks", [])
    if not isinstance(masks, list):
        raise PolicyError(f"{source}: site_masks are [[site_masks]] tables with url and selectors")
    out: list[SiteMask] = []
    for i, m in enumerate(masks):
        where = f"{source}: site_masks[{i}]"
        if not isinstance(m, dict):
            raise PolicyError(f"{where} must be a table with url and selectors")
        _known_keys(m, SITE_MASK_KEYS, source, f"site_masks[{i}].")
        url, selectors = m.get("url"), _strings(m, "selectors", where)
        if not isinstance(url, str) or not selectors:
            raise PolicyError(f"{where} needs a url glob and a non-empty list of CSS selectors")
        try:
            parse_glob(url)
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
        out.append(SiteMask(url=url, selectors=selectors))
    return {"designated_sites": sites, "excluded_urls": excluded, "keep_url_query": keep,
            "site_masks": tuple(out),
            "browser_apps": _strings(raw, "browser_apps", source, BROWSER_APPS)}


def _retention(raw: Any, source: str) -> Retention:
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: [retention] takes incomplete_days, sessions_days and datasets_days")
    _known_keys(raw, RETENTION_KEYS, source, "retention.")
    for k, v in raw.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise PolicyError(f"{source}: retention.{k} must be a whole number of days, at least 1")
    return Retention(**raw)


def _auto_approve(value: Any, source: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise PolicyError(f"{source}: auto_approve_hours must be a positive number of hours")
    return float(value)


def _regions(raw: Any, source: str) -> dict[str, Region]:
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: [regions.NAME] tables hold per-region rules")
    out: dict[str, Region] = {}
    for name, rule in raw.items():
        if not isinstance(rule, dict):
            raise PolicyError(f"{source}: regions.{name} must be a table")
        fixed = sorted(set(rule) & set(POLICY_KEYS) - set(REGION_OVERRIDES))
        if fixed:
            raise PolicyError(f"{source}: regions.{name}.{fixed[0]} cannot differ by region; a region may"
                              f" set requires, {', '.join(REGION_OVERRIDES)}")
        _known_keys(rule, ("requires", *REGION_OVERRIDES), source, f"regions.{name}.")
        requires = _strings(rule, "requires", f"{source}: regions.{name}")
        unknown = sorted(set(requires) - set(REGION_REQUIREMENTS))
        if unknown:
            raise PolicyError(f"{source}: regions.{name}: unknown {', '.join(unknown)} in requires; requires"
                              f" takes {' and '.join(REGION_REQUIREMENTS)}")
        out[name] = Region(requires=requires, overrides={k: v for k, v in rule.items() if k != "requires"})
    return out


def for_region(raw: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    """The policy document as it applies in ``region``: its overrides on top, regions removed."""
    base = {k: v for k, v in raw.items() if k != "regions"}
    rule = raw.get("regions", {}).get(region) if region else None
    if not rule:
        return base
    version = str(raw.get("version") or parse_policy(raw).version)
    return {**base, **{k: v for k, v in rule.items() if k != "requires"}, "version": f"{version}@{region}"}


def missing_approvals(policy: Policy, region: str | None, recorded: set[str]) -> list[str]:
    """What the region needs on record before anyone there may be recorded."""
    rule = policy.regions.get(region or "")
    return [] if rule is None else [r for r in rule.requires if r not in recorded]


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
