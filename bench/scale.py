"""Build throughput on the same uploaded sessions, in one run: the local engine, Ray with one
worker, Ray with two (one Ray head on 127.0.0.1 with two CPUs; tasks limited by ``workers``).

Sessions are synthetic office minutes (bench/build.py's Synth: pointer glides, clicks, typing,
scrolls, pre-action frames as keyframe + crops), recorded through the real encrypted store by 12
people, split into 1 MiB chunks in a local blob store as the collector holds them. Each engine
first builds a few sessions untimed, so Ray's worker processes have started and imported the
pipeline; then it builds them all into an `hf` dataset (every screenshot rebuilt as PNG).
Last, two plain processes build half the sessions each with the local engine: what two cores
of this machine give without Ray, the ceiling for the 2-worker figure. bench/scale_ingest.py's
figure follows, where that script exists.

The default set (64 four-minute sessions, about 4,700 steps and a minute of local build time on
one core) is sized so that Ray's fixed cost per build (planning the dataset, scheduling its
tasks, collecting the last results: about half a second here) is under 1 % of a run: with a
handful of sessions the ratios measure that cost, not throughput.

    .venv/bin/python bench/scale.py            # --sessions 64 --minutes 4 [--no-ingest]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# bench/ is not a package: bench scripts import each other as bench.<name> from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import H, Synth, W
from tests.collector.test_ray_build import RayHead

from deskscribe.collector.blobs import LocalBlobs
from deskscribe.collector.build_engine import BuildEngine, LocalEngine, SessionJob
from deskscribe.collector.ray_build import RayEngine
from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release
from deskscribe.events import Monitor, SessionMeta
from deskscribe.keystore import MemoryKeyBackend
from deskscribe.upload import CHUNK_BYTES

PEOPLE = 12


def record(dd: DataDir, contributor: str, minutes: int, seed: int) -> str:
    sid = dd.new_session_id()
    writer = dd.create(SessionMeta(session_id=sid, contributor_id=contributor, started_wall_ns=0, os="Linux",
                                   monitors=(Monitor(0, 0, W, H),), double_click_ms=400, double_click_px=5,
                                   policy_version="bench", recorder_version="bench"))
    synth = Synth(writer, random.Random(seed))
    synth.emit("marker", marker="start")
    for _ in range(minutes):
        synth.minute()
        writer.flush()
    synth.emit("marker", marker="stop")
    writer.close(seal=True)
    return sid


def uploaded(root: Path, sessions: int, minutes: int) -> tuple[list[SessionJob], LocalBlobs]:
    blobs, jobs = LocalBlobs(root=root / "blobs"), []
    people = [(secrets.token_hex(8), secrets.token_bytes(32)) for _ in range(PEOPLE)]
    for n in range(sessions):
        contributor, key = people[n % PEOPLE]
        dd = DataDir(root=root / "devices" / contributor, key_backend=MemoryKeyBackend(key=key))
        sid = record(dd, contributor, minutes, seed=n)
        data = dd.path_of(sid).read_bytes()
        parts = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        for idx, part in enumerate(parts):
            blobs.put(f"{contributor}/{sid}/{idx:06d}", part)
        jobs.append(SessionJob(contributor=contributor, session_id=sid, chunks=len(parts), key=key))
    return jobs, blobs


def timed(engine: BuildEngine, jobs: list[SessionJob], blobs: LocalBlobs, work: Path, label: str
          ) -> tuple[float, int]:
    """(seconds, steps) of a build of every job, after an untimed build of a few."""
    release = Release(key=secrets.token_bytes(32))
    engine.export(jobs=jobs[:4], blobs=blobs, release=release, fmt="hf", out=work / f"{label}-warm")
    t0 = time.perf_counter()
    done = engine.export(jobs=jobs, blobs=blobs, release=release, fmt="hf", out=work / label)
    seconds = time.perf_counter() - t0
    assert done.sessions == len(jobs), f"{label} read {done.sessions} of {len(jobs)} sessions"
    return seconds, done.summary.steps


def measure(jobs: list[SessionJob], blobs: LocalBlobs, tmp: Path, staging: Path
            ) -> dict[str, tuple[float, int]]:
    """Each engine's build of every job. The Ray head runs in a network namespace of its own
    with only a loopback interface (see RayHead); this thread joins it while Ray builds."""
    head = RayHead()
    try:
        head.start()
        with head.joined():
            engines: list[tuple[str, BuildEngine]] = [
                ("local", LocalEngine(scratch=tmp)),
                ("ray, 1 worker", RayEngine(address=head.address, workers=1)),
                ("ray, 2 workers", RayEngine(address=head.address, workers=2))]
            try:
                return {label: timed(engine, jobs, blobs, staging, f"build{n}")
                        for n, (label, engine) in enumerate(engines)}
            finally:
                for _, engine in engines:
                    if isinstance(engine, RayEngine):
                        engine.close()
    finally:
        head.stop()


def _build_locally(args: tuple[list[SessionJob], LocalBlobs, Path]) -> None:
    jobs, blobs, out = args
    release = Release(key=secrets.token_bytes(32))
    LocalEngine(scratch=out.parent).export(jobs=jobs, blobs=blobs, release=release, fmt="hf", out=out)


def ceiling(jobs: list[SessionJob], blobs: LocalBlobs, staging: Path) -> float:
    """Seconds for two plain processes building half the jobs each: what two cores of this
    machine give without Ray, against which the 2-worker figure is read."""
    halves = [(jobs[i::2], blobs, staging / f"half{i}") for i in (0, 1)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_build_locally, [(h[0][:2], h[1], h[2].with_name(h[2].name + "-warm")) for h in halves])
        t0 = time.perf_counter()
        pool.map(_build_locally, halves)
        return time.perf_counter() - t0


def ingest_lines() -> list[str]:
    """The ingest figure from bench/scale_ingest.py, where that script exists."""
    try:
        from bench import scale_ingest
    except ImportError:
        return []
    main_figures: Callable[[], list[str]] = scale_ingest.main_figures
    return main_figures()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--minutes", type=int, default=4, help="recorded minutes per session")
    parser.add_argument("--no-ingest", action="store_true", help="leave out bench/scale_ingest.py's figure")
    args = parser.parse_args()
    shm = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=shm) as staging:
        t0 = time.perf_counter()
        jobs, blobs = uploaded(Path(tmp), args.sessions, args.minutes)
        print(f"{len(jobs)} sessions of {args.minutes} min from {PEOPLE} people,"
              f" {sum(j.chunks for j in jobs)} chunks, made in {time.perf_counter() - t0:.0f} s;"
              f" load average {os.getloadavg()[0]:.2f}")
        results = measure(jobs, blobs, Path(tmp), Path(staging))
        two_plain = ceiling(jobs, blobs, Path(staging))
    print("| engine | seconds | sessions/s | steps/s |\n|---|---:|---:|---:|")
    rate = {}
    for label, (seconds, steps) in results.items():
        rate[label] = len(jobs) / seconds
        print(f"| {label} | {seconds:.1f} | {len(jobs) / seconds:.2f} | {steps / seconds:.0f} |")
    two_one = rate["ray, 2 workers"] / rate["ray, 1 worker"]
    one_local = rate["ray, 1 worker"] / rate["local"]
    print(f"ray 2 workers / 1 worker: {two_one:.2f}× (target ≥ 1.7×)")
    print(f"ray 1 worker / local: {one_local:.2f}× (target within 25 %: ≥ 0.75×)")
    print(f"two plain processes, half the sessions each / local: {results['local'][0] / two_plain:.2f}×"
          f" ({two_plain:.1f} s; what two cores give here without Ray)")
    for line in [] if args.no_ingest else ingest_lines():
        print(line)


if __name__ == "__main__":
    main()
