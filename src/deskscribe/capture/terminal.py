"""Is a terminal reading a secret right now? Asked of the terminal's pseudo-terminals.

A program that reads a password from a terminal (``sudo``, ``ssh``, ``read -s``, Python's
``getpass``, git's credential prompt, any tool's passphrase prompt) turns the terminal's
``ECHO`` off and leaves line editing (``ICANON``) on; full-screen programs (editors, pagers)
turn both off. That termios state lives on the pty's slave side, which any terminal emulator
(xterm, VTE-based ones, konsole, alacritty...) hands to the shells it starts as their
controlling terminal. So the focused window's process is followed to its children's ptys,
and each is asked with ``tcgetattr``: no command list, no screen reading.

Not covered: a terminal multiplexer (tmux, screen: the programs run on the multiplexer
server's ptys, not the terminal's) and prompts of a remote host over ssh (the local pty is
in raw mode); the command list and the prompt line on screen are the other signals there.
Python's standard library has no process-tree or pty lookup, and psutil would add a compiled
dependency for two /proc reads, so they are written here.
"""

from __future__ import annotations

import os
import termios
import time
from collections.abc import Callable
from pathlib import Path

from deskscribe.capture.base import WindowInfo
from deskscribe.context import NoContext

# Unix98 pty slaves (/dev/pts/N) use major numbers 136-143 (Linux devices.txt).
_PTS_MAJORS = range(136, 144)
RESCAN_NS = 1_000_000_000  # a terminal opens a new tab rarely; its process list is re-read at most this often


def _stat_fields(pid: str, proc: Path) -> list[str] | None:
    try:
        raw = (proc / pid / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: fields start after the last ')'.
    return raw[raw.rfind(")") + 2:].split()


def pty_children(pid: int, *, proc: Path = Path("/proc")) -> list[tuple[str, str]]:
    """(pty device path, child pid) of ``pid``'s children that have a pty as controlling
    terminal: a terminal emulator's shells."""
    out: list[tuple[str, str]] = []
    try:
        entries = [e for e in os.listdir(proc) if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        fields = _stat_fields(entry, proc)
        # fields[1] is the parent pid, fields[4] the controlling tty's device number.
        if fields is None or len(fields) < 6 or fields[1] != str(pid):
            continue
        tty = int(fields[4])
        major, minor = (tty >> 8) & 0xFFF, (tty & 0xFF) | ((tty >> 12) & 0xFFF00)
        if major in _PTS_MAJORS:
            out.append((f"/dev/pts/{(major - 136) * 256 + minor}", entry))
    return sorted(out)


def child_ptys(pid: int, *, proc: Path = Path("/proc")) -> list[str]:
    """Device paths of the ptys that ``pid``'s child processes have as controlling terminal."""
    return sorted({path for path, _ in pty_children(pid, proc=proc)})


def program_on(child: str, *, proc: Path = Path("/proc")) -> bool:
    """A program other than the shell ``child`` holds its terminal: the terminal's foreground
    process group (stat field ``tpgid``) is not the shell's session. While the shell itself
    reads a command line, whatever a stale screen shows, nobody is asking for a password."""
    fields = _stat_fields(child, proc)
    if fields is None or len(fields) < 6:
        return False
    session, foreground = int(fields[3]), int(fields[5])
    return foreground > 0 and foreground != session


def reads_secret(path: str) -> bool:
    """The pty at ``path`` has echo off with line editing on: a password prompt. The pty is
    opened only for the question and closed at once, so a terminal never waits on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        lflag = termios.tcgetattr(fd)[3]
    except termios.error:
        return False
    finally:
        os.close(fd)
    return not lflag & termios.ECHO and bool(lflag & termios.ICANON)


class EchoProbe(NoContext):
    """``secret_input(pid)``: some pty of window process ``pid`` is reading a secret now.

    A context source for the pipeline: asked from the input thread for key presses only, so a
    burst typed at a prompt is known as secret even if the prompt has ended by the time the
    burst is scanned."""

    def __init__(self, *, proc: Path = Path("/proc"), mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._proc = proc
        self._mono_ns = mono_ns
        self._ptys: dict[int, tuple[int, list[tuple[str, str]]]] = {}

    def secret_input(self, pid: int | None) -> bool:
        if pid is None or pid <= 0:
            return False
        return any(reads_secret(path) for path, _ in self._ptys_of(pid))

    def program_in_front(self, pid: int | None) -> bool:
        """Some shell of this terminal has handed it to a program (ssh, tmux, a script)."""
        if pid is None or pid <= 0:
            return False
        return any(program_on(child, proc=self._proc) for _, child in self._ptys_of(pid))

    def secret_now(self, window: WindowInfo) -> bool:
        return self.secret_input(window.pid)

    def prompt_possible(self, window: WindowInfo) -> bool:
        return self.program_in_front(window.pid)

    def _ptys_of(self, pid: int) -> list[tuple[str, str]]:
        now = self._mono_ns()
        seen = self._ptys.get(pid)
        # A window with no pty is no terminal: asked again ten times less often.
        if seen is None or now - seen[0] >= RESCAN_NS * (1 if seen[1] else 10):
            if len(self._ptys) > 64:
                self._ptys.clear()
            seen = (now, pty_children(pid, proc=self._proc))
            self._ptys[pid] = seen
        return seen[1]
