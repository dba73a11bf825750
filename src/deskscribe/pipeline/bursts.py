"""The typing stage: a burst is held in memory until it ends, then scanned and written.

While a burst is held every other event waits behind it, so the session keeps input order and
nothing typed reaches the writer unscanned. A burst is secure when the window is a password
prompt by app or title, when a context source saw a secret field focused since it began, or
when the screen showed a password prompt it answers (the frame stage reads that line).
"""

from __future__ import annotations

from deskscribe import events as ev
from deskscribe.pipeline.contexts import Contexts
from deskscribe.pipeline.gate import Gate
from deskscribe.policy import Policy
from deskscribe.redact.keystrokes import Scanner, TypingGuard
from deskscribe.redact.stage import FrameStage
from deskscribe.redact.text import MASKED, PASSWORD
from deskscribe.store import SessionWriter

# How long a burst waits for the OCR of the prompt it may answer. The first frame of a session
# is read whole, which takes a second or two on a busy machine; input waits in the inbox.
PROMPT_WAIT_S = 5.0
IDLE_RELEASE_NS = 3_000_000_000  # a typing burst is scanned and written after this much quiet


class TypingStage:
    def __init__(self, *, scanner: Scanner, policy: Policy, stage: FrameStage, writer: SessionWriter,
                 contexts: Contexts, gate: Gate, t0_ns: int) -> None:
        self.guard = TypingGuard(scanner=scanner, secure_commands=frozenset(policy.secure_commands),
                                 synthetic=policy.synthetic_values, on_redacted=stage.add_known)
        self._stage = stage
        self._writer = writer
        self._contexts = contexts
        self._gate = gate
        self._t0 = t0_ns
        self.prompt_frame: int | None = None  # the frame that shows what the next burst answers

    @property
    def held(self) -> bool:
        return bool(self.guard.held)

    @property
    def redacted(self) -> int:
        return self.guard.stats_redacted

    @property
    def password_pending(self) -> bool:
        """A burst is held that is expected to be a password: no frame until it is scanned."""
        return self.held and not self.guard.idle_flush_allowed

    def emit(self, e: ev.Event) -> None:
        """Write ``e``, or keep it in order behind the open burst."""
        if self.guard.held:
            self.guard.hold(e)
        else:
            self._writer.add_event(e)

    def hold(self, e: ev.Event) -> None:
        self.guard.hold(e)

    def idle_due_ns(self, last_key_ns: int) -> int | None:
        """When the held burst is released for quiet, or None when it must wait for its end."""
        if self.guard.held and self.guard.idle_flush_allowed:
            return last_key_ns + IDLE_RELEASE_NS
        return None

    def due(self, now_ns: int, last_key_ns: int) -> bool:
        idle = self.idle_due_ns(last_key_ns)
        return bool(self.guard.held) and ((idle is not None and now_ns >= idle) or self.guard.too_long())

    def new_window(self) -> None:
        self.guard.new_window()
        self.prompt_frame = None

    def release(self, *, enter: bool = False, keep_line: bool = False) -> None:
        """End the burst: scan it and hand the result to the writer. Only a pause in typing
        (``keep_line``) leaves the field's text as context for the next burst."""
        first = next((e.t_ns for e in self.guard.held if e.kind == ev.KEY_DOWN), None)
        secret = self._gate.secure_window or (
            first is not None and self._contexts.secret_since(first + self._t0))
        masked = not secret and first is not None and self._contexts.masked_since(first + self._t0)
        secure = secret or masked
        if self.prompt_frame is not None and first is not None and not secure \
                and not self.guard.secret_expected:
            shown = self._stage.prompt_shown(self.prompt_frame, PROMPT_WAIT_S)
            self.prompt_frame = None
            if shown is not False:  # a prompt, or no answer in time: the line is a password
                self.guard.secret_lines = max(self.guard.secret_lines, 1)
        for e in self.guard.flush(enter=enter, secure_window=secure, keep_line=keep_line,
                                  placeholder=MASKED if masked else PASSWORD):
            self._writer.add_event(e)
