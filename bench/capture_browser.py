"""Capture CPU per event with the browser extension connected against without it, in one run.

Designated websites put a `BrowserSource` into the recorder and let the extension hold a stream
open on its control socket, reporting the focused browser window every 2 s. That must not make
ordinary capture dearer: the budget is CPU per event within 10 % of the recorder without a
browser connected. Both configurations run the same recorder and the same policy (that of
`bench/capture.py` plus `designated_sites`), on a fresh virtual display with a designated xterm,
alternating A, B, A, B, ...; each figure is the median over the rounds:
  A. no browser connected (the policy names sites, so the recorder's BrowserSource exists);
  B. an extension connected the way the native host connects it (`open_stream` with the host's
     hello), speaking protocol 1: `hello`, then a `window` report for a browser window that is
     not focused and not designated (the xterm stays the recorded app) at once and every 2 s,
     as the extension's heartbeat does, answering `ping` and `snapshot` as the extension would.
Per configuration: CPU % of one core idle, CPU µs per pointer event (the 3000 ev/s flood of
`bench/capture.py`) and per key event (its 200 keys/s flood). CPU is the recorder's own,
read from /proc/PID/task/*/schedstat.

    .venv/bin/python bench/capture_browser.py    # --rounds 3 --idle-seconds 10 --flood-seconds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# bench/ is not a package: bench scripts import each other as bench.<name> from the repo root
# (see bench/ingest.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture import FLOOD_RATE, KEY_RATE, POLICY, _ours_flood_moves, idle_and_floods, stop

from deskscribe.browser.native_host import HELLO
from deskscribe.control import StreamClient, open_stream, request, socket_path
from deskscribe.vdisplay import VirtualDisplay

SITE_PORT = 8443
BROWSER_POLICY = POLICY + f'designated_sites = ["http://*.example.test:{SITE_PORT}/*"]\n'
HEARTBEAT_S = 2.0  # the extension's HEARTBEAT_MS
WINDOW_ID, TAB_ID = 1, 7  # a browser window that had focus once; focus is now in the xterm
BOUNDS = [700, 60, 560, 700]
CONFIGS = ("A", "B")
LABELS = {"A": "A: no browser connected", "B": "B: extension connected (heartbeat every 2 s)"}


class FakeExtension:
    """The extension's side of the stream, as background.js speaks it through the native host."""

    def __init__(self, data_dir: Path) -> None:
        self._stream: StreamClient = open_stream(socket_path(data_dir), HELLO)
        self._done = threading.Event()
        self._seq = 0
        self.configs = 0
        self.pings = 0
        self.snapshots = 0
        self.sent = 0
        self._send({"type": "hello", "extension": "0.1.0", "browser": "chromium",
                    "ua": "Mozilla/5.0 (X11; Linux x86_64) deskscribe-bench"})
        self._report()
        self._threads = [threading.Thread(target=self._heartbeat, name="bench-heartbeat", daemon=True),
                         threading.Thread(target=self._answer, name="bench-answer", daemon=True)]
        for t in self._threads:
            t.start()

    def _send(self, body: dict[str, Any]) -> None:
        if self._stream.send({"v": 1, **body}):
            self.sent += 1

    def _report(self) -> None:
        """The focused window is outside the browser: the last browser window, not focused."""
        self._seq += 1
        self._send({"type": "window", "window_id": WINDOW_ID, "incognito": False, "bounds": BOUNDS,
                    "tab_id": TAB_ID, "focused": False, "designated": False, "seq": self._seq})

    def _heartbeat(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            self._report()

    def _answer(self) -> None:
        for msg in self._stream.receive():
            kind = msg.get("type")
            if kind == "config":
                self.configs += 1
                self._report()  # background.js reports again after a config (unchanged: no-op there)
            elif kind == "ping":
                self.pings += 1
                self._send({"type": "pong"})
            elif kind == "snapshot":  # never expected: nothing is designated
                self.snapshots += 1
                self._send({"type": "text", "request": msg.get("request"), "designated": False})

    def close(self) -> None:
        self._done.set()
        self._stream.close()
        for t in self._threads:
            t.join(timeout=5)


def start_recorder(vd: VirtualDisplay, work: Path) -> subprocess.Popen[str]:
    """`deskscribe record` as in bench/capture.py, with the browser policy."""
    policy, data = work / "policy.toml", work / "data"
    policy.write_text(BROWSER_POLICY)
    subprocess.run([sys.executable, "-m", "deskscribe", "consent", "accept", "--yes", "--policy",
                    str(policy), "--data-dir", str(data)], check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "deskscribe", "record", "--policy", str(policy),
                             "--data-dir", str(data), "--display", vd.name], env=vd.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if not line.startswith("recording"):
        proc.kill()
        raise SystemExit(f"the recorder did not start: {line}{proc.stderr.read()}")
    return proc


def browser_status(work: Path) -> dict[str, Any]:
    return dict(request(socket_path(work / "data"), {"cmd": "status"}).get("browser") or {})


def measure(config: str, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay() as vd:
        work = Path(tmp)
        vd.spawn(["xterm", "-geometry", "100x40+40+40", "-e", "cat"])
        vd.activate(vd.wait_window(cls="XTerm"))
        proc = start_recorder(vd, work)
        ext = FakeExtension(work / "data") if config == "B" else None
        time.sleep(1.0)
        before = browser_status(work)  # outside every measured span
        try:
            sent = idle_and_floods(vd, proc.pid, out, idle_s=args.idle_seconds, flood_s=args.flood_seconds)
            after = browser_status(work)
        finally:
            if ext is not None:
                ext.close()
            stop(proc)
        out["flood_injected"] = sent
        out["flood_dropped"] = sent - _ours_flood_moves(work)
        out["connected"] = min(before.get("connected", -1), after.get("connected", -1))
        out["browser_dropped"] = after.get("dropped", -1)
        if ext is not None:
            out["ext_sent"], out["ext_configs"] = ext.sent, ext.configs
            out["ext_pings"], out["ext_snapshots"] = ext.pings, ext.snapshots
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration (A/B alternate)")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--flood-seconds", type=float, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {c: [] for c in CONFIGS}
    began = time.monotonic()
    for n in range(args.rounds):
        for config in CONFIGS:
            print(f"round {n + 1}/{args.rounds}, {LABELS[config]} ...", file=sys.stderr, flush=True)
            r = measure(config, args)
            runs[config].append(r)
            print("  " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()), file=sys.stderr, flush=True)
    for r in runs["B"]:
        assert r["connected"] == 1 and r["ext_configs"] >= 1, f"the extension was not connected: {r}"
    for r in runs["A"]:
        assert r["connected"] == 0, f"a browser was connected in A: {r}"

    def med(config: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[config])

    rows = [(f"CPU µs per pointer event ({FLOOD_RATE} ev/s flood)", "flood_us_per_event", "{:.1f}", True),
            (f"CPU µs per key event ({KEY_RATE} keys/s, Enter every 40)", "key_us_per_event", "{:.1f}", True),
            (f"CPU % of one core, idle designated window ({args.idle_seconds:g} s)", "idle_cpu_pct",
             "{:.2f}", False),
            ("events dropped in pointer flood", "flood_dropped", "{:.0f}", False)]
    print(f"{args.rounds} rounds per configuration, alternating A/B; medians "
          f"({time.monotonic() - began:.0f} s in all)\n")
    print("| metric | A: no browser | B: extension connected | B / A |\n|---|---:|---:|---:|")
    worst = 0.0
    for label, key, fmt, budgeted in rows:
        a, b = med("A", key), med("B", key)
        ratio = f"{b / a:.3f}" if a else "—"
        if budgeted and a:
            worst = max(worst, b / a)
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio} |")
    for _, key, _, budgeted in rows:
        if budgeted:
            pairs = zip(runs["A"], runs["B"], strict=True)
            print(f"\n{key} per round, A / B: " + ", ".join(f"{a[key]:.1f} / {b[key]:.1f}" for a, b in pairs),
                  end="")
    print()
    sent = statistics.median(r["ext_sent"] for r in runs["B"])
    print(f"extension messages sent per B round (median): {sent:.0f}; recorder dropped "
          f"{max(r['browser_dropped'] for r in runs['B']):.0f} of them")
    verdict = "within 10%" if worst <= 1.10 else "NOT within 10%"
    print(f"\nverdict: capture CPU per event with the extension connected is {verdict} "
          f"(worst B/A {worst:.3f})")


if __name__ == "__main__":
    main()
