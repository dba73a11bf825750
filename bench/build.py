"""Build throughput: recorded hours per CPU-second, against real time as the baseline.

A synthetic office session (pointer glides, clicks, typing bursts with corrections, scrolls,
pre-action frames stored as keyframe + crops) is written through the real encrypted store.
Then, in one run, the CPU time of
  1. the core build: decrypt + parse events, reduce to actions, pair frames, split episodes;
  2. a full `jsonl` export with every step's screenshot rebuilt and written as PNG.

    .venv/bin/python bench/build.py [--hours 2]
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
from pathlib import Path

import numpy as np

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset, session_episodes
from deskscribe.dataset.export.jsonl import JsonlExporter
from deskscribe.events import Event, Monitor, SessionMeta
from deskscribe.frame_codec import FrameEncoder
from deskscribe.keystore import FileKeyBackend

W, H = 1280, 800
MS = 1_000_000


class Synth:
    def __init__(self, writer: object, rng: random.Random) -> None:
        self.w = writer
        self.rng = rng
        self.t = 0
        self.screen = np.zeros((H, W, 4), np.uint8)
        self.screen[40:600, 40:700, :3] = 255
        self.encoder = FrameEncoder()

    def emit(self, kind: str, **data: object) -> None:
        self.w.add_event(Event(t_ns=self.t, kind=kind, data=data))  # type: ignore[attr-defined]

    def frame(self) -> None:
        y, x = self.rng.randrange(60, 560, 16), self.rng.randrange(60, 640, 8)
        self.screen[y:y + 13, x:x + 40, :3] = self.rng.randrange(0, 200)  # some text appeared
        fid = self.w.reserve_frame_id()  # type: ignore[attr-defined]
        self.w.add_frame(self.encoder.encode(fid, self.t, self.screen))  # type: ignore[attr-defined]
        self.emit("frame", frame_id=fid, region=[0, 0, W, H], reason="pre_action")

    def minute(self) -> None:
        end = self.t + 60_000 * MS
        while self.t < end:
            x, y = self.rng.randrange(60, 680), self.rng.randrange(60, 580)
            for _ in range(15):
                self.t += 30 * MS
                self.emit("mouse_move", x=x + self.rng.randrange(-3, 4), y=y + self.rng.randrange(-3, 4))
            self.t += 300 * MS
            self.frame()
            self.emit("mouse_down", x=x, y=y, button="left")
            self.t += 80 * MS
            self.emit("mouse_up", x=x, y=y, button="left")
            self.t += 700 * MS
            self.frame()
            for ch in "Send the invoce to acounts\b\b\b\bcounts today.":
                self.t += 120 * MS
                key = "backspace" if ch == "\b" else ch.lower()
                char = None if ch == "\b" else ch
                self.emit("key_down", key=key, char=char, vk=30, mods=[])
                self.t += 40 * MS
                self.emit("key_up", key=key, char=char, vk=30, mods=[])
            self.t += 800 * MS
            self.frame()
            for _ in range(3):
                self.t += 150 * MS
                self.emit("scroll", x=x, y=y, dx=0, dy=-1)
            self.t += 1000 * MS


def make_session(dd: DataDir, hours: float) -> str:
    sid = dd.new_session_id()
    meta = SessionMeta(session_id=sid, contributor_id="bench", started_wall_ns=0, os="Linux",
                       monitors=(Monitor(0, 0, W, H),), double_click_ms=400, double_click_px=5,
                       policy_version="bench", recorder_version="bench")
    writer = dd.create(meta)
    synth = Synth(writer, random.Random(3))
    synth.emit("marker", marker="start")
    for _ in range(int(hours * 60)):
        synth.minute()
        writer.flush()
    synth.emit("marker", marker="stop")
    writer.close()
    return sid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dd = DataDir(root=Path(tmp), key_backend=FileKeyBackend(path=Path(tmp) / "key"))
        sid = make_session(dd, args.hours)
        info = dd.info(sid)
        recorded_s = info.duration_s

        c0 = time.process_time()
        reader = dd.open(sid)
        events = list(reader.iter_events())
        episodes = session_episodes(reader.meta, events, 100)
        reader.close()
        core_cpu = time.process_time() - c0
        steps = sum(len(e.steps) for e in episodes)

        c0 = time.process_time()
        build_dataset(open_session=dd.open, session_ids=[sid], exporter=JsonlExporter(out=Path(tmp) / "out"),
                      release=Release(key=secrets.token_bytes(32)), fmt="jsonl")
        export_cpu = time.process_time() - c0

    print(f"synthetic session: {recorded_s / 3600:.2f} recorded hours, {len(events):,} events,"
          f" {info.frames:,} frames, {steps:,} steps, {info.size_bytes / 2**20:.1f} MiB encrypted")
    print("| stage | CPU seconds | recorded hours per CPU-second | × real time |\n|---|---:|---:|---:|")
    for label, cpu in (("core build (decrypt, reduce, pair, episodes)", core_cpu),
                       ("full jsonl export incl. screenshots", export_cpu)):
        print(f"| {label} | {cpu:.2f} | {recorded_s / 3600 / cpu:.2f} | {recorded_s / cpu:,.0f}× |")


if __name__ == "__main__":
    main()
