"""The terminal echo probe against real ptys: a child reading a password, an editor, a shell."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskscribe.capture.terminal import EchoProbe, child_ptys, reads_secret

# A child on a fresh pty whose controlling terminal is that pty, like a terminal's shell.
_CHILD = {
    "getpass": "import getpass; getpass.getpass('Passphrase: ')",
    "raw": "import tty, sys, time; tty.setraw(0); time.sleep(30)",  # a full-screen program
    "shell": "import time; time.sleep(30)",
    # a shell that started a program in the foreground, as `ssh host` would be
    "program": ("import os, signal, time\n"
                "signal.signal(signal.SIGTTOU, signal.SIG_IGN)\n"
                "pid = os.fork()\n"
                "if pid == 0:\n    os.setpgid(0, 0); time.sleep(30)\n"
                "os.setpgid(pid, pid); os.tcsetpgrp(0, pid); time.sleep(30)"),
}


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Iterator[tuple[int, int]]:
    """(pid of a process standing in for the terminal emulator, its child's pid)."""
    code = _CHILD[request.param]
    master, slave = pty.openpty()
    # The emulator stand-in starts the child in a new session with the pty as its terminal.
    parent = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', {code!r}], stdin={slave}, stdout={slave},"
        f" stderr={slave}, start_new_session=True, pass_fds=({slave},),"
        " preexec_fn=lambda: __import__('fcntl').ioctl(0, __import__('termios').TIOCSCTTY, 0))\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(30)\n")], stdout=subprocess.PIPE, text=True, pass_fds=(slave,))
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.close(slave)
    deadline = time.monotonic() + 5
    while not child_ptys(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the child sets its terminal modes
    try:
        yield parent.pid, child
    finally:
        for pid in (child, parent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        parent.wait()
        os.close(master)


@pytest.mark.parametrize("terminal", ["getpass"], indirect=True)
def test_a_password_prompt_is_seen_whatever_program_asks(terminal: tuple[int, int]) -> None:
    emulator, _ = terminal
    [path] = child_ptys(emulator)
    assert path.startswith("/dev/pts/") and reads_secret(path)
    assert EchoProbe().secret_input(emulator)


@pytest.mark.parametrize("terminal", ["raw", "shell"], indirect=True)
def test_full_screen_programs_and_idle_shells_are_not_prompts(terminal: tuple[int, int]) -> None:
    emulator, _ = terminal
    assert child_ptys(emulator)
    assert not EchoProbe().secret_input(emulator)


def test_windows_without_ptys_are_not_prompts() -> None:
    assert not EchoProbe().secret_input(os.getpid() + 10_000_000)
    assert not EchoProbe().secret_input(None)


@pytest.mark.parametrize("terminal", ["getpass", "shell"], indirect=True)
def test_a_program_in_front_of_the_shell_is_told_apart(terminal: tuple[int, int]) -> None:
    """The stand-in child is its session's leader and its terminal's foreground: a shell reading
    a command line. A program the shell starts in the foreground would hold the terminal."""
    emulator, child = terminal
    assert not EchoProbe().program_in_front(emulator)
    fields = (Path("/proc") / str(child) / "stat").read_text().rsplit(")", 1)[1].split()
    assert int(fields[3]) == child and int(fields[5]) == child  # session leader, in front


@pytest.mark.parametrize("terminal", ["program"], indirect=True)
def test_a_program_holding_the_terminal_is_in_front(terminal: tuple[int, int]) -> None:
    emulator, _ = terminal
    assert EchoProbe().program_in_front(emulator)
    assert not EchoProbe().secret_input(emulator)  # the program reads keys as it likes
