"""Recorder memory over a long session: resident set size, minute by minute, in one run.

deskscribe's recorder runs as its own process on a virtual display with a designated xterm
while a deterministic person works in it (the office script of ``bench/capture.py``: glides,
clicks, typed sentences, Enter, scrolls). ``--baseline SRC`` runs another checkout's recorder
(``SRC/src`` on its path, e.g. a ``git worktree`` of the previous release) the same way on a
second display at the same time, so both see the same machine. RSS and PSS come from
/proc/PID/status and smaps_rollup once a minute.

    .venv/bin/python bench/soak.py [--minutes 30] [--baseline ../prev]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from capture import POLICY, office, stop
from deskscribe.vdisplay import VirtualDisplay

MIB = 1024 * 1024


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; PSS counts shared libraries once across processes."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
    return rss, pss


@dataclass
class Soak:
    label: str
    src: Path | None  # None: this checkout
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)

    def run(self, minutes: int) -> None:
        with tempfile.TemporaryDirectory() as tmp, VirtualDisplay() as vd:
            work = Path(tmp)
            vd.spawn(["xterm", "-geometry", "100x40+40+40", "-e", "cat"])
            vd.activate(vd.wait_window(cls="XTerm"))
            proc = self._start(vd, work)
            worker = threading.Thread(target=office, args=(vd, minutes * 60.0), daemon=True)
            worker.start()
            start = time.monotonic()
            for minute in range(1, minutes + 1):
                time.sleep(max(0.0, start + minute * 60 - time.monotonic()))
                rss, pss = memory(proc.pid)
                self.rss.append(rss)
                self.pss.append(pss)
                print(f"{self.label}: minute {minute:2d} RSS {rss / MIB:6.1f} MiB  PSS {pss / MIB:6.1f} MiB",
                      file=sys.stderr, flush=True)
            worker.join()
            stop(proc)

    def _start(self, vd: VirtualDisplay, work: Path) -> subprocess.Popen[str]:
        env = dict(vd.env)
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src / "src")
        (work / "policy.toml").write_text(POLICY)
        base = [sys.executable, "-m", "deskscribe"]
        data = ["--policy", str(work / "policy.toml"), "--data-dir", str(work / "data")]
        subprocess.run([*base, "consent", "accept", "--yes", *data], check=True, capture_output=True, env=env)
        proc = subprocess.Popen([*base, "record", *data, "--display", vd.name], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("recording"), line
        return proc


def summary(s: Soak) -> dict[str, float]:
    at5 = s.rss[min(4, len(s.rss) - 1)]
    return {"rss_first": s.rss[0] / MIB, "rss_5": at5 / MIB, "rss_last": s.rss[-1] / MIB,
            "rss_max": max(s.rss) / MIB, "growth_pct": (s.rss[-1] - at5) / at5 * 100,
            "pss_last": s.pss[-1] / MIB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--baseline", type=Path, help="another checkout whose recorder to soak alongside")
    args = parser.parse_args()
    if args.minutes < 1:
        parser.error("--minutes must be at least 1")
    soaks = [Soak("deskscribe", None)]
    if args.baseline is not None:
        if not (args.baseline / "src" / "deskscribe").is_dir():
            parser.error(f"{args.baseline} is not a deskscribe checkout (no src/deskscribe)")
        soaks.append(Soak(f"baseline ({args.baseline.name})", args.baseline.resolve()))
    threads = [threading.Thread(target=s.run, args=(args.minutes,)) for s in soaks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [summary(s) for s in soaks]
    rows = [("RSS at minute 1 (MiB)", "rss_first"), ("RSS at minute 5 (MiB)", "rss_5"),
            (f"RSS at minute {args.minutes} (MiB)", "rss_last"), ("RSS max (MiB)", "rss_max"),
            (f"RSS growth minute 5 -> {args.minutes} (%)", "growth_pct"),
            (f"PSS at minute {args.minutes} (MiB)", "pss_last")]
    head = " | ".join(s.label for s in soaks)
    print(f"| metric | {head} |{' baseline / deskscribe |' if len(soaks) > 1 else ''}")
    print("|---|" + "---:|" * (len(soaks) + (len(soaks) > 1)))
    for label, key in rows:
        cells = " | ".join(f"{r[key]:.1f}" for r in results)
        ratio = ""
        if len(results) > 1 and key != "growth_pct":
            ratio = f" {results[1][key] / results[0][key]:.2f}× |"
        elif len(results) > 1:
            ratio = " — |"
        print(f"| {label} | {cells} |{ratio}")
    print(f"({os.cpu_count()} cores; office script of bench/capture.py, designated xterm)")


if __name__ == "__main__":
    main()
