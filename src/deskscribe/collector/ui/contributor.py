"""A contributor's own page: what the collector holds about them (sessions, consent records,
whether their key is on file) and who read or changed any of it, exactly as /v1/me/* answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from deskscribe.collector.ui.console import Console, signed_in
from deskscribe.collector.ui.sign_in import Signed


def routes(router: APIRouter, ui: Console) -> None:
    Viewer = Annotated[Signed, Depends(signed_in(ui))]

    @router.get("/ui/me")
    def my_data(request: Request, signed: Viewer) -> HTMLResponse:
        sessions = ui.store.my_sessions(signed.device)  # contributors only, their own
        return ui.page(request, "me.html", signed, sessions=sessions,
                       consent=ui.consents.held_about(signed.device), audit=ui.store.my_audit(signed.device))
