"""A built dataset's steps, read back from its own files (``jsonl`` or ``hf``), grouped into
episodes for the browser. Pure: the caller hands in decrypted bytes, nothing touches disk."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deskscribe.errors import Invalid


@dataclass(frozen=True, slots=True)
class StepRow:
    episode_id: str
    step: int
    instruction: str | None
    app: str | None
    action: dict[str, Any]
    target: dict[str, Any] | None
    width: int
    height: int
    image: str | None  # jsonl: the file under images/; hf: None (the bytes are in the row)
    image_bytes: bytes | None


@dataclass(frozen=True, slots=True)
class Episode:
    episode_id: str
    instruction: str | None
    app: str | None
    steps: tuple[StepRow, ...]


def jsonl_rows(data: bytes) -> list[StepRow]:
    rows = []
    for n, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError:
            raise Invalid(f"steps.jsonl line {n} is not JSON; rebuild the dataset") from None
        screen = r.get("screen") or {}
        rows.append(StepRow(episode_id=str(r["episode_id"]), step=int(r["step"]),
                            instruction=r.get("instruction"), app=r.get("app"),
                            action=dict(r.get("action") or {}), target=r.get("target"),
                            width=int(screen.get("w") or 0), height=int(screen.get("h") or 0),
                            image=r.get("image"), image_bytes=None))
    return rows


def hf_rows(shards: Iterable[bytes]) -> list[StepRow]:
    import pyarrow.parquet as pq

    rows = []
    for shard in shards:
        for r in pq.read_table(io.BytesIO(shard)).to_pylist():
            image = r.get("image") or {}
            rows.append(StepRow(episode_id=str(r["episode_id"]), step=int(r["step"]),
                                instruction=r.get("instruction"), app=r.get("app"),
                                action={k: v for k, v in (r.get("action") or {}).items() if v is not None},
                                target=r.get("target"), width=int(r.get("screen_w") or 0),
                                height=int(r.get("screen_h") or 0), image=None,
                                image_bytes=image.get("bytes")))
    return rows


def read_rows(fmt: str, files: list[str], read: Callable[[str], bytes]) -> list[StepRow]:
    """Every step of a build, from the files its format writes steps to."""
    if fmt == "jsonl":
        return jsonl_rows(read("steps.jsonl")) if "steps.jsonl" in files else []
    if fmt == "hf":
        return hf_rows(read(name) for name in files if name.startswith("data/") and name.endswith(".parquet"))
    raise Invalid(f"the episode browser reads jsonl and hf builds; this one is {fmt}")


def episodes(rows: Iterable[StepRow]) -> list[Episode]:
    """Episodes in the order the build wrote them, each with its steps in order."""
    grouped: dict[str, list[StepRow]] = {}
    for r in rows:
        grouped.setdefault(r.episode_id, []).append(r)
    out = []
    for eid, steps in grouped.items():
        steps.sort(key=lambda s: s.step)
        out.append(Episode(episode_id=eid, instruction=steps[0].instruction, app=steps[0].app,
                           steps=tuple(steps)))
    return out
