"""`deskscribe demo`: a scripted session on a virtual desktop, recorded by the real recorder.

It shows what a contributor's machine keeps: the designated terminal's input and frames, and
for the chat dialog that is not designated, nothing but an `excluded` marker. Everything it
writes (sessions, consent ledger, data key, datasets) goes to a directory of its own: the
person's data directory, consent record and keyring are never touched, so a demo never mixes
into their datasets nor overrides a withdrawal.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from deskscribe.datadir import DataDir
from deskscribe.errors import DemoError
from deskscribe.keystore import FileKeyBackend
from deskscribe.vdisplay import VirtualDisplay

DEMO_POLICY = """\
# Written by `deskscribe demo`: only the terminal is designated; everything else is excluded.
version = "demo-1"
designated_apps = ["XTerm"]
excluded_titles = ["*password*", "*Private*"]
screenshot_interval_s = 5
"""
TERMINAL_TITLE = "Project notes"
# Also the replay's launch command: a replay starts from the state the recording started in.
TERMINAL = ("xterm", "-T", TERMINAL_TITLE, "-geometry", "90x30+40+40", "-e", "cat")
PRIVATE_TEXT = "see you at the doctor at 5"


def demo_dir(out: Path | None) -> Path:
    """A new directory for everything the demo writes; an existing one only when empty, so
    the demo can never write into a real data directory."""
    if out is None:
        return Path(tempfile.mkdtemp(prefix="deskscribe-demo-"))
    if out.exists() and any(out.iterdir()):
        raise DemoError(f"{out} is not empty; the demo records only into a new or empty directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _config(root: Path) -> Path:
    """The demo's own config for the commands it runs: its directory and a key file there,
    never the person's configured data directory or OS keyring."""
    path = root / "config.toml"
    path.write_text(f"[recorder]\ndata_dir = {json.dumps(str(root))}\nkey_store = \"file\"\n")
    return path


def _start_recorder(vd: VirtualDisplay, policy: Path, data_dir: Path, env: dict[str, str]
                    ) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskscribe", "record", "--policy", str(policy),
         "--data-dir", str(data_dir), "--display", vd.name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if not line.startswith("recording session"):
        proc.kill()
        raise RuntimeError(f"the recorder did not start: {line}{proc.stderr.read()}".strip())
    return proc, line.split()[2]


def _acknowledge(policy: Path, data_dir: Path, env: dict[str, str], console: Console) -> None:
    """The demo records only its own virtual desktop; it acknowledges the notice for it in its
    own ledger, which says nothing about the person's consent."""
    console.print("the notice for the demo policy is acknowledged for this virtual session, in the"
                  " demo's own directory (`deskscribe consent show --policy ...` prints a notice)")
    subprocess.run([sys.executable, "-m", "deskscribe", "consent", "accept", "--yes", "--policy",
                    str(policy), "--data-dir", str(data_dir)], check=True, capture_output=True, env=env)


def _script(vd: VirtualDisplay, console: Console, terminal: str, chat: str) -> None:
    steps: list[tuple[str, list[list[str]]]] = [
        ("focus the terminal and click into it",
         [["windowactivate", "--sync", terminal], ["mousemove", "--sync", "300", "200"], ["click", "1"]]),
        ("type a line (shifted characters too)",
         [["type", "--delay", "40", "Release checklist: ship v0.1 on Friday!"]]),
        ("press Enter and a chord", [["key", "Return", "ctrl+shift+t"]]),
        ("scroll up three notches and back one",
         [["click", "--repeat", "3", "--delay", "60", "4", "click", "5"]]),
        ("switch to the chat dialog (not designated)", [["windowactivate", "--sync", chat]]),
        ("type a private message there", [["type", "--delay", "40", PRIVATE_TEXT]]),
        ("back to the terminal and type", [["windowactivate", "--sync", terminal],
                                           ["type", "--delay", "40", "Done."], ["key", "Return"]]),
    ]
    for label, commands in steps:
        console.print(f"  [cyan]→[/] {label}")
        for args in commands:
            vd.xdotool(*args)
        time.sleep(0.3)


