"""Cost of the terminal echo check that runs for every key batch, on a real pty.

A stand-in terminal process starts a child on a fresh pty (as a terminal starts its shell);
``EchoProbe.secret_input`` is then asked about the terminal, with its pty list cached and with
a fresh ``/proc`` scan (done at most once a second while keys arrive).

    .venv/bin/python bench/echo.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
import time

from deskscribe.capture.terminal import EchoProbe

_TERMINAL = (
    "import fcntl, subprocess, sys, termios, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], stdin={fd}, stdout={fd},"
    " stderr={fd}, start_new_session=True, pass_fds=({fd},),"
    " preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))\n"
    "time.sleep(120)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    master, slave = pty.openpty()
    term = subprocess.Popen([sys.executable, "-c", _TERMINAL.format(fd=slave)], pass_fds=(slave,))
    try:
        time.sleep(1.0)
        probe = EchoProbe()
        assert not probe.secret_input(term.pid)  # warm: the pty list is cached
        t = time.process_time()
        for _ in range(args.calls):
            probe.secret_input(term.pid)
        cached = (time.process_time() - t) / args.calls * 1e6
        t = time.process_time()
        for _ in range(200):
            probe = EchoProbe()
            probe.secret_input(term.pid)
        scan = (time.process_time() - t) / 200 * 1e6
        procs = sum(1 for e in os.listdir("/proc") if e.isdigit())
        print(f"echo check per key batch, pty list cached : {cached:8.1f} µs CPU")
        print(f"echo check with a /proc scan ({procs} processes): {scan:8.0f} µs CPU (at most once a second)")
        print(f"per key event at 200 keys/s                : {cached + scan / 200:8.1f} µs CPU")
    finally:
        term.kill()
        term.wait()
        os.close(master)
        os.close(slave)


if __name__ == "__main__":
    main()
