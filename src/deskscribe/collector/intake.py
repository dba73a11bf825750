"""How long a request body may take to arrive, and what becomes of the connection when the
collector answers before the body has arrived.

The sizes a body may have are FastAPI's to enforce (``max_body_size`` on the app and on the
chunk route): it counts the bytes as they are read and answers 413 as soon as the cap is
passed, so an oversized body is never held in memory. What it does not do is close the
connection, and uvicorn then reads and discards the rest of the body for as long as the client
sends it. This middleware marks every answer given to a request whose body is still arriving
``Connection: close``, so the sender is cut off, and it cuts off a sender trickling its body:
each piece must arrive within ``read_timeout_s`` and the whole body within ``body_timeout_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_BYTES = 2 * 1024 * 1024  # the largest JSON body a route takes (a 10 000-entry consent ledger)
READ_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 120.0  # a 1 MiB upload chunk at 9 KiB/s
CLOSE = (b"connection", b"close")
# Starlette's body limit answers 413 in plain text; every refusal of this API says why in JSON.
TOO_LARGE = (b'{"detail":"the request body is larger than this route takes'
             b' (a chunk: 8 MiB, anything else: 2 MiB)"}')



@dataclass(frozen=True)
class Deadlines:
    """How patient the collector is with a request body."""

    read_timeout_s: float = READ_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S


class Intake:
    """ASGI middleware: slow bodies are refused with 408, and an answer that leaves part of a
    body unread closes the connection."""

    def __init__(self, app: ASGIApp, *, deadlines: Deadlines) -> None:
        self.app = app
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _Body(receive, self.deadlines, pending=_has_body(Headers(scope=scope)))
        plain_refusal = False

        async def answer(message: Message) -> None:
            nonlocal plain_refusal
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if message["status"] == 413 and not _is_json(headers):
                    plain_refusal = True
                    headers = [(k, v) for k, v in headers
                               if k.lower() not in (b"content-type", b"content-length")]
                    headers += [(b"content-type", b"application/json"),
                                (b"content-length", str(len(TOO_LARGE)).encode())]
                if body.pending:
                    headers.append(CLOSE)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and plain_refusal:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": TOO_LARGE}
            await send(message)

        try:
            await self.app(scope, body.receive, answer)
        except ClientDisconnect:
            return  # the sender went away: there is no one to answer


class _Body:
    """The request body's messages, each awaited no longer than the deadlines allow."""

    def __init__(self, receive: Receive, deadlines: Deadlines, *, pending: bool) -> None:
        self._receive = receive
        self._deadlines = deadlines
        self._ends_at = anyio.current_time() + deadlines.body_timeout_s
        self.pending = pending

    async def receive(self) -> Message:
        if not self.pending:
            return await self._receive()
        wait = min(self._deadlines.read_timeout_s, self._ends_at - anyio.current_time())
        with anyio.move_on_after(max(wait, 0.0)) as waited:
            message = await self._receive()
        if waited.cancelled_caught:
            raise HTTPException(408, detail="the request body arrived too slowly; send it again")
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.pending = False
        return message


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in headers)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")
