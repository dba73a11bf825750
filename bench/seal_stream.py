"""Big dataset files: sealing and downloading in AEAD segments against the whole-file way.

Segments: a build's file sealed disk to disk (`DatasetBuilds.seal_files`), served by a real
`deskscribe serve` process (sealed as stored, its key HPKE-wrapped for the downloader) and pulled
by the real `deskscribe datasets pull`, which decrypts segment by segment. Baseline: the way
before segments, in the same run: the file read whole and sealed with one AES-GCM call
(`Sealer.seal`), a server that decrypts it whole into one response (the old route, rebuilt here
on uvicorn), and a client that reads the whole body before writing it. Each step runs in its own
process; peak memory is that process's VmHWM (a pulling command's ru_maxrss, read by a small
wrapper process that started it); a download's MB/s is
the file's size over the wall time of the whole pulling process, start-up included, for both
ways (the servers' row repeats it: they serve while the client pulls). The baseline's file is
smaller (default 512 MiB): whole-file sealing holds the plaintext and the ciphertext at once,
and the old download holds the file in the server twice and in the client once or twice.

    .venv/bin/python bench/seal_stream.py [--mib 2048] [--baseline-mib 512]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import free_port

DS = "be7c4000"
MIB = 1 << 20

PRELUDE = """
import hashlib, json, sys, time
from pathlib import Path
def peak():  # VmHWM: ru_maxrss would start from the parent's size at the fork
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
def plain_file(path, size):
    block = bytes(range(256)) * 4096
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for i in range(0, size, len(block)):
            fh.write((i.to_bytes(8, "big") + block)[: min(len(block), size - i)])
"""

SEAL_SEGMENTS = PRELUDE + """
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.schema import datasets
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import load_or_create_private
tmp, size, ds = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
store = CollectorStore.open(engine=connect(f"sqlite:///{tmp / 'server.db'}"), blobs=tmp / "blobs",
                            private_key=load_or_create_private(tmp / "collector.key"))
plain_file(tmp / "staging" / "big.bin", size)
t0 = time.perf_counter()
wrapped = DatasetBuilds(store=store).seal_files(ds, tmp / "staging")
seconds = time.perf_counter() - t0
(tmp / "staging" / "big.bin").unlink()
with store.engine.begin() as c:
    c.execute(datasets.insert().values(id=ds, fmt="hf", precision_ms=100, state="ready",
                                       created_ns=time.time_ns(), contributors=10, sessions=10, episodes=1,
                                       steps=1, bytes=size, key=wrapped))
print(json.dumps({"seconds": seconds, "peak_mib": peak(), "code": store.create_enrol_code("ml_engineer")}))
"""

SEAL_WHOLE = PRELUDE + """
from deskscribe.sealer import Sealer
tmp, size = Path(sys.argv[1]), int(sys.argv[2])
plain_file(tmp / "big.bin", size)
sealer = Sealer(contributor_key=b"k" * 32, context="dataset/x")
t0 = time.perf_counter()
(tmp / "big.sealed").write_bytes(sealer.seal((tmp / "big.bin").read_bytes(), slot="big.bin"))
seconds = time.perf_counter() - t0
(tmp / "big.bin").unlink()
print(json.dumps({"seconds": seconds, "peak_mib": peak()}))
"""

SERVE_WHOLE = """
import sys
from pathlib import Path
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from deskscribe.sealer import Sealer
app, path = FastAPI(), Path(sys.argv[1])
@app.get("/file")
def file() -> Response:
    sealer = Sealer(contributor_key=b"k" * 32, context="dataset/x")
    return Response(sealer.open(path.read_bytes(), slot="big.bin"), media_type="application/octet-stream")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

PULL_WHOLE = """
import sys
from pathlib import Path
import httpx
Path(sys.argv[2]).write_bytes(httpx.get(sys.argv[1], timeout=600).content)
"""

PEAK_OF = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - t0
if done.returncode:
    sys.exit(done.stderr)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak}))
"""


def py(script: str, *args: str, env: dict[str, str]) -> dict[str, float | str]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=3600)
    if done.returncode:
        raise SystemExit(done.stderr)
    answer: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def started(cmd: list[str], url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"{cmd[0]} did not start") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def segments(tmp: Path, size: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    sealed = py(SEAL_SEGMENTS, str(tmp), str(size), DS, env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = started([sys.executable, "-m", "deskscribe", "serve", "--db", f"sqlite:///{tmp / 'server.db'}",
                      "--blobs", str(tmp / "blobs"), "--port", str(port)], f"{url}/healthz", env)
    try:
        device = tmp / "engineer"
        subprocess.run([sys.executable, "-m", "deskscribe", "enrol", url, str(sealed["code"]),
                        "--data-dir", str(device)], env=env, check=True, capture_output=True)
        pulled = py(PEAK_OF, sys.executable, "-m", "deskscribe", "datasets", "pull", DS,
                    "--out", str(tmp / "out"), "--data-dir", str(device), env=env)
        served = vm_hwm_mib(server.pid)
    finally:
        stop(server)
    assert (tmp / "out" / "big.bin").stat().st_size == size
    return {"seal": {"seconds": float(sealed["seconds"]), "peak_mib": float(sealed["peak_mib"])},
            "serve": {"seconds": float(pulled["seconds"]), "peak_mib": served},
            "pull": {"seconds": float(pulled["seconds"]), "peak_mib": float(pulled["peak_mib"])}}


def whole(tmp: Path, size: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    sealed = py(SEAL_WHOLE, str(tmp), str(size), env=env)
    port = free_port()
    server = started([sys.executable, "-c", SERVE_WHOLE, str(tmp / "big.sealed"), str(port)],
                     f"http://127.0.0.1:{port}/docs", env)
    try:
        pulled = py(PEAK_OF, sys.executable, "-c", PULL_WHOLE, f"http://127.0.0.1:{port}/file",
                    str(tmp / "big.out"), env=env)
        served = vm_hwm_mib(server.pid)
    finally:
        stop(server)
    assert (tmp / "big.out").stat().st_size == size
    return {"seal": {"seconds": float(sealed["seconds"]), "peak_mib": float(sealed["peak_mib"])},
            "serve": {"seconds": float(pulled["seconds"]), "peak_mib": served},
            "pull": {"seconds": float(pulled["seconds"]), "peak_mib": float(pulled["peak_mib"])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=2048, help="size of the file sealed in segments")
    ap.add_argument("--baseline-mib", type=int, default=512, help="size of the file sealed whole")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="deskscribe-seal-bench-"))
    env = {**os.environ, "HOME": str(tmp / "home"), "XDG_CONFIG_HOME": str(tmp / "home" / ".config")}
    try:
        (tmp / "segments").mkdir()
        (tmp / "whole").mkdir()
        runs = {"segments": (args.mib, segments(tmp / "segments", args.mib * MIB, env)),
                "whole file": (args.baseline_mib, whole(tmp / "whole", args.baseline_mib * MIB, env))}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| way | file MiB | step | MB/s | peak RSS MiB |")
    print("|---|---:|---|---:|---:|")
    for way, (mib, steps) in runs.items():
        for step, fig in steps.items():
            rate = mib * MIB / 1e6 / fig["seconds"]
            what = {"serve": "download (served)", "pull": "download (pulled)"}.get(step, "seal")
            print(f"| {way} | {mib} | {what} | {rate:.0f} | {fig['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
