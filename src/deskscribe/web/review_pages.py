"""The review app's routes: pages that show (GET) and changes (POST, guarded by CSRF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from deskscribe.dataset.build import UNREADABLE, screen_size, unreadable
from deskscribe.dataset.episodes import Episode
from deskscribe.dataset.preview import session_actions
from deskscribe.errors import StoreError, UserError
from deskscribe.web import changes
from deskscribe.web.blackout import box_from_fractions
from deskscribe.web.guard import COOKIE, cookie_header
from deskscribe.web.review_app import ReviewContext, back, render
from deskscribe.web.summary import (
    EpisodeRow,
    SessionRow,
    action_numbers,
    episode_rows,
    episode_steps,
    session_row,
)

SOURCES = {"task_start": "from task start", "review": "given in review"}


def count(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else noun + 's'}"


@dataclass(frozen=True, slots=True)
class Loaded:
    row: SessionRow
    episodes: list[Episode]
    rows: list[EpisodeRow]
    numbers: dict[int, int]
    screen: tuple[int, int]


def load(ctx: ReviewContext, session_id: str) -> Loaded:
    info = ctx.datadir.info(session_id)
    if info.error:
        raise StoreError(info.error)
    with ctx.datadir.open(session_id) as reader:
        events = list(reader.iter_events())
        actions, apps = session_actions(reader, events)
        episodes = changes.episodes_of(reader, events)
        meta = reader.meta
    numbers = action_numbers(actions)
    row = session_row(info, changes.state(ctx.outbox, session_id), events, actions, apps, episodes,
                      dict(meta.extra))
    return Loaded(row, episodes, episode_rows(episodes, numbers), numbers, screen_size(meta))


def add_routes(app: FastAPI, ctx: ReviewContext) -> None:
    @app.get("/login")
    def login(request: Request, token: str | None = None) -> Response:
        session = ctx.guard.exchange(token)
        if session is None:
            return render(ctx, request, "refused.html", status=403, reason=(
                "This link was already used or is not the one printed. Each link opens one browser"
                " session; run `deskscribe review --web` again for a new one."))
        response = RedirectResponse("/", status_code=303)
        response.headers["set-cookie"] = cookie_header(session)
        return response

    @app.get("/")
    def index(request: Request) -> Response:
        rows, broken = [], []
        for info in ctx.datadir.sessions():
            if not info.sealed or info.error:
                broken.append((info.session_id, info.error or "still recording or cut off"))
                continue
            try:
                rows.append(load(ctx, info.session_id).row)
            except UNREADABLE as exc:  # one damaged file does not hide the others
                broken.append((info.session_id, unreadable(exc)))
        return render(ctx, request, "sessions.html", sessions=rows, broken=broken)

    @app.get("/sessions/{session_id}")
    def session_page(request: Request, session_id: str) -> Response:
        got = load(ctx, session_id)
        return render(ctx, request, "session.html", s=got.row, episodes=got.rows, sources=SOURCES,
                      upload=ctx.uploads.state(session_id))

    @app.get("/sessions/{session_id}/episodes/{number}")
    def episode_page(request: Request, session_id: str, number: int) -> Response:
        got = load(ctx, session_id)
        if not 1 <= number <= len(got.episodes):
            return render(ctx, request, "refused.html", status=404,
                          reason=f"session {session_id} has no episode {number}")
        steps = episode_steps(session_id, ctx.version(session_id), got.episodes[number - 1], got.numbers,
                              got.screen)
        return render(ctx, request, "episode.html", s=got.row, ep=got.rows[number - 1], steps=steps,
                      episodes=len(got.episodes), sources=SOURCES)

    @app.get("/sessions/{session_id}/frames/{frame_id}.png")
    def frame_png(session_id: str, frame_id: int) -> Response:
        return _image(ctx.screenshots.png(session_id, frame_id), "image/png")

    @app.get("/sessions/{session_id}/frames/{frame_id}.webp")
    def frame_thumb(session_id: str, frame_id: int) -> Response:
        return _image(ctx.screenshots.thumb(session_id, frame_id), "image/webp")

    @app.get("/sessions/{session_id}/upload")
    def upload_page(request: Request, session_id: str) -> Response:
        got = load(ctx, session_id)
        return render(ctx, request, "upload.html", s=got.row, upload=ctx.uploads.state(session_id))

    @app.get("/sessions/{session_id}/upload.json")
    def upload_state(session_id: str) -> Response:
        state = ctx.uploads.state(session_id)
        return JSONResponse(state.to_json() if state else {"session_id": session_id, "status": "none"})

    _add_changes(app, ctx)


def _image(data: bytes, media_type: str) -> Response:
    return Response(data, media_type=media_type)


def _add_changes(app: FastAPI, ctx: ReviewContext) -> None:
    def session_url(session_id: str) -> str:
        ctx.datadir.path_of(session_id)  # a session id, not a path to elsewhere
        return f"/sessions/{session_id}"

    def reapproved(changed: changes.Changed) -> str:
        return "; it was approved, so it needs approving again" if changed.reapprove else ""

    @app.post("/sessions/{session_id}/drop")
    def drop(request: Request, session_id: str, step: Annotated[int, Form()],
             episode: Annotated[int, Form()]) -> Response:
        def run() -> str:
            ctx.screenshots.forget(session_id)
            done = changes.drop_steps(ctx.datadir, ctx.outbox, session_id, [step])
            return (f"deleted step {step}: {count(done.events, 'event')} and"
                    f" {count(done.frames, 'screenshot')}{reapproved(done)}")
        return back(ctx, request, f"{session_url(session_id)}/episodes/{episode}?step={step}", run)

    @app.post("/sessions/{session_id}/blackout")
    def blackout(request: Request, session_id: str, episode: Annotated[int, Form()],
                 position: Annotated[int, Form()], x0: Annotated[float, Form()], y0: Annotated[float, Form()],
                 x1: Annotated[float, Form()], y1: Annotated[float, Form()], step: Annotated[int, Form()] = 0,
                 everywhere: Annotated[bool, Form()] = False) -> Response:
        def run() -> str:
            got = load(ctx, session_id)
            steps = got.episodes[episode - 1].steps if 1 <= episode <= len(got.episodes) else []
            if not 0 <= position < len(steps):
                raise UserError("that step is no longer there; reload the page")
            frame_id = steps[position].frame_id
            if frame_id is None:
                raise UserError("this step has no screenshot to black out")
            area = box_from_fractions(x0 / 100, y0 / 100, x1 / 100, y1 / 100, *got.screen)
            ctx.screenshots.forget(session_id)
            done = changes.black_out(ctx.datadir, ctx.outbox, session_id, frame_id, area,
                                     everywhere=everywhere)
            return (f"blacked out {area.width}x{area.height} pixels in {count(done.frames, 'screenshot')}"
                    f"{reapproved(done)}")
        return back(ctx, request, f"{session_url(session_id)}/episodes/{episode}?step={step}", run)

    @app.post("/sessions/{session_id}/episodes/{number}/instruction")
    def instruction(request: Request, session_id: str, number: int,
                    text: Annotated[str, Form()] = "",
                    outcome: Annotated[str, Form()] = "",
                    back_to: Annotated[str, Form()] = "episode") -> Response:
        def run() -> str:
            done = changes.annotate(ctx.datadir, ctx.outbox, session_id, number, text, ctx.scan,
                                    outcome=outcome or None)
            return f"episode {number}: {done.said()}"
        url = session_url(session_id) + (f"/episodes/{number}" if back_to == "episode" else "")
        return back(ctx, request, url, run)

    @app.post("/sessions/{session_id}/approve")
    def approve(request: Request, session_id: str) -> Response:
        def run() -> str:
            changes.approve(ctx.datadir, ctx.outbox, session_id)
            return f"approved {session_id}: upload it when you are ready"
        return back(ctx, request, session_url(session_id), run)

    @app.post("/sessions/{session_id}/delete")
    def delete(request: Request, session_id: str, confirm: Annotated[bool, Form()] = False) -> Response:
        if not confirm:
            return back(ctx, request, session_url(session_id), _unconfirmed)

        def run() -> str:
            ctx.screenshots.forget(session_id)
            changes.delete(ctx.datadir, ctx.outbox, session_id)
            return f"deleted session {session_id} from this computer"
        return back(ctx, request, "/", run)

    @app.post("/sessions/{session_id}/upload")
    def upload(request: Request, session_id: str) -> Response:
        now = changes.state(ctx.outbox, session_id)
        if now != changes.APPROVED:
            why = ("it is already on the collector" if now == changes.UPLOADED else
                   "approve it first: only approved sessions leave this computer")
            url = session_url(session_id)
            return back(ctx, request, url, lambda: _refuse(f"session {session_id}: {why}"))
        ctx.uploads.start(session_id)
        return RedirectResponse(f"{session_url(session_id)}/upload", status_code=303)

    @app.post("/logout")
    def logout(request: Request) -> Response:
        ctx.guard.sign_out(request.cookies.get(COOKIE))
        return render(ctx, request, "refused.html", status=200, reason="Signed out. You can close this tab.")


def _unconfirmed() -> str:
    raise UserError("nothing was deleted: tick the box to confirm that this session should go")


def _refuse(text: str) -> str:
    raise UserError(text)
