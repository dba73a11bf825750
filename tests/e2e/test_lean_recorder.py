"""The recorder that runs all day is its own lean process: `record` hands over to it by exec,
so the PID a contributor started keeps recording without the rest of the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RecorderProcess, deskscribe

pytestmark = pytest.mark.slow


def loaded(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_recorder_holds_no_command_line_parser_models(recorder: RecorderProcess) -> None:
    recorder.start()
    assert recorder.proc is not None
    cmdline = Path(f"/proc/{recorder.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"deskscribe.cli.recording" in cmdline  # the same PID became the recorder
    assert "pydantic_core" not in loaded(recorder.proc.pid)
    out = recorder.stop()
    assert "sealed session" in out


def test_a_bad_option_is_refused_before_the_hand_over() -> None:
    out = deskscribe("record", "--duration", "soon", check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Invalid value for '--duration'" in out.stderr
