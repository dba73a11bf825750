"""The native messaging host: the browser starts it, and it relays between the extension and
the running recorder.

Chrome and Firefox frame each message as a 4-byte length in native byte order followed by
that many bytes of UTF-8 JSON. The host keeps nothing: it writes no file and never logs what
a message says, so a page the extension reports exists only inside the recorder, which checks
it against the policy before anything is kept.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from deskscribe.control import StreamClient, open_stream
from deskscribe.errors import ControlError, NativeMessageTooLarge, RecorderNotRunning

MAX_MESSAGE = 1024 * 1024  # Chrome's limit towards the browser; also our cap on what it sends
PROTOCOL = 1
HELLO = {"cmd": "browser", "v": PROTOCOL}
_HEADER = struct.Struct("=I")
_DISCARD_CHUNK = 65536


class Discarded(Enum):
    """Why a message from the browser was read but not used."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed"


def encode_message(obj: dict[str, Any]) -> bytes:
    """One native message; NativeMessageTooLarge rather than a frame the browser would reject."""
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_MESSAGE:
        raise NativeMessageTooLarge(f"a {len(body)}-byte message is over the {MAX_MESSAGE}-byte limit")
    return _HEADER.pack(len(body)) + body


def read_message(stream: BinaryIO, *, cap: int = MAX_MESSAGE) -> dict[str, Any] | Discarded | None:
    """The next message, why it was discarded, or None when the stream ends (or is cut short).

    A message over ``cap`` is read past in bounded chunks, so a hostile length costs no memory.
    """
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > cap:
        return Discarded.OVERSIZED if _skip(stream, length) else None
    body = _read_exactly(stream, length)
    if body is None:
        return None
    try:
        message = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return Discarded.MALFORMED
    return message if isinstance(message, dict) else Discarded.MALFORMED


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _skip(stream: BinaryIO, size: int) -> bool:
    left = size
    while left:
        chunk = stream.read(min(left, _DISCARD_CHUNK))
        if not chunk:
            return False
        left -= len(chunk)
    return True


class _Relay:
    """Both directions of one host run; whichever ends first ends the run."""

    def __init__(self, *, stdin: BinaryIO, stdout: BinaryIO, stream: StreamClient) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._stream = stream
        self._done = threading.Event()
        self.discarded = {reason: 0 for reason in Discarded}
        self.too_large = 0

    def run(self) -> None:
        for target in (self._to_recorder, self._to_browser):
            threading.Thread(target=self._until_done(target), daemon=True,
                             name=f"deskscribe-host-{target.__name__.strip('_')}").start()
        self._done.wait()
        self._stream.close()

    def _until_done(self, direction: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                direction()
            finally:
                self._done.set()
        return run

    def _to_recorder(self) -> None:
        while (message := read_message(self._stdin)) is not None:
            if isinstance(message, Discarded):
                self.discarded[message] += 1
            elif not self._stream.send(message):
                return

    def _to_browser(self) -> None:
        for message in self._stream.receive():
            try:
                frame = encode_message(message)
            except NativeMessageTooLarge:
                self.too_large += 1
                continue
            try:
                self._stdout.write(frame)
                self._stdout.flush()
            except (OSError, ValueError):  # the browser closed its end
                return


def run_host(*, stdin: BinaryIO, stdout: BinaryIO, control_path: Path, stderr: TextIO) -> int:
    """Relay until the extension disconnects or the recorder closes the stream; 1 without a recorder."""
    data_dir = control_path.parent
    try:
        stream = open_stream(control_path, HELLO)
    except RecorderNotRunning:
        stderr.write(f"deskscribe browser host: no recorder is running for {data_dir};"
                     " start one with deskscribe record\n")
        return 1
    except ControlError as exc:
        stderr.write(f"deskscribe browser host: the recorder for {data_dir} refused the browser: {exc}\n")
        return 1
    relay = _Relay(stdin=stdin, stdout=stdout, stream=stream)
    relay.run()
    counts = [f"{n} {reason.value}" for reason, n in relay.discarded.items() if n]
    counts += [f"{relay.too_large} over the size limit from the recorder"] if relay.too_large else []
    counts += [f"{stream.dropped} unreadable from the recorder"] if stream.dropped else []
    if counts:
        stderr.write(f"deskscribe browser host: messages discarded: {', '.join(counts)}\n")
    return 0
