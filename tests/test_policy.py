from pathlib import Path

import pytest

from deskscribe.errors import PolicyError
from deskscribe.policy import Policy, load_policy, parse_policy

POLICY = Policy(version="1", designated_apps=("XTerm", "libreoffice-*"), excluded_titles=("*password*",))


@pytest.mark.parametrize(("app", "title", "expected"), [
    ("XTerm", "notes", True),
    ("xterm", "notes", True),                # app globs are case-insensitive
    ("libreoffice-calc", "budget.ods", True),
    ("Zenity", "Team Chat", False),          # default deny
    (None, "anything", False),               # unknown app is never designated
    ("", "x", False),
    ("XTerm", "Enter PASSWORD", False),      # excluded title wins over designated app
    ("XTermX", "notes", False),              # globs match the whole id
])
def test_is_designated(app: str | None, title: str, expected: bool) -> None:
    assert POLICY.is_designated(app, title) is expected


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "designated_apps"),
    ({"designated_apps": "XTerm"}, "designated_apps"),
    ({"designated_apps": ["XTerm"], "excluded_titles": [1]}, "excluded_titles"),
    ({"designated_apps": ["XTerm"], "screenshot_interval_s": 0}, "screenshot_interval_s"),
    ({"designated_apps": ["XTerm"], "frames": "yes"}, "frames"),
])
def test_bad_policies_are_rejected_with_the_field_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(raw)


def test_version_defaults_to_a_content_hash() -> None:
    a = parse_policy({"designated_apps": ["XTerm"]})
    b = parse_policy({"designated_apps": ["XTerm", "Mousepad"]})
    assert a.version.startswith("sha256:") and a.version != b.version


def test_load_policy_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("designated_apps = [")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(bad)


@pytest.mark.parametrize(("kind", "data", "problem"), [
    ("nope", {}, "unknown event kind"),
    ("key_down", {"key": "a"}, "lacks"),
    ("marker", {"marker": "party"}, "unknown marker"),
    ("frame", {"frame_id": 1, "region": [0, 0, 1, 1], "reason": "whenever"}, "unknown frame reason"),
    ("mouse_down", {"x": 1, "y": 1, "button": "thumb"}, "unknown button"),
])
def test_the_event_contract_rejects_what_it_does_not_define(kind: str, data: dict[str, object], problem: str) -> None:
    from deskscribe.errors import SchemaError
    from deskscribe.events import Event, validate

    with pytest.raises(SchemaError, match=problem):
        validate(Event(t_ns=0, kind=kind, data=data))


def test_key_events_name_only_known_modifiers() -> None:
    from deskscribe.errors import SchemaError
    from deskscribe.events import Event, validate

    ok = {"key": "t", "char": "T", "vk": 28, "mods": ["ctrl", "shift"]}
    validate(Event(t_ns=0, kind="key_down", data=ok))
    with pytest.raises(SchemaError, match="unknown modifiers"):
        validate(Event(t_ns=0, kind="key_down", data={**ok, "mods": ["hyper"]}))


@pytest.mark.parametrize(("extra", "message"), [
    ({"deny_lst": ["Jane Roe"]}, "unknown key 'deny_lst' (did you mean 'deny_list'?)"),
    ({"screenshot_intervall_s": 5}, "unknown key 'screenshot_intervall_s' (did you mean 'screenshot_interval_s'?)"),
    ({"retention": {"sessions_dys": 30}}, "unknown key 'retention.sessions_dys' (did you mean 'retention.sessions_days'?)"),
    ({"regions": {"DE": {"requires": ["dpia"], "deny_lst": ["x"]}}},
     "unknown key 'regions.DE.deny_lst' (did you mean 'regions.DE.deny_list'?)"),
    ({"zzz": 1}, "unknown key 'zzz' (valid keys: version, designated_apps,"),
    ({"regions": {"DE": {"secure_apps": ["x"]}}}, "regions.DE.secure_apps cannot differ by region; a region may set"),
])
def test_unknown_keys_are_errors_naming_the_nearest_valid_one(extra: dict[str, object], message: str) -> None:
    """A typo must not silently switch a protection off or leave the notice promising something else."""
    with pytest.raises(PolicyError) as caught:
        parse_policy({"designated_apps": ["XTerm"], **extra}, source="policy.toml")
    assert str(caught.value).startswith(f"policy.toml: {message}"), str(caught.value)


def test_every_documented_key_is_accepted() -> None:
    policy = parse_policy({
        "version": "1", "designated_apps": ["XTerm"], "excluded_titles": [], "screenshot_interval_s": 5,
        "frames": True, "timing_precision_ms": 100, "secure_apps": [], "secure_titles": [], "secure_commands": [],
        "deny_list": ["Jane Roe"], "synthetic_values": False, "auto_approve_hours": 24,
        "retention": {"incomplete_days": 1, "sessions_days": 2, "datasets_days": 3},
        "regions": {"DE": {"requires": ["dpia"], "frames": False, "deny_list": ["Falcon"]}},
    })
    assert policy.deny_list == ("Jane Roe",) and policy.retention.datasets_days == 3


def test_a_region_requirement_that_does_not_exist_is_named() -> None:
    with pytest.raises(PolicyError, match=r"regions\.FR: unknown blessing in requires"):
        parse_policy({"designated_apps": ["XTerm"], "regions": {"FR": {"requires": ["blessing"]}}})


def test_a_browser_is_an_app_like_any_other_until_the_policy_designates_sites() -> None:
    apps = parse_policy({"version": "b1", "designated_apps": ["Chromium", "XTerm"]})
    assert apps.is_designated("Chromium", "Personal mail - Chromium")  # as before: the whole browser
    sites = parse_policy({"version": "b2", "designated_apps": ["Chromium", "XTerm"],
                          "designated_sites": ["https://*.example.com/*"]})
    assert not sites.is_designated("Chromium", "Personal mail - Chromium")  # only vouched pages now
    assert sites.is_designated("XTerm", "shell")
