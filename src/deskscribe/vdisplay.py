"""A throwaway X11 desktop (Xvfb + openbox) for the demo, the tests and the benchmarks.

Everything it starts is tracked by PID and stopped by :meth:`VirtualDisplay.stop`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from Xlib import display, error

from deskscribe.errors import VirtualDisplayError

REQUIRED_PROGRAMS = ("Xvfb", "openbox", "xdotool")


def missing_programs(programs: Sequence[str] = REQUIRED_PROGRAMS) -> list[str]:
    return [p for p in programs if shutil.which(p) is None]


class VirtualDisplay:
    def __init__(self, *, width: int = 1280, height: int = 800, window_manager: bool = True) -> None:
        self.width, self.height = width, height
        self._wm = window_manager
        self._procs: list[subprocess.Popen[bytes]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.name = ""
        self.session_bus: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY",)}
        env["DISPLAY"] = self.name
        if self.session_bus is not None and self._tmp is not None:
            # Apps reach the accessibility bus through this session bus; the runtime dir
            # keeps its socket apart from any other desktop's.
            env["DBUS_SESSION_BUS_ADDRESS"] = self.session_bus
            env["XDG_RUNTIME_DIR"] = self._tmp.name
        return env

    def start(self) -> VirtualDisplay:
        missing = missing_programs(REQUIRED_PROGRAMS if self._wm else ("Xvfb",))
        if missing:
            raise VirtualDisplayError(f"missing programs: {', '.join(missing)};"
                                      " install with: apt-get install xvfb openbox xdotool")
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(xvfb)
        os.close(write_fd)
        with os.fdopen(read_fd) as fh:
            number = fh.readline().strip()
        if not number:
            self.stop()
            raise VirtualDisplayError("Xvfb did not start")
        self.name = f":{number}"
        self._tmp = tempfile.TemporaryDirectory(prefix="deskscribe-vd-")
        os.chmod(self._tmp.name, 0o700)
        self._start_session_bus()
        if self._wm:
            self.spawn(["openbox", "--sm-disable", "--config-file", str(self._openbox_config())])
            self._wait_for_wm()
        return self

    def _start_session_bus(self) -> None:
        """A D-Bus session for this desktop, so apps export accessibility (AT-SPI) as on a
        real desktop. Without dbus-daemon the desktop simply has none."""
        if shutil.which("dbus-daemon") is None:
            return
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env)
        self._procs.append(bus)
        assert bus.stdout is not None
        self.session_bus = bus.stdout.readline().decode().strip() or None
        bus.stdout.close()

    def _openbox_config(self) -> Path:
        """A minimal config: focus new windows, never follow the mouse."""
        assert self._tmp is not None
        path = Path(self._tmp.name) / "openbox.xml"
        path.write_text(
            '<?xml version="1.0"?><openbox_config xmlns="http://openbox.org/3.4/rc">'
            "<focus><focusNew>yes</focusNew><followMouse>no</followMouse></focus>"
            "<placement><policy>Smart</policy></placement></openbox_config>\n")
        return path

    def _wait_for_wm(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                disp = display.Display(self.name)
            except (error.DisplayError, OSError):
                time.sleep(0.05)
                continue
            try:
                prop = disp.screen().root.get_full_property(
                    disp.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0)
                if prop is not None:
                    return
            finally:
                disp.close()
            time.sleep(0.05)
        raise VirtualDisplayError("the window manager did not start")

    @property
    def app_env(self) -> dict[str, str]:
        """What programs on this desktop see: a profile of their own, so an editor killed on
        another desktop does not greet this one with a session-restore dialog."""
        env = self.env
        if self._tmp is not None:
            for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
                path = Path(self._tmp.name) / "apps" / var.lower()
                path.mkdir(parents=True, exist_ok=True)
                env[var] = str(path)
        return env

    def spawn(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(args), env=self.app_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self._procs.append(proc)
        return proc

    def xdotool(self, *args: str) -> str:
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 0 and args[0] != "search":
            raise VirtualDisplayError(f"xdotool {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def wait_window(self, *, name: str | None = None, cls: str | None = None,
                    timeout: float = 20.0) -> str:
        """Window id of the first visible window matching; waits until it is mapped."""
        query = ["--name", name] if name else ["--class", cls or ""]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.xdotool("search", "--onlyvisible", *query)
            if found:
                return found.splitlines()[0]
            time.sleep(0.1)
        raise VirtualDisplayError(f"no window {name or cls} appeared")

    def activate(self, window: str) -> None:
        self.xdotool("windowactivate", "--sync", window)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType]) -> None:
        self.stop()
