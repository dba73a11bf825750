"""Dataset figures, checked against a small build counted by hand, in both formats stats reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.stats import build_format, read_stats
from deskscribe.keystore import FileKeyBackend
from tests.dataset.scripted import click, focus, frame, key, marker, record, redacted_text, target
from tests.support import one_line_error, run

RELEASE = Release(key=b"a fixed key for a stable split draw")


def mail_session(dd: DataDir) -> str:
    """One task in a designated web mail: a click on a button it reported, then a reply whose
    address the recorder replaced. Three steps with the terminate."""
    return record(dd, [
        *focus(0, "Firefox", "Inbox", "https://mail.example.org/inbox"), *frame(50),
        *marker(100, "task_start", instruction="Reply to the note"),
        *click(200, 100, 100), *target(210, [90, 90, 50, 50]),
        *frame(1000), *redacted_text(1100, "hi <EMAIL_ADDRESS>", ["EMAIL_ADDRESS"]),
        *marker(2000, "task_end", status="success"),
    ], contributor="alice", screen=(1000, 500))


def shell_session(dd: DataDir) -> str:
    """No tasks: split at the excluded gap into a click and Enter whose screenshot the recorder
    dropped (three steps), and a click (two steps). The scroll that moved nothing is no step."""
    return record(dd, [
        *focus(0, "XTerm", "shell"), *frame(50),
        *click(100, 10, 10), (500, "scroll", {"x": 10, "y": 10, "dx": 0, "dy": 0}), *key(700, "enter"),
        *marker(1000, "excluded", duration_ms=50), *frame(1100), *click(1200, 20, 20),
    ], contributor="bob", screen=(800, 600), dropped={1})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("stats")
    dd = DataDir(root=tmp / "d", key_backend=FileKeyBackend(path=tmp / "d" / "key"))
    ids = [mail_session(dd), shell_session(dd)]
    out = {}
    for fmt in ("jsonl", "hf"):
        out[fmt] = tmp / fmt
        build_dataset(open_session=dd.open, session_ids=ids, exporter=open_exporter(fmt, out=out[fmt]),
                      release=RELEASE, fmt=fmt)
    return out


def hand_count() -> dict[str, Any]:
    splits: dict[str, int] = {}
    for person, episodes in (("alice", 1), ("bob", 2)):
        split = RELEASE.split(RELEASE.pseudonym("contributor", person))
        splits[split] = splits.get(split, 0) + episodes
    return {
        "episodes": 3, "steps": 8,
        "steps_per_episode": {"mean": 2.67, "median": 3.0, "max": 3.0},
        "actions": {"click": 3, "terminate": 3, "key": 1, "type": 1},
        "apps": {"XTerm": 5, "Firefox": 3}, "sites": {"mail.example.org": 3},
        "screens": {"800x600": 2, "1000x500": 1},
        "targets": {"steps": 1, "of_steps": 5, "share": 0.2},
        "redactions": {"episodes": 1, "steps": 1, "placeholders": {"EMAIL_ADDRESS": 1}},
        "flags": {"frames_dropped": 1, "redacted": 1},
        "instruction_sources": {"none": 2, "task_start": 1},
        "splits": dict(sorted(splits.items(), key=lambda kv: (-kv[1], kv[0]))),
        "contributors": "fewer than 10",
    }


@pytest.mark.parametrize("fmt", ["jsonl", "hf"])
def test_figures_read_back_from_a_build_match_the_hand_count(built: dict[str, Path], fmt: str) -> None:
    assert build_format(built[fmt]) == fmt
    assert read_stats(built[fmt]).to_json() == hand_count()


@pytest.mark.parametrize("fmt", ["jsonl", "hf"])
def test_the_command_prints_the_same_figures_and_the_card_carries_them(built: dict[str, Path], fmt: str) -> None:
    out = run("stats", str(built[fmt]), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == hand_count()
    table = run("stats", str(built[fmt]), env_extra={"COLUMNS": "150"})
    assert table.returncode == 0, table.stderr
    assert "steps per episode (mean / median / max)" in table.stdout and "2.67 / 3 / 3" in table.stdout
    assert "fewer than 10" in table.stdout and "mail.example.org" in table.stdout
    card = (built[fmt] / "README.md").read_text()
    for line in ("| episodes | 3 |", "| steps | 8 |", "| steps per episode (mean / median / max) | 2.67 / 3 / 3 |",
                 "| steps with a target, of the 5 not `terminate` | 1 (20.0%) |",
                 "| episodes with redacted content | 1 |", "| contributors | fewer than 10 |",
                 "| XTerm | 5 | 62.5% |", "| 800x600 | 2 | 66.7% |", "| frames_dropped | 1 | 33.3% |"):
        assert line in card, line


def test_episodes_are_flagged_in_every_record(built: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    steps = [json.loads(line) for line in (built["jsonl"] / "steps.jsonl").read_text().splitlines()]
    by_episode = {s["episode_id"]: (s["instruction"], s["instruction_source"], s["flags"]) for s in steps}
    assert sorted(by_episode.values()) == [("", None, []), ("", None, ["frames_dropped"]),
                                           ("Reply to the note", "task_start", ["redacted"])]
    table = pq.read_table(sorted((built["hf"] / "data").glob("*.parquet")), columns=["instruction_source", "flags"])
    assert sorted(map(tuple, table.column("flags").to_pylist())) == sorted(tuple(s["flags"]) for s in steps)
    assert sorted(table.column("instruction_source").to_pylist(), key=str) == \
        sorted((s["instruction_source"] for s in steps), key=str)


def test_contributors_are_counted_only_from_ten(tmp_path: Path) -> None:
    dd = DataDir(root=tmp_path / "d", key_backend=FileKeyBackend(path=tmp_path / "d" / "key"))
    ids = [record(dd, click(100, 5, 5), contributor=f"person-{i}") for i in range(10)]
    for n, want in ((9, "fewer than 10"), (10, 10)):
        out = tmp_path / f"out{n}"
        build_dataset(open_session=dd.open, session_ids=ids[:n], exporter=open_exporter("jsonl", out=out),
                      release=RELEASE, fmt="jsonl")
        assert read_stats(out).to_json()["contributors"] == want
        assert f"| contributors | {want} |" in (out / "README.md").read_text()


def test_a_directory_that_is_no_build_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "chat.jsonl").write_text("{}\n")
    one_line_error(run("stats", str(tmp_path)), "is not a jsonl or hf build")
    one_line_error(run("stats", str(tmp_path / "missing")), "is not a jsonl or hf build")
    (tmp_path / "steps.jsonl").write_text('{"episode_id": "e"}\n')
    one_line_error(run("stats", str(tmp_path)), "steps.jsonl:1 is not a step record")
