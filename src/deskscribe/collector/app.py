"""The collector's HTTP API, built by a factory around a :class:`CollectorStore`."""


import base64
import binascii
import contextlib
from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from deskscribe import __version__
from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.policies import Policies
from deskscribe.collector.store import CollectorStore, Device
from deskscribe.errors import CollectorError, Invalid, Unauthorised

SESSION_ID = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
DATASET_ID = Path(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")
REGION = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")


class EnrolRequest(BaseModel):
    code: str = Field(min_length=1, max_length=200)


class Enrolled(BaseModel):
    device_id: str
    contributor_id: str
    role: str
    token: str
    collector_key: str = Field(description="X25519 public key (base64): wrap data keys for it.")


class CodeRequest(BaseModel):
    role: str = Field(default="contributor", max_length=16)
    region: str | None = Field(default=None, max_length=32)


class KeyDeposit(BaseModel):
    wrapped: str = Field(min_length=1, max_length=200, description="base64 of the wrapped data key")


class ConsentEntry(BaseModel):
    at_ns: int = Field(ge=0, le=2**62)
    action: Literal["accept", "withdraw"]
    notice_version: str | None = Field(default=None, max_length=64)


class ConsentReport(BaseModel):
    entries: list[ConsentEntry] = Field(max_length=10_000)


class PolicyBody(BaseModel):
    toml: str = Field(min_length=1, max_length=256 * 1024)


class RegionApproval(BaseModel):
    dpia_ref: str | None = Field(default=None, max_length=200)
    works_agreement_ref: str | None = Field(default=None, max_length=200)


class BuildRequest(BaseModel):
    format: str = Field(default="hf", max_length=16)
    precision_ms: int = Field(default=100, ge=1, le=3_600_000)


class CompleteRequest(BaseModel):
    chunks: int = Field(ge=1, le=1_000_000)


def _quietly(run: Any, *args: Any) -> None:
    """A background build records its own failure on the dataset; nothing else to report."""
    with contextlib.suppress(Exception):
        run(*args)


def create_app(*, store: CollectorStore, builds: DatasetBuilds | None = None) -> FastAPI:
    policies = Policies(store=store)
    consents = ConsentRecords(store=store)
    builds = builds or DatasetBuilds(store=store)
    builds.recover()
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
        return Enrolled(device_id=dev.id, contributor_id=dev.contributor_id, role=dev.role, token=token,
                        collector_key=base64.b64encode(store.public_key).decode())

    @app.get("/v1/collector-key")
    def collector_key() -> dict[str, str]:
        return {"collector_key": base64.b64encode(store.public_key).decode()}

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

    @app.put("/v1/me/key", status_code=204)
    def deposit_key(dev: Dev, body: KeyDeposit) -> Response:
        try:
            wrapped = base64.b64decode(body.wrapped, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("wrapped must be base64") from None
        store.deposit_key(dev, wrapped)
        return Response(status_code=204)

    @app.post("/v1/me/consent")
    def report_consent(dev: Dev, body: ConsentReport) -> dict[str, bool]:
        entries: list[tuple[int, str, str | None]] = [(e.at_ns, e.action, e.notice_version)
                                                      for e in body.entries]
        return {"objecting": consents.record(dev, entries)}

    @app.get("/v1/me/consent")
    def my_consent(dev: Dev) -> dict[str, Any]:
        return consents.held_about(dev)

    @app.get("/v1/policy")
    def policy(dev: Dev) -> dict[str, Any]:
        return policies.for_device(dev)

    @app.post("/v1/admin/enrol-codes", status_code=201)
    def new_code(dev: Dev, body: CodeRequest) -> dict[str, str]:
        return {"code": store.create_code_for(dev, body.role, body.region)}

    @app.post("/v1/admin/policies", status_code=201)
    def publish_policy(dev: Dev, body: PolicyBody) -> dict[str, str]:
        return {"version": policies.publish_as(dev, body.toml)}

    @app.put("/v1/admin/regions/{region}")
    def approve_region(dev: Dev, region: Annotated[str, REGION],
                       body: RegionApproval) -> dict[str, list[str]]:
        policies.approve_region_as(dev, region, dpia=body.dpia_ref, works_agreement=body.works_agreement_ref)
        return {"recorded": sorted(policies.recorded(region))}

    @app.post("/v1/datasets", status_code=202)
    def build_dataset(dev: Dev, body: BuildRequest, tasks: BackgroundTasks) -> dict[str, Any]:
        """Starts a build; `GET /v1/datasets` shows it turn from building to ready."""
        row = builds.start(dev, body.format, body.precision_ms)
        tasks.add_task(_quietly, builds.run, row["id"], dev.id)
        return row

    @app.post("/v1/datasets/{dataset_id}/rebuild", status_code=202)
    def rebuild_dataset(dev: Dev, dataset_id: Annotated[str, DATASET_ID],
                        tasks: BackgroundTasks) -> dict[str, Any]:
        row = builds.start_rebuild(dev, dataset_id)
        tasks.add_task(_quietly, builds.run, row["id"], dev.id)
        return row

    @app.get("/v1/datasets")
    def list_datasets(dev: Dev) -> dict[str, Any]:
        return {"datasets": builds.listing(dev)}

    @app.get("/v1/datasets/{dataset_id}/files")
    def dataset_files(dev: Dev, dataset_id: Annotated[str, DATASET_ID]) -> dict[str, list[str]]:
        return {"files": builds.files(dev, dataset_id)}

    @app.get("/v1/datasets/{dataset_id}/files/{name:path}", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def dataset_file(dev: Dev, dataset_id: Annotated[str, DATASET_ID], name: str) -> Response:
        return Response(builds.read(dev, dataset_id, name), media_type="application/octet-stream")

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
