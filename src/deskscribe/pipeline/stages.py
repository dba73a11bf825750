"""The pipeline's stages, built once per session and shared by the flows that drive them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskscribe import events as ev
from deskscribe.capture.base import Leaf
from deskscribe.pipeline.bursts import TypingStage
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.frame_schedule import FrameScheduler
from deskscribe.pipeline.framer import Framer
from deskscribe.pipeline.gate import Gate
from deskscribe.pipeline.input_map import InputMapper
from deskscribe.pipeline.titles import TitleCleaner
from deskscribe.policy import Policy


@dataclass(slots=True)
class Counts:
    inputs_excluded: int = 0
    inputs_paused: int = 0


@dataclass(slots=True)
class Stages:
    leaf: Leaf
    policy: Policy
    gate: Gate
    input_map: InputMapper
    schedule: FrameScheduler
    typing: TypingStage
    frames: Framer
    titles: TitleCleaner
    contexts: Contexts
    counts: Counts

    def emit(self, t_ns: int, kind: str, data: dict[str, Any]) -> None:
        """Every event goes through the typing stage, which keeps it behind an open burst."""
        self.typing.emit(ev.Event(t_ns=t_ns, kind=kind, data=data))
