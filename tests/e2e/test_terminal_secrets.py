"""Secrets typed at terminal prompts no command list knows: the terminal's echo state says so.

Real terminals (xterm, and sakura on VTE) run a shell whose prompts come from `read -s` and
Python's getpass; the recorder runs as its own process and never sees the prompt's command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess

SECRETS = {"xterm": ("Quokka-Canary-5521", "Marmot-Canary-7713"),
           "sakura": ("Ibis-Canary-3308", "Lynx-Canary-6642")}
POLICY = """
version = "terminal-secrets-1"
designated_apps = ["XTerm", "Sakura"]
screenshot_interval_s = 5
"""
GETPASS = "python3 -c \"import getpass; getpass.getpass('Enter token: ')\""
REMOTE_SECRET = "Remote-Canary-4242"
# What a remote host's sudo looks like through ssh: the local pty is raw (echo and line mode
# off, as ssh sets it), and only the prompt on screen says a password is being typed.
REMOTE_PROMPT = """import sys, termios, tty
old = termios.tcgetattr(0)
tty.setraw(0)
sys.stdout.write("[sudo] password for ana: ")
sys.stdout.flush()
typed = b""
while not typed.endswith(b"\\r"):
    typed += sys.stdin.buffer.read(1)
termios.tcsetattr(0, termios.TCSADRAIN, old)
print()
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecorderProcess, str]]:
    tmp = tmp_path_factory.mktemp("terminal-secrets")
    (tmp / "remote.py").write_text(REMOTE_PROMPT)
    policy = tmp / "policy.toml"
    policy.write_text(POLICY)
    vd = VirtualDisplay(width=1280, height=800).start()
    rec = RecorderProcess(vd=vd, data_dir=tmp / "data", policy=policy)
    try:
        vd.spawn(["xterm", "-T", "plain xterm", "-geometry", "90x20+10+10", "-e", "bash", "--norc", "--noprofile"])
        xterm = vd.wait_window(name="^plain xterm")
        vd.spawn(["sakura", "-t", "vte sakura", "-x", "bash --norc --noprofile"])
        sakura = vd.wait_window(name="^vte sakura")
        vd.xdotool("windowmove", "--sync", sakura, "300", "400")
        vd.activate(xterm)
        rec.start()
        for window, name in ((xterm, "xterm"), (sakura, "sakura")):
            vd.activate(window)
            time.sleep(0.5)
            first, second = SECRETS[name]
            _line(vd, 'read -s -p "Code: " c; echo')
            _line(vd, first)  # at a prompt no listed command produced
            _line(vd, GETPASS)
            time.sleep(1.0)  # Python starts and turns echo off
            _line(vd, second)
            _line(vd, f"echo after the prompts in {name}")
        vd.activate(xterm)
        _line(vd, f"python3 {tmp / 'remote.py'}")
        time.sleep(1.5)  # the prompt is on screen before the person answers it
        _line(vd, REMOTE_SECRET)
        _line(vd, "echo back home")
        time.sleep(1.0)
        log = rec.stop()
    finally:
        rec.kill()
        vd.stop()
    yield rec, log


def _line(vd: VirtualDisplay, text: str) -> None:
    vd.xdotool("type", "--delay", "20", text)
    vd.xdotool("key", "Return")
    time.sleep(0.6)


def test_keys_typed_with_echo_off_are_stored_as_a_password_only(recorded: tuple[RecorderProcess, str]) -> None:
    rec, log = recorded
    events = rec.dump()
    dump = json.dumps(events)
    raw = b"".join(p.read_bytes() for p in (rec.data_dir / "sessions").iterdir()).decode("latin-1")
    for secret in [*(s for pair in SECRETS.values() for s in pair), REMOTE_SECRET]:
        for artefact in (dump, raw, log):
            assert secret.casefold() not in artefact.casefold()
            assert secret.split("-")[0].casefold() not in artefact.casefold()
    typed = "".join(str(e["char"]) for e in events if e["kind"] == "key_down" and e["char"])
    for secret in [*(s for pair in SECRETS.values() for s in pair), REMOTE_SECRET]:
        assert secret.split("-")[0] not in typed, typed
    texts = [e["text"] for e in events if e["kind"] == "text"]
    assert texts.count("<PASSWORD>") == 5, texts


def test_the_commands_around_the_prompts_stay_ordinary_text(recorded: tuple[RecorderProcess, str]) -> None:
    rec, _ = recorded
    typed = "".join(str(e["char"]) for e in rec.dump() if e["kind"] == "key_down" and e["char"])
    for name in SECRETS:
        assert f"echo after the prompts in {name}" in typed
    assert 'read -s -p "Code: " c; echo' in typed and "getpass.getpass" in typed
    assert "echo back home" in typed


def test_build_carries_no_secret(recorded: tuple[RecorderProcess, str], tmp_path: Path) -> None:
    from tests.e2e.conftest import deskscribe

    rec, _ = recorded
    out = tmp_path / "steps"
    deskscribe("build", "--format", "jsonl", "--out", str(out), "--data-dir", str(rec.data_dir))
    steps = (out / "steps.jsonl").read_text()
    assert "Canary" not in steps and "<PASSWORD>" in steps
