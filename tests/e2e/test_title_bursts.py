"""A typing burst belongs to the field, not to the title: an editor that marks its document
modified in the title while the person types must not split what they typed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.conftest import RecorderProcess, deskscribe

POLICY = """
version = "title-bursts-1"
designated_apps = ["Mousepad"]
screenshot_interval_s = 5
"""


def test_a_title_change_caused_by_typing_keeps_the_burst_whole(vd: VirtualDisplay, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    editor = vd.spawn(["mousepad", str(doc)])
    rec = RecorderProcess(vd=vd, data_dir=tmp_path / "data", policy=policy)
    try:
        window = vd.wait_window(name="notes.txt")
        vd.activate(window)
        time.sleep(0.5)
        rec.start()
        vd.xdotool("type", "--delay", "40", "Quarterly figures")
        time.sleep(0.5)
        vd.xdotool("key", "Return")
        time.sleep(1.0)
        rec.stop()
    finally:
        rec.kill()
        editor.kill()
        editor.wait()
    titles = [e["title"] for e in rec.dump() if e["kind"] == "focus"]
    assert any(str(t).startswith("*") for t in titles), titles  # the editor did retitle itself
    out = tmp_path / "steps"
    deskscribe("build", "--format", "jsonl", "--out", str(out), "--data-dir", str(rec.data_dir))
    actions = [json.loads(line)["action"] for line in (out / "steps.jsonl").read_text().splitlines()]
    typed = [a for a in actions if a["type"] == "type"]
    assert typed and typed[0]["text"] == "Quarterly figures", actions
