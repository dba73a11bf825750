"""What a killed build left on this machine is deleted at the next start, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deskscribe.collector.scratch import _host, sweep_leftovers, work_dir


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_a_dead_local_process_s_directories_are_deleted(tmp_path: Path) -> None:
    host, dead = _host(), dead_pid()
    leftover = tmp_path / f"deskscribe-{host}-{dead}-abc"
    (leftover / "out").mkdir(parents=True)
    (leftover / "out" / "plain.parquet").write_bytes(b"typed text")
    live = tmp_path / f"deskscribe-{host}-{os.getpid()}-def"
    elsewhere = tmp_path / f"deskscribe-otherhost-{dead}-ghi"  # a shared directory: not this machine's to judge
    unrelated = tmp_path / "notes"
    for d in (live, elsewhere, unrelated):
        d.mkdir()
    assert sweep_leftovers(tmp_path, tmp_path / "missing") == 1
    assert not leftover.exists() and live.exists() and elsewhere.exists() and unrelated.exists()


def test_a_work_directory_is_named_for_its_process_and_removed_after_use(tmp_path: Path) -> None:
    with work_dir(tmp_path) as d:
        assert d.name.startswith(f"deskscribe-{_host()}-{os.getpid()}-")
        assert sweep_leftovers(tmp_path) == 0 and d.exists()  # alive: kept
    assert not d.exists()
