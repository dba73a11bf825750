"""The collector's HTTP API, built by a factory around a :class:`CollectorStore`.

Routes only translate: the store and its services decide, and answer in the shapes of
:mod:`deskscribe.collector.models`, which is also what the OpenAPI document describes.
"""

import base64
import binascii
import contextlib
from collections.abc import Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from deskscribe import __version__
from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.erasure import erase
from deskscribe.collector.fleet import fleet
from deskscribe.collector.models import (
    AuditLog,
    BuildRequest,
    ChunkList,
    ChunkStored,
    CodeRequest,
    CollectorKey,
    Completed,
    CompleteRequest,
    ConsentHeld,
    ConsentReport,
    Dataset,
    DatasetList,
    EnrolCode,
    Enrolled,
    EnrolRequest,
    Erased,
    FileList,
    Health,
    HeldSessions,
    KeyDeposit,
    Objection,
    PolicyAnswer,
    PolicyBody,
    Published,
    RegionApproval,
    RegionRecorded,
)
from deskscribe.collector.policies import Policies
from deskscribe.collector.roles import Device
from deskscribe.collector.store import CollectorStore
from deskscribe.errors import CollectorError, Invalid, Unauthorised

SESSION_ID = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
DATASET_ID = Path(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")
REGION = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")


def _quietly(run: Callable[[str, str], None], *args: str) -> None:
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
    def healthz() -> Health:
        return Health(ok=True)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        f = fleet(store)
        return "".join(f"# TYPE deskscribe_{k} gauge\ndeskscribe_{k} {v}\n" for k, v in f.items())

    @app.post("/v1/enrol", status_code=201)
    def enrol(body: EnrolRequest) -> Enrolled:
        dev, token = store.enrol(body.code)
        return Enrolled(device_id=dev.id, contributor_id=dev.contributor_id, role=dev.role, token=token,
                        collector_key=base64.b64encode(store.public_key).decode())

    @app.get("/v1/collector-key")
    def collector_key() -> CollectorKey:
        return CollectorKey(collector_key=base64.b64encode(store.public_key).decode())

    @app.put("/v1/sessions/{session_id}/chunks/{idx}", status_code=201,
             responses={200: {"model": ChunkStored, "description": "this exact chunk was stored before"}})
    async def put_chunk(request: Request, response: Response, dev: Dev,
                        session_id: Annotated[str, SESSION_ID], idx: Annotated[int, Path(ge=0, le=1_000_000)],
                        x_content_sha256: Annotated[str, Header(min_length=64, max_length=64)]
                        ) -> ChunkStored:
        data = await request.body()
        stored = store.put_chunk(dev, session_id, idx, data, x_content_sha256)
        response.status_code = 201 if stored else 200
        return ChunkStored(stored=stored)

    @app.get("/v1/sessions/{session_id}/chunks")
    def uploaded(dev: Dev, session_id: Annotated[str, SESSION_ID]) -> ChunkList:
        return ChunkList(chunks=store.uploaded(dev, session_id))

    @app.post("/v1/sessions/{session_id}/complete")
    def complete(dev: Dev, session_id: Annotated[str, SESSION_ID], body: CompleteRequest) -> Completed:
        store.complete(dev, session_id, body.chunks)
        return Completed(complete=True)

    @app.get("/v1/sessions/{session_id}/chunks/{idx}", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def read_chunk(dev: Dev, session_id: Annotated[str, SESSION_ID],
                   idx: Annotated[int, Path(ge=0, le=1_000_000)]) -> Response:
        return Response(store.read_chunk(dev, session_id, idx), media_type="application/octet-stream")

    @app.delete("/v1/me")
    def erase_me(dev: Dev) -> Erased:
        return Erased(erased_sessions=erase(store, dev))

    @app.put("/v1/me/key", status_code=204, response_class=Response)
    def deposit_key(dev: Dev, body: KeyDeposit) -> Response:
        try:
            wrapped = base64.b64decode(body.wrapped, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("wrapped must be base64") from None
        store.deposit_key(dev, wrapped)
        return Response(status_code=204)

    @app.post("/v1/me/consent")
    def report_consent(dev: Dev, body: ConsentReport) -> Objection:
        entries: list[tuple[int, str, str | None]] = [(e.at_ns, e.action, e.notice_version)
                                                      for e in body.entries]
        return Objection(objecting=consents.record(dev, entries))

    @app.get("/v1/me/consent")
    def my_consent(dev: Dev) -> ConsentHeld:
        return consents.held_about(dev)

    @app.get("/v1/policy")
    def policy(dev: Dev) -> PolicyAnswer:
        return policies.for_device(dev)

    @app.post("/v1/admin/enrol-codes", status_code=201)
    def new_code(dev: Dev, body: CodeRequest) -> EnrolCode:
        return EnrolCode(code=store.create_code_for(dev, body.role, body.region))

    @app.post("/v1/admin/policies", status_code=201)
    def publish_policy(dev: Dev, body: PolicyBody) -> Published:
        return Published(version=policies.publish_as(dev, body.toml))

    @app.put("/v1/admin/regions/{region}")
    def approve_region(dev: Dev, region: Annotated[str, REGION], body: RegionApproval) -> RegionRecorded:
        policies.approve_region_as(dev, region, dpia=body.dpia_ref, works_agreement=body.works_agreement_ref)
        return RegionRecorded(recorded=sorted(policies.recorded(region)))

    @app.post("/v1/datasets", status_code=202)
    def build_dataset(dev: Dev, body: BuildRequest, tasks: BackgroundTasks) -> Dataset:
        """Starts a build; `GET /v1/datasets` shows it turn from building to ready."""
        row = builds.start(dev, body.format, body.precision_ms)
        tasks.add_task(_quietly, builds.run, row.id, dev.id)
        return row

    @app.post("/v1/datasets/{dataset_id}/rebuild", status_code=202)
    def rebuild_dataset(dev: Dev, dataset_id: Annotated[str, DATASET_ID], tasks: BackgroundTasks) -> Dataset:
        row = builds.start_rebuild(dev, dataset_id)
        tasks.add_task(_quietly, builds.run, row.id, dev.id)
        return row

    @app.get("/v1/datasets")
    def list_datasets(dev: Dev) -> DatasetList:
        return DatasetList(datasets=builds.listing(dev))

    @app.get("/v1/datasets/{dataset_id}/files")
    def dataset_files(dev: Dev, dataset_id: Annotated[str, DATASET_ID]) -> FileList:
        return FileList(files=builds.files(dev, dataset_id))

    @app.get("/v1/datasets/{dataset_id}/files/{name:path}", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def dataset_file(dev: Dev, dataset_id: Annotated[str, DATASET_ID], name: str) -> Response:
        return Response(builds.read(dev, dataset_id, name), media_type="application/octet-stream")

    @app.get("/v1/audit")
    def audit_log(dev: Dev) -> AuditLog:
        return AuditLog(entries=store.audit_log(dev))

    @app.get("/v1/me/audit")
    def my_audit(dev: Dev) -> AuditLog:
        return AuditLog(entries=store.my_audit(dev))

    @app.get("/v1/me/sessions")
    def my_sessions(dev: Dev) -> HeldSessions:
        return HeldSessions(contributor_id=dev.contributor_id, sessions=store.my_sessions(dev))

    return app
