"""Giving episodes their instructions in review: set, corrected, scanned like titles, kept
across processes and step deletions, refused once the session is approved, and marked as given
in review in every export."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from deskscribe.datadir import DataDir
from deskscribe.keystore import FileKeyBackend
from deskscribe.outbox import Outbox
from tests.dataset.scripted import click, focus, marker, record
from tests.support import one_line_error, run


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A session without tasks (two episodes, split at an excluded gap; the first has two
    clicks) and one with a task, and a policy whose deny list names a project."""
    root = tmp_path / "d"
    dd = DataDir(root=root, key_backend=FileKeyBackend(path=root / "contributor.key"))
    plain = record(dd, [*focus(0, "XTerm", "shell"), *click(100, 10, 10), *click(900, 30, 10),
                        *marker(1500, "excluded", duration_ms=20), *click(2000, 50, 10)], contributor=dd.contributor_id)
    task = record(dd, [*focus(0, "XTerm", "shell"), *marker(50, "task_start", instruction="Rename the file"),
                       *click(100, 10, 10), *marker(500, "task_end", status="success")], contributor=dd.contributor_id)
    policy = tmp_path / "policy.toml"
    policy.write_text('designated_apps = ["XTerm"]\ndeny_list = ["Project Falcon"]\n')
    return root, policy, plain, task


def episodes_shown(root: Path, sid: str) -> list[list[str]]:
    """`review show`'s episode lines, as (number, steps, instruction)."""
    out = run("review", "show", sid, "--data-dir", str(root)).stdout
    lines = out.split("EPISODE TEXT`):\n", 1)[1].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def annotate(root: Path, policy: Path, *args: str) -> str:
    out = run("review", "annotate", *args, "--policy", str(policy), "--data-dir", str(root))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_set_correct_scan_and_export(data: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    root, policy, plain, task = data
    db = root / "sessions" / f"{plain}.db"
    sealed = hashlib.sha256(db.read_bytes()).hexdigest()
    listing = run("review", "--data-dir", str(root), env_extra={"COLUMNS": "200"}).stdout
    assert "2 (2 without instruction)" in listing
    assert "2 episodes" in run("review", "show", plain, "--data-dir", str(root)).stdout
    assert episodes_shown(root, plain) == [["1", "steps 1-2", "no instruction"], ["2", "step 3", "no instruction"]]

    said = annotate(root, policy, plain, "1", "Open the  two logs")
    assert f"episode 1 of {plain}: instruction set to 'Open the two logs'" in said
    said = annotate(root, policy, plain, "1", "Compare the two logs")
    assert "changed from 'Open the two logs' to 'Compare the two logs'" in said
    said = annotate(root, policy, plain, "2", "Mail bob.smith@example.com about Project Falcon")
    assert "'Mail <EMAIL_ADDRESS> about <NAME>' (replaced: EMAIL_ADDRESS, NAME)" in said

    assert hashlib.sha256(db.read_bytes()).hexdigest() == sealed  # the sealed session is untouched
    at_rest = b"".join(p.read_bytes() for p in (root / "sessions").iterdir())
    assert b"Compare" not in at_rest and b"<EMAIL_ADDRESS>" not in at_rest and b"bob.smith" not in at_rest
    assert episodes_shown(root, plain) == [  # a new process reads them back
        ["1", "steps 1-2", "'Compare the two logs' (given in review)"],
        ["2", "step 3", "'Mail <EMAIL_ADDRESS> about <NAME>' (given in review)"]]
    assert episodes_shown(root, task) == [["1", "step 1", "'Rename the file' (from task start)"]]

    dropped = run("review", "drop", plain, "1", "--data-dir", str(root))  # the episode's first click
    assert dropped.returncode == 0, dropped.stderr
    assert episodes_shown(root, plain)[0] == ["1", "step 1", "'Compare the two logs' (given in review)"]

    want = {("Compare the two logs", "review", ()), ("Mail <EMAIL_ADDRESS> about <NAME>", "review", ("redacted",)),
            ("Rename the file", "task_start", ())}
    for fmt in ("jsonl", "hf"):
        out = tmp_path / fmt
        built = run("build", "--data-dir", str(root), "--out", str(out), "--format", fmt)
        assert built.returncode == 0, built.stderr
        if fmt == "jsonl":
            rows = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
        else:
            rows = pq.read_table(sorted((out / "data").glob("*.parquet")),
                                 columns=["instruction", "instruction_source", "flags"]).to_pylist()
        assert {(r["instruction"], r["instruction_source"], tuple(r["flags"])) for r in rows} == want
        text = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
        assert b"bob.smith" not in text and b"Falcon" not in text


def test_refused_once_approved_or_uploaded_and_for_bad_input(data: tuple[Path, Path, str, str]) -> None:
    root, policy, plain, task = data

    def refused(*args: str) -> str:
        out = run("review", "annotate", *args, "--policy", str(policy), "--data-dir", str(root))
        one_line_error(out, "")
        return out.stderr

    assert "no episode 3: session" in refused(plain, "3", "Do it") and "has episodes 1-2" in refused(plain, "3", "x")
    assert "no episode 0" in refused(plain, "0", "Do it")
    assert "no session abcdef123456" in refused("abcdef123456", "1", "Do it")
    assert "the instruction is empty" in refused(plain, "1", "   ")
    run("review", "approve", plain, "--data-dir", str(root))
    assert "already approved" in refused(plain, "1", "Compare the two logs")
    Outbox(root=root).mark_uploaded(task)
    Outbox(root=root).approve(task)
    assert "already uploaded" in refused(task, "1", "Rename it")
    assert [e[2] for e in episodes_shown(root, plain)] == ["no instruction"] * 2  # nothing was stored


def test_an_outcome_is_corrected_keeping_the_instruction_and_reaches_the_export(
        data: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    root, policy, _, task = data
    said = annotate(root, policy, task, "1", "--outcome", "fail")
    assert f"episode 1 of {task}: outcome fail (was success)" in said
    assert episodes_shown(root, task) == [["1", "step 1", "'Rename the file' (from task start)"]]
    said = annotate(root, policy, task, "1", "Rename the report")  # a later instruction keeps the outcome
    assert "instruction changed from 'Rename the file' to 'Rename the report'" in said
    out = tmp_path / "out"
    built = run("build", task, "--data-dir", str(root), "--out", str(out), "--format", "jsonl")
    assert built.returncode == 0, built.stderr
    rows = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert rows[-1]["action"]["type"] == "terminate" and rows[-1]["action"]["status"] == "fail"
    assert {r["instruction"] for r in rows} == {"Rename the report"}

    wrong = run("review", "annotate", task, "1", "--outcome", "maybe", "--policy", str(policy), "--data-dir", str(root))
    one_line_error(wrong, "success or fail")
    empty = run("review", "annotate", task, "1", "--policy", str(policy), "--data-dir", str(root))
    one_line_error(empty, "instruction is empty")
