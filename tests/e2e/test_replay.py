"""Replay as documented, and the demo: it reproduces its own episode and leaves the person's
own data directory and consent record alone."""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskscribe.datadir import DataDir
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.keystore import FileKeyBackend
from deskscribe.vdisplay import VirtualDisplay

from .conftest import RecorderProcess, deskscribe
from .test_dataset import window_box

pytestmark = pytest.mark.slow
MS = 1_000_000


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def score(stdout: str) -> float:
    """The share of steps reproduced, from replay's last line."""
    found = re.search(r"(\d+)/(\d+) steps? reproduces? the recorded screen", stdout)
    assert found, stdout
    return int(found[1]) / int(found[2])


def own_data(home: Path, env: dict[str, str]) -> Path:
    """A person's real data directory: one session, and a consent record ending in withdrawal."""
    data = home / ".local" / "share" / "deskscribe"
    home.mkdir()
    policy = home / "policy.toml"
    policy.write_text('version = "mine-1"\ndesignated_apps = ["XTerm"]\n')
    deskscribe("consent", "accept", "--yes", "--policy", str(policy), env=env)
    deskscribe("consent", "withdraw", env=env)
    dd = DataDir(root=data, key_backend=FileKeyBackend(path=data / "contributor.key"))
    w = dd.create(SessionMeta(session_id=dd.new_session_id(), contributor_id=dd.contributor_id,
                              started_wall_ns=0, os="Linux", monitors=(Monitor(0, 0, 800, 600),),
                              double_click_ms=400, double_click_px=5, policy_version="mine-1",
                              recorder_version="r"))
    w.add_event(Event(t_ns=10 * MS, kind="mouse_down", data={"x": 5, "y": 5, "button": "left", "mods": []}))
    w.add_event(Event(t_ns=60 * MS, kind="mouse_up", data={"x": 5, "y": 5, "button": "left"}))
    w.close()
    assert (data / "consent.jsonl").read_text().splitlines()[-1].count('"withdraw"') == 1
    return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`deskscribe demo` run by a person who recorded before and then withdrew."""
    tmp = tmp_path_factory.mktemp("demo")
    home, scratch = tmp / "home", tmp / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DESKSCRIBE_CONFIG", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    env |= {"HOME": str(home), "TMPDIR": str(scratch)}
    data = own_data(home, env)
    before = snapshot(home)
    out = deskscribe("demo", env=env).stdout
    yield {"out": out, "env": env, "home": home, "data": data, "before": before, "scratch": scratch}


def test_demo_leaves_the_persons_data_and_consent_alone(demo: dict[str, Any]) -> None:
    assert snapshot(demo["home"]) == demo["before"]  # no session, no ledger entry, no key, no file
    (root,) = demo["scratch"].glob("deskscribe-demo-*")
    assert f"everything goes to {root}" in demo["out"]
    assert len(list((root / "sessions").glob("*.db"))) == 1
    assert '"accept"' in (root / "consent.jsonl").read_text()


def test_demo_refuses_a_directory_that_holds_data(demo: dict[str, Any]) -> None:
    busy = deskscribe("demo", "--out", str(demo["data"]), env=demo["env"], check=False)
    assert busy.returncode == 2 and "not empty" in busy.stderr
    assert snapshot(demo["home"]) == demo["before"]


def test_the_replay_command_the_demo_prints_reproduces_its_episode(demo: dict[str, Any]) -> None:
    (line,) = [s for s in demo["out"].splitlines() if " replay " in s and "--launch" in s]
    args = shlex.split(line)
    assert args[1] == "replay" and "-geometry" in args[args.index("--launch") + 1]
    result = deskscribe(*args[1:], env=demo["env"])
    assert score(result.stdout) >= 0.95, result.stdout
    assert "note:" not in result.stderr  # the launched app started as recorded


def test_replay_as_the_readme_documents_it_places_the_app_where_it_was(demo: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    """`build SESSION_ID --format jsonl`, then `replay steps/ --launch "xterm -e cat"`: the
    window manager puts a plain xterm elsewhere; replay moves it to the recorded geometry."""
    (root,) = demo["scratch"].glob("deskscribe-demo-*")
    (session,) = (root / "sessions").glob("*.db")
    env = demo["env"] | {"DESKSCRIBE_CONFIG": str(root / "config.toml")}  # as the demo prints
    steps = tmp_path / "steps"
    deskscribe("build", session.stem, "--out", str(steps), "--format", "jsonl", env=env)
    result = deskscribe("replay", str(steps), "--launch", "xterm -e cat", env=env)
    assert score(result.stdout) >= 0.95, result.stdout
    wrong_font = deskscribe("replay", str(steps), "--launch", "xterm -fa Monospace -fs 14 -e cat", env=env)
    assert score(wrong_font.stdout) < 0.5 and "must start the app as it was recorded" in wrong_font.stderr


# Overlay scrollbars fade in and out on their own clock; classic ones hold still.
FRUIT = ["env", "GTK_OVERLAY_SCROLLING=0", "zenity", "--list", "--multiple", "--title", "Fruit", "--column", "Fruit",
         "apple", "banana", "cherry", "date"]


def test_replay_holds_the_modifiers_of_a_click(tmp_path: Path) -> None:
    """Shift-click selects a range and ctrl-click toggles a row in a multi-select list: replayed
    as plain clicks, the selection differs; replayed with the keys held, it matches."""
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["Zenity"]\nscreenshot_interval_s = 30\n')
    with VirtualDisplay() as own:  # recorded on a clean desktop, as the replay will be
        own.spawn(FRUIT)
        win = own.wait_window(name="Fruit")
        own.activate(win)
        left, top, _, _ = window_box(own, win)
        rec = RecorderProcess(vd=own, data_dir=tmp_path / "data", policy=policy).start()
        x = own.xdotool
        for row, held in ((0, None), (2, "shift"), (1, "ctrl")):  # apple, to cherry, not banana
            x("mousemove", "--sync", str(left + 60), str(top + 72 + 23 * row))
            x(*(["keydown", held, "click", "1", "keyup", held] if held else ["click", "1"]))
            time.sleep(0.8)
        rec.stop()
    out = tmp_path / "steps"
    deskscribe("build", "--data-dir", str(rec.data_dir), "--out", str(out), "--format", "jsonl")
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["action"].get("keys") for s in steps] == [[], ["shift"], ["ctrl"], None]
    with_keys = deskscribe("replay", str(out), "--launch", shlex.join(FRUIT))
    assert score(with_keys.stdout) == 1.0, with_keys.stdout
    for s in steps:
        s["action"].pop("keys", None)
    (out / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    plain = deskscribe("replay", str(out), "--launch", shlex.join(FRUIT))
    assert score(plain.stdout) < 1.0, plain.stdout
