"""Bad input gets one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import one_line_error, run


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "p.toml"
    p.write_text('designated_apps = ["XTerm"]\n')
    return p


def test_record_without_display(policy: Path, tmp_path: Path) -> None:
    one_line_error(run("record", "--policy", str(policy), "--data-dir", str(tmp_path)),
                   "DISPLAY is not set")


def test_record_on_wayland(policy: Path, tmp_path: Path) -> None:
    out = run("record", "--policy", str(policy), "--data-dir", str(tmp_path),
              env_extra={"WAYLAND_DISPLAY": "wayland-0"})
    one_line_error(out, "Wayland")


def test_record_with_unreachable_display(policy: Path, tmp_path: Path) -> None:
    out = run("record", "--policy", str(policy), "--data-dir", str(tmp_path), "--display", ":987")
    one_line_error(out, "cannot open X display :987")


def test_record_with_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("designated_apps = 3\n")
    one_line_error(run("record", "--policy", str(bad), "--data-dir", str(tmp_path)), "designated_apps")


def test_unknown_and_damaged_sessions(tmp_path: Path) -> None:
    one_line_error(run("sessions", "dump", "abcdef", "--data-dir", str(tmp_path)), "no session abcdef")
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "abcd.db").write_bytes(b"garbage" * 1000)
    one_line_error(run("sessions", "dump", "abcd", "--data-dir", str(tmp_path)), "damaged")
    listed = json.loads(run("sessions", "list", "--json", "--data-dir", str(tmp_path)).stdout)
    assert listed[0]["id"] == "abcd" and "damaged" in listed[0]["error"]
    assert (tmp_path / "sessions" / "abcd.db").exists()  # nothing lost by looking


def test_wrong_flag_is_a_usage_error() -> None:
    out = run("record", "--polcy", "x")
    assert out.returncode == 2 and "No such option" in out.stderr and "Traceback" not in out.stderr


def test_damaged_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[recorder\n")
    one_line_error(run("sessions", "list", env_extra={"DESKSCRIBE_CONFIG": str(cfg)}), "not valid TOML")


def test_doctor_explains_a_missing_display(tmp_path: Path) -> None:
    out = run("doctor", "--data-dir", str(tmp_path))
    assert out.returncode == 1
    assert "DISPLAY is not set" in out.stdout and "fix:" in out.stdout


def test_policy_with_a_misspelt_key_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    typo = tmp_path / "policy.toml"
    typo.write_text('designated_apps = ["XTerm"]\ndeny_lst = ["Jane Roe"]\n')
    out = run("consent", "show", "--policy", str(typo), "--data-dir", str(tmp_path))
    one_line_error(out, f"error: {typo}: unknown key 'deny_lst' (did you mean 'deny_list'?)")
    assert out.stdout == ""  # no notice is shown for a policy that cannot be what it says


@pytest.mark.parametrize(("config", "message"), [
    ('[recorder]\nkey_stor = "file"\n', "unknown key 'recorder.key_stor' (did you mean 'recorder.key_store'?)"),
    ('[recordr]\nkey_store = "file"\n', "unknown section [recordr] (did you mean [recorder]?)"),
    ('key_store = "file"\n', "key_store belongs under [recorder]"),
    ('[recorder]\nstorage_budget = 10\n', "unknown key 'recorder.storage_budget' (did you mean 'recorder.storage_budget_mb'?)"),
])
def test_config_file_with_an_unknown_setting_is_one_line(tmp_path: Path, config: str, message: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config)
    out = run("sessions", "list", "--data-dir", str(tmp_path), env_extra={"DESKSCRIBE_CONFIG": str(cfg)})
    one_line_error(out, f"{cfg}: {message}")