def run_demo(*, out: Path | None = None, command: str = "deskscribe", console: Console | None = None
             ) -> str:
    """Run the scripted session in a directory of its own (``out``, else a new temporary one);
    returns the recorded session id."""
    console = console or Console()
    root = demo_dir(out)
    datadir = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    config = _config(root)
    policy = root / "demo-policy.toml"
    policy.write_text(DEMO_POLICY)
    console.print(f"[bold]deskscribe demo[/]: everything goes to {root} (your own data is not touched)",
                  soft_wrap=True)
    console.print("starting a virtual desktop (Xvfb + openbox)")
    with VirtualDisplay() as vd:
        env = {**vd.env, "DESKSCRIBE_CONFIG": str(config)}
        vd.spawn(TERMINAL)
        terminal = vd.wait_window(name=TERMINAL_TITLE)
        vd.spawn(["zenity", "--entry", "--title", "Team Chat", "--text", "Message to a colleague"])
        chat = vd.wait_window(name="Team Chat")
        vd.xdotool("windowmove", "--sync", chat, "760", "120")
        vd.activate(terminal)
        _acknowledge(policy, root, env, console)
        proc, session_id = _start_recorder(vd, policy, root, env)
        console.print(f"recording session [bold]{session_id}[/] (designated: XTerm only)")
        try:
            _script(vd, console, terminal, chat)
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"the recorder failed: {err.strip()}")
    _summarise(datadir, session_id, console, f"DESKSCRIBE_CONFIG={shlex.quote(str(config))} {command}")
    _build(datadir, session_id, console, command)
    return session_id


def _build(datadir: DataDir, session_id: str, console: Console, command: str) -> None:
    """The step the recordings exist for: a Hugging Face dataset of steps and episodes, and
    the JSONL export a replay re-performs."""
    import secrets

    from deskscribe.dataset.build import Release, build_dataset
    from deskscribe.dataset.export import open_exporter

    release = Release(key=secrets.token_bytes(32))
    out = datadir.root / "datasets" / f"demo-{session_id}"
    summary = build_dataset(open_session=datadir.open, session_ids=[session_id],
                            exporter=open_exporter("hf", out=out), release=release, fmt="hf")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.actions.items()))
    console.print(f"[bold]dataset[/]: {summary.episodes} episodes, {summary.steps} steps ({kinds}), "
                  f"{summary.bytes / 1024:.0f} KiB at {out}")
    _say(console, f"load it with: datasets.load_dataset('parquet', data_dir='{out}')")
    steps = datadir.root / "datasets" / f"steps-{session_id}"
    build_dataset(open_session=datadir.open, session_ids=[session_id],
                  exporter=open_exporter("jsonl", out=steps), release=release, fmt="jsonl")
    console.print("replay the first episode on a fresh desktop (share of steps whose screen after the"
                  " action matches the recorded next screenshot):")
    _say(console, f"{command} replay {steps} --launch \"{shlex.join(TERMINAL)}\"")


def _say(console: Console, line: str) -> None:
    """A line to copy: never wrapped, never read as markup."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def _summarise(datadir: DataDir, session_id: str, console: Console, command: str) -> None:
    reader = datadir.open(session_id)
    events = [e for _, e in reader.iter_events()]
    reader.close()
    by_kind = Counter(e.kind for e in events)
    typed = "".join(e.data.get("char") or "" for e in events if e.kind == "key_down"
                    and not set(e.data.get("mods", [])) - {"shift"})
    excluded = [e.data["duration_ms"] for e in events
                if e.kind == "marker" and e.data.get("marker") == "excluded"]
    info = datadir.info(session_id)
    table = Table("event kind", "count", title=f"session {session_id}: what was stored")
    for kind, count in sorted(by_kind.items()):
        table.add_row(kind, str(count))
    console.print(table)
    console.print(f"typed in the terminal: [green]{typed!r}[/]")
    console.print(f"chat dialog: {len(excluded)} excluded gap(s) of {sum(excluded) / 1000:.1f} s; "
                  f"its text stored: [bold]{'YES' if PRIVATE_TEXT[:10] in typed else 'no'}[/]")
    console.print(f"{info.frames} screenshots (non-designated pixels blacked out), "
                  f"{info.size_bytes / 1024:.0f} KiB encrypted at {info.path}")
    _say(console, f"next: {command} sessions dump {session_id}")
