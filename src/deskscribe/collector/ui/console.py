"""The console's router: sign-in, the signed-in browser as a :class:`Device`, CSRF on every
change, HTML refusals, and the pages of each role mounted from their own modules.

Pages call the same store and service methods as the HTTP API, with the console session's
device, so the API's authorisation matrix is the console's too; a page with no such method
checks with :func:`deskscribe.collector.roles.require` before it reads anything.
"""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.policies import Policies
from deskscribe.collector.roles import Device
from deskscribe.collector.store import CollectorStore
from deskscribe.collector.ui.sign_in import Signed, SignIns, csrf_matches
from deskscribe.errors import CollectorError, Forbidden, NotFound
from deskscribe.web.viewer import STATIC_DIR, templates

COOKIE = "deskscribe_console"
ASSETS_DIR = Path(__file__).with_name("assets")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
                               " script-src 'self'; frame-ancestors 'none'; form-action 'self';"
                               " base-uri 'none'",
    # A sign-in link in the address bar never leaves in a Referer; same-origin (not no-referrer)
    # keeps the Origin header on the console's own forms, which "no-referrer" turns into "null".
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
NAV: dict[str, tuple[tuple[str, str], ...]] = {
    "steward": (("/ui/policy", "Policy"), ("/ui/enrol-codes", "Enrolment codes"), ("/ui/devices", "Devices"),
                ("/ui/regions", "Regions"), ("/ui/datasets", "Datasets"), ("/ui/retention", "Retention"),
                ("/ui/fleet", "Fleet")),
    "auditor": (("/ui/audit", "Audit log"),),
    "ml_engineer": (("/ui/datasets", "Datasets"),),
    "contributor": (("/ui/me", "My data"),),
}


def when(at_ns: int | None) -> str:
    """Times as people read them, in UTC (the collector's clock has no time zone of its own)."""
    if at_ns is None:
        return "-"
    return datetime.fromtimestamp(at_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def size(n: int) -> str:
    """Sizes in binary units, as file managers show them."""
    if n < 1024:
        return f"{n} bytes"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def day(at_ns: int | None) -> str:
    """Dates only where a row stands for one person's device: no finer trace of them is shown."""
    return "-" if at_ns is None else datetime.fromtimestamp(at_ns / 1e9, UTC).strftime("%Y-%m-%d")


@dataclass
class Console:
    """What every page needs: the services it calls and how it renders."""

    store: CollectorStore
    builds: DatasetBuilds
    policies: Policies
    consents: ConsentRecords
    sign_ins: SignIns
    pages: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        self.pages = templates(Path(__file__).with_name("templates"))
        self.pages.env.filters["when"] = when
        self.pages.env.filters["size"] = size
        self.pages.env.filters["day"] = day

    def signed(self, request: Request) -> Signed:
        return self.sign_ins.resolve(request.cookies.get(COOKIE))

    def page(self, request: Request, name: str, signed: Signed | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        me = signed.device if signed else None
        return self.pages.TemplateResponse(
            request, name, {"me": me, "csrf_token": signed.csrf if signed else None,
                            "nav": NAV.get(me.role, ()) if me else (), "here": request.url.path, **context},
            status_code=status)

    def refusal(self, request: Request, status: int, message: str) -> HTMLResponse:
        signed = None
        if status != 401:
            try:
                signed = self.signed(request)
            except CollectorError:
                signed = None
        return self.page(request, "refused.html", signed, status=status, status_code=status, message=message)


def _route_class(console: Console) -> type[APIRoute]:
    """Refusals become pages (with the API's status codes), and every answer gets the headers."""

    class ConsoleRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    _same_origin(request)
                    response = await handler(request)
                except CollectorError as exc:
                    response = console.refusal(request, exc.status, str(exc))
                except RequestValidationError as exc:
                    response = console.refusal(request, 400, _first_problem(exc))
                for name, value in HEADERS.items():
                    response.headers.setdefault(name, value)
                return response

            return guarded

    return ConsoleRoute


def _same_origin(request: Request) -> None:
    """A form posted from another site is refused before anything reads it: besides the CSRF
    token, this stops another site from signing a browser in with a link of its own."""
    origin = request.headers.get("origin")
    if request.method == "POST" and origin is not None and origin != str(request.base_url).rstrip("/"):
        raise Forbidden("this form was sent from another site; use the console's own pages")


def _first_problem(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request was not understood"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "the request"
    return f"{where}: {first.get('msg', 'invalid')}"


def console_router(*, store: CollectorStore, builds: DatasetBuilds, policies: Policies | None = None,
                   consents: ConsentRecords | None = None, sign_ins: SignIns | None = None) -> APIRouter:
    """The console at /ui (and the shared stylesheet and viewer script at /static)."""
    from deskscribe.collector.ui import auditor, contributor, datasets, episodes, steward

    console = Console(store=store, builds=builds, policies=policies or Policies(store=store),
                      consents=consents or ConsentRecords(store=store),
                      sign_ins=sign_ins or SignIns(store=store))
    router = APIRouter(include_in_schema=False, route_class=_route_class(console))
    _sign_in_routes(router, console)
    for pages in (steward, datasets, episodes, auditor, contributor):
        pages.routes(router, console)

    @router.get("/static/{name}")
    def shared_static(name: str) -> FileResponse:
        return FileResponse(_asset(STATIC_DIR, name))

    @router.get("/ui/assets/{name}")
    def console_asset(name: str) -> FileResponse:
        return FileResponse(_asset(ASSETS_DIR, name))

    @router.get("/ui/{rest:path}")
    def unknown(rest: str) -> Response:
        """Last: any other address under /ui is a page saying so, not the API's JSON."""
        raise NotFound(f"the console has no page /ui/{rest}")

    return router


def _asset(root: Path, name: str) -> Path:
    path = root / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"no file {name}")
    return path


def signed_in(console: Console) -> Callable[[Request], Signed]:
    """A dependency: the signed-in browser, or 401."""
    return console.signed


def changing(console: Console) -> Callable[..., Signed]:
    """A dependency for every POST: a live session and the CSRF token of that same session."""

    def check(request: Request, csrf: Annotated[str | None, Form()] = None) -> Signed:
        signed = console.signed(request)
        if not csrf_matches(signed, csrf):
            raise Forbidden("this form's security token is missing or belongs to another session;"
                            " reload the page and try again")
        return signed

    return check


def _sign_in_routes(router: APIRouter, console: Console) -> None:
    Change = Annotated[Signed, Depends(changing(console))]

    @router.get("/ui/sign-in")
    def sign_in_page(request: Request, link: str = "") -> HTMLResponse:
        """Following a link only shows a button: link scanners and previews spend nothing."""
        return console.page(request, "sign_in.html", None, link=link)

    @router.post("/ui/sign-in")
    def sign_in(request: Request, link: Annotated[str, Form(max_length=200)]) -> Response:
        secret, signed = console.sign_ins.exchange(link)
        response = RedirectResponse(_home(signed.device), status_code=303)
        response.set_cookie(COOKIE, secret, max_age=console.sign_ins.session_ttl_ns // 10**9, path="/",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    @router.post("/ui/sign-out")
    def sign_out(request: Request, signed: Change) -> Response:
        console.sign_ins.sign_out(request.cookies.get(COOKIE) or "")
        response = console.page(request, "signed_out.html", None)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/ui")
    def home(request: Request) -> Response:
        signed = console.signed(request)
        return console.page(request, "home.html", signed)


def _home(device: Device) -> str:
    pages = NAV.get(device.role, ())
    return pages[0][0] if pages else "/ui"
