"""The contributor's review app: every session, episode and screenshot as it would be shared,
and the changes review allows (the same rules as `deskscribe review`, from
:mod:`deskscribe.web.changes`), served on the loopback to the browser that opened the
printed link (:mod:`deskscribe.web.guard`)."""

from __future__ import annotations

import html
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from deskscribe.datadir import DataDir
from deskscribe.errors import DeskscribeError, StoreError
from deskscribe.outbox import Outbox
from deskscribe.redact.text import Redacted
from deskscribe.web.guard import COOKIE, CSRF_FIELD, CSRF_HEADER, Guard, host_allowed
from deskscribe.web.images import Screenshots
from deskscribe.web.uploads import Send, Uploads
from deskscribe.web.viewer import STATIC_DIR, templates

CSP = "default-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'"
OPEN = ("/login", "/static/")  # reachable without the session cookie (still only on the right Host)


@dataclass
class ReviewContext:
    """Everything the routes share; built once by :func:`create_app`."""

    datadir: DataDir
    outbox: Outbox
    guard: Guard
    host: str
    scan: Callable[[str], Redacted]
    uploads: Uploads
    screenshots: Screenshots
    lock: threading.RLock = field(default_factory=threading.RLock)  # one change at a time
    flashes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def flash(self, request: Request, kind: str, text: str) -> None:
        self.flashes.setdefault(request.cookies.get(COOKIE, ""), []).append((kind, text))

    def take_flashes(self, request: Request) -> list[tuple[str, str]]:
        return self.flashes.pop(request.cookies.get(COOKIE, ""), [])

    def version(self, session_id: str) -> str:
        return session_version(self.datadir, session_id)


def session_version(datadir: DataDir, session_id: str) -> str:
    """Changes whenever review rewrites the session file, so no page shows old pixels."""
    try:
        st = datadir.path_of(session_id).stat()
    except FileNotFoundError:
        raise StoreError(f"no session {session_id}; see `deskscribe sessions list`") from None
    return f"{st.st_size:x}{st.st_mtime_ns:x}"


def _refusal(status: int, text: str) -> Response:
    return HTMLResponse(f"<!doctype html><html lang=en><head><title>Refused - deskscribe</title>"
                        '<link rel="stylesheet" href="/static/base.css"></head>'
                        f"<body><main><h1>Refused</h1><p>{html.escape(text)}</p></main></body></html>",
                        status_code=status)


def _guard_middleware(ctx: ReviewContext) -> Callable[[Request, Callable[[Request], Awaitable[Response]]],
                                                      Awaitable[Response]]:
    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not host_allowed(request.headers.get("host"), ctx.host):
            return _refusal(421, f"This page is served only at http://{ctx.host}/.")
        path = request.url.path
        if not path.startswith(OPEN) and not ctx.guard.signed_in(request.cookies.get(COOKIE)):
            return _refusal(401, "Open the link `deskscribe review --web` printed; each link"
                                 " works once, so start it again if this browser lost its session.")
        if request.method not in ("GET", "HEAD"):
            token = request.headers.get(CSRF_HEADER)
            if token is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                await request.body()  # kept, so the route reads the same form again
                token = str((await request.form()).get(CSRF_FIELD) or "") or None
            if not ctx.guard.csrf_ok(request.cookies.get(COOKIE), token):
                return _refusal(403, "This change did not come from a review page (missing or wrong"
                                     " form token); reload the page and try again.")
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not path.startswith("/static/"):  # decrypted pixels and text stay out of the browser's disk cache
            response.headers["Cache-Control"] = "no-store"
        return response

    return check


def create_app(*, datadir: DataDir, outbox: Outbox, guard: Guard, host: str,
               scan: Callable[[str], Redacted], send: Send) -> FastAPI:
    """``host`` is the ``name:port`` the printed URL names; ``scan`` redacts an instruction
    like the policy redacts titles; ``send`` uploads one approved session with progress."""
    shots = Screenshots(open_session=datadir.open, version=lambda sid: session_version(datadir, sid))
    ctx = ReviewContext(datadir=datadir, outbox=outbox, guard=guard, host=host, scan=scan,
                        uploads=Uploads(send=send, on_done=shots.forget), screenshots=shots)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = ctx
    app.middleware("http")(_guard_middleware(ctx))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, exc: RequestValidationError) -> Response:
        where = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return _refusal(400, f"The request was not understood (check: {where}); nothing was changed.")

    @app.exception_handler(StoreError)
    async def no_session(request: Request, exc: StoreError) -> Response:
        return _refusal(404, str(exc))

    @app.exception_handler(DeskscribeError)
    async def cannot(request: Request, exc: DeskscribeError) -> Response:
        return _refusal(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        text = "There is no such page here." if exc.status_code == 404 else str(exc.detail)
        return _refusal(exc.status_code, text)

    from deskscribe.web import review_pages

    review_pages.add_routes(app, ctx)
    return app


def render(ctx: ReviewContext, request: Request, name: str, *, status: int = 200, **values: Any) -> Response:
    session = request.cookies.get(COOKIE, "")
    signed_in = ctx.guard.signed_in(session)
    return TEMPLATES.TemplateResponse(request, name, {
        "csrf_token": ctx.guard.csrf_for(session) if signed_in else "", "signed_in": signed_in,
        "flashes": ctx.take_flashes(request), **values}, status_code=status)


def back(ctx: ReviewContext, request: Request, url: str, run: Callable[[], str]) -> Response:
    """Run a change; its one-line outcome (or refusal) is shown on the page it returns to."""
    try:
        with ctx.lock:
            ctx.flash(request, "ok", run())
    except DeskscribeError as exc:
        ctx.flash(request, "error", str(exc))
    return RedirectResponse(url, status_code=303)


TEMPLATES = templates()
