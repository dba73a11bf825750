"""The collector's HTTP API, built by a factory around a :class:`CollectorStore`."""


from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from deskscribe import __version__
from deskscribe.collector.store import CollectorError, CollectorStore, Device, Unauthorised

SESSION_ID = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class EnrolRequest(BaseModel):
    code: str = Field(min_length=1, max_length=200)


class Enrolled(BaseModel):
    device_id: str
    contributor_id: str
    role: str
    token: str


class CodeRequest(BaseModel):
    role: str = Field(default="contributor", max_length=16)


class CompleteRequest(BaseModel):
    chunks: int = Field(ge=1, le=1_000_000)


def create_app(*, store: CollectorStore) -> FastAPI:
    app = FastAPI(title="deskscribe collector", version=__version__,
                  description="Enrolment, session upload and audit for deskscribe recorders.")

    @app.exception_handler(CollectorError)
    async def _error(_: Request, exc: CollectorError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    def device(authorization: Annotated[str | None, Header()] = None) -> Device:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorised("send the device credential as 'Authorization: Bearer TOKEN'")
        return store.authenticate(authorization[len("Bearer "):])

    Dev = Annotated[Device, Depends(device)]

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        f = store.fleet()
        return "".join(f"# TYPE deskscribe_{k} gauge\ndeskscribe_{k} {v}\n" for k, v in f.items())

    @app.post("/v1/enrol", status_code=201)
    def enrol(body: EnrolRequest) -> Enrolled:
        dev, token = store.enrol(body.code)
        return Enrolled(device_id=dev.id, contributor_id=dev.contributor_id, role=dev.role, token=token)

    @app.put("/v1/sessions/{session_id}/chunks/{idx}", status_code=201,
             responses={200: {"description": "this exact chunk was stored before"}})
    async def put_chunk(request: Request, dev: Dev, session_id: Annotated[str, SESSION_ID],
                        idx: Annotated[int, Path(ge=0, le=1_000_000)],
                        x_content_sha256: Annotated[str, Header(min_length=64, max_length=64)]) -> Any:
        data = await request.body()
        stored = store.put_chunk(dev, session_id, idx, data, x_content_sha256)
        return JSONResponse({"stored": stored}, status_code=201 if stored else 200)

    @app.get("/v1/sessions/{session_id}/chunks")
    def uploaded(dev: Dev, session_id: Annotated[str, SESSION_ID]) -> dict[str, list[int]]:
        return {"chunks": store.uploaded(dev, session_id)}

    @app.post("/v1/sessions/{session_id}/complete")
    def complete(dev: Dev, session_id: Annotated[str, SESSION_ID], body: CompleteRequest) -> dict[str, bool]:
        store.complete(dev, session_id, body.chunks)
        return {"complete": True}

    @app.get("/v1/sessions/{session_id}/chunks/{idx}", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def read_chunk(dev: Dev, session_id: Annotated[str, SESSION_ID],
                   idx: Annotated[int, Path(ge=0, le=1_000_000)]) -> Response:
        return Response(store.read_chunk(dev, session_id, idx), media_type="application/octet-stream")

    @app.delete("/v1/me")
    def erase_me(dev: Dev) -> dict[str, int]:
        return {"erased_sessions": store.erase(dev)}

    @app.post("/v1/admin/enrol-codes", status_code=201)
    def new_code(dev: Dev, body: CodeRequest) -> dict[str, str]:
        return {"code": store.create_code_for(dev, body.role)}

    @app.get("/v1/audit")
    def audit_log(dev: Dev) -> dict[str, Any]:
        return {"entries": store.audit_log(dev)}

    @app.get("/v1/me/audit")
    def my_audit(dev: Dev) -> dict[str, Any]:
        return {"entries": store.my_audit(dev)}

    @app.get("/v1/me/sessions")
    def my_sessions(dev: Dev) -> dict[str, Any]:
        return {"contributor_id": dev.contributor_id, "sessions": store.my_sessions(dev)}

    return app
