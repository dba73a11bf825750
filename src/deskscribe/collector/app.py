"""The collector's HTTP API, built by a factory around a :class:`CollectorStore`.

Routes only translate: the store and its services decide, and answer in the shapes of
:mod:`deskscribe.collector.models`, which is also what the OpenAPI document describes.
"""

import base64
import binascii
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from deskscribe import __version__
from deskscribe.collector.build_jobs import BuildWorker
from deskscribe.collector.consent import ConsentRecords
from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.erasure import erase
from deskscribe.collector.fleet import fleet
from deskscribe.collector.fleet_stats import FleetStatistics
from deskscribe.collector.intake import JSON_BYTES, Deadlines, Intake
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
    FleetCell,
    FleetStats,
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
from deskscribe.collector.store import MAX_CHUNK, MIN_PEOPLE, CollectorStore
from deskscribe.collector.throttle import EnrolThrottle
from deskscribe.collector.ui.console import console_router
from deskscribe.collector.ui.datasets import build_quietly
from deskscribe.errors import CollectorError, Invalid, Unauthorised

SESSION_ID = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
DATASET_ID = Path(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")
REGION = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{what} must be base64") from None


def create_app(*, store: CollectorStore, builds: DatasetBuilds | None = None,
               deadlines: Deadlines | None = None, throttle: EnrolThrottle | None = None) -> FastAPI:
    policies = Policies(store=store)
    consents = ConsentRecords(store=store)
    builds = builds or DatasetBuilds(store=store)
    builds.recover()
    worker = BuildWorker(leases=builds.leases, build=builds.run_held)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """While serving, this collector builds queued datasets and those whose holder died."""
        worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    app = FastAPI(title="deskscribe collector", version=__version__, lifespan=lifespan,
                  description="Enrolment, session upload and audit for deskscribe recorders.")
    # Each route's own body cap (FastAPI's app-wide cap would answer outside Intake, which
    # closes the connection of a refused body).
    app.router.max_body_size = JSON_BYTES
    app.add_middleware(Intake, deadlines=deadlines or Deadlines())
    throttle = throttle or EnrolThrottle()

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
    def enrol(request: Request, body: EnrolRequest) -> Enrolled:
        address = request.client.host if request.client else ""
        if wait := throttle.admit(address, body.code):
            raise HTTPException(429, detail=f"too many enrolment attempts; try again in {wait} s",
                                headers={"Retry-After": str(wait)})
        dev, token = store.enrol(body.code)
        throttle.succeeded(address, body.code)
        return Enrolled(device_id=dev.id, contributor_id=dev.contributor_id, role=dev.role, token=token,
                        collector_key=base64.b64encode(store.public_key).decode())

    @app.get("/v1/collector-key")
    def collector_key() -> CollectorKey:
        return CollectorKey(collector_key=base64.b64encode(store.public_key).decode())

    @app.put("/v1/sessions/{session_id}/chunks/{idx}", status_code=201, max_body_size=MAX_CHUNK,
             responses={200: {"model": ChunkStored, "description": "this exact chunk was stored before"}})
    async def put_chunk(request: Request, response: Response, dev: Dev,
                        session_id: Annotated[str, SESSION_ID], idx: Annotated[int, Path(ge=0, le=1_000_000)],
                        x_content_sha256: Annotated[str, Header(min_length=64, max_length=64)]
                        ) -> ChunkStored:
        data = b"".join([piece async for piece in request.stream()])  # capped while it arrives
        stored = await run_in_threadpool(store.put_chunk, dev, session_id, idx, data, x_content_sha256)
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
        tasks.add_task(build_quietly, builds, row.id, dev.id)
        return row

    @app.post("/v1/datasets/{dataset_id}/rebuild", status_code=202)
    def rebuild_dataset(dev: Dev, dataset_id: Annotated[str, DATASET_ID], tasks: BackgroundTasks) -> Dataset:
        row = builds.start_rebuild(dev, dataset_id)
        tasks.add_task(build_quietly, builds, row.id, dev.id)
        return row

    @app.get("/v1/datasets")
    def list_datasets(dev: Dev) -> DatasetList:
        return DatasetList(datasets=builds.listing(dev))

    @app.get("/v1/datasets/{dataset_id}/files")
    def dataset_files(dev: Dev, dataset_id: Annotated[str, DATASET_ID]) -> FileList:
        return FileList(files=builds.files(dev, dataset_id))

    @app.get("/v1/datasets/{dataset_id}/files/{name:path}", response_class=StreamingResponse,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def dataset_file(dev: Dev, dataset_id: Annotated[str, DATASET_ID], name: str,
                     x_deskscribe_recipient: Annotated[str | None, Header(
                         description="A public key (base64 ML-KEM-768 + X25519) made for this"
                                     " download: the file comes sealed in segments, its key wrapped"
                                     " for this key in X-Deskscribe-File-Key. Without it, the file"
                                     " comes decrypted.")] = None
                     ) -> StreamingResponse:
        recipient = _base64(x_deskscribe_recipient, "X-Deskscribe-Recipient") if x_deskscribe_recipient \
            else None
        file = builds.sealed_file(dev, dataset_id, name)
        if recipient is None:
            return StreamingResponse(file.plaintext(), media_type="application/octet-stream")
        headers = {"X-Deskscribe-File-Key": base64.b64encode(file.key_for(recipient)).decode(),
                   "Content-Length": str(file.size())}
        return StreamingResponse(file.sealed(), media_type="application/octet-stream", headers=headers)

    @app.get("/v1/stats")
    def fleet_stats(dev: Dev) -> FleetStats:
        """Weekly action counts across the fleet (steward): never per person, never below 10 people."""
        cells = FleetStatistics(store=store, builds=builds, policies=policies).weekly(dev)
        return FleetStats(min_people=MIN_PEOPLE, cells=[FleetCell(week=c.week, app=c.app, action=c.action,
                                                                  count=c.count) for c in cells])

    @app.get("/v1/audit")
    def audit_log(dev: Dev) -> AuditLog:
        return AuditLog(entries=store.audit_log(dev))

    @app.get("/v1/me/audit")
    def my_audit(dev: Dev) -> AuditLog:
        return AuditLog(entries=store.my_audit(dev))

    @app.get("/v1/me/sessions")
    def my_sessions(dev: Dev) -> HeldSessions:
        return HeldSessions(contributor_id=dev.contributor_id, sessions=store.my_sessions(dev))

    app.include_router(console_router(store=store, builds=builds, policies=policies, consents=consents))
    return app
