"""The steward's pages: policy (preview, then publish), enrolment codes, devices, regions,
retention and fleet figures. Datasets are in :mod:`deskscribe.collector.ui.datasets`."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from deskscribe.collector.fleet import fleet
from deskscribe.collector.models import TEXT
from deskscribe.collector.policies import MAX_POLICY_BYTES
from deskscribe.collector.retention import sweep
from deskscribe.collector.roles import ROLES, Device, require
from deskscribe.collector.schema import devices, enrol_codes, region_approvals
from deskscribe.collector.ui.console import Console, changing, signed_in
from deskscribe.collector.ui.policy_preview import current_document, preview
from deskscribe.collector.ui.sign_in import Signed
from deskscribe.errors import CollectorError, Invalid
from deskscribe.policy import Region, Retention, parse_policy

DEVICE_ID = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
Ref = Annotated[str, Form(pattern=TEXT, max_length=200)]


def routes(router: APIRouter, ui: Console) -> None:
    Viewer = Annotated[Signed, Depends(signed_in(ui))]
    Change = Annotated[Signed, Depends(changing(ui))]

    def steward(signed: Signed) -> Device:
        require(signed.device, "steward")
        return signed.device

    @router.get("/ui/policy")
    def policy_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "policy.html", signed, current=current_document(ui.store))

    @router.post("/ui/policy/preview")
    async def policy_preview(request: Request, signed: Change,
                             file: Annotated[UploadFile, File(description="policy TOML")]) -> HTMLResponse:
        steward(signed)
        current = current_document(ui.store)
        raw = await file.read(MAX_POLICY_BYTES + 1)
        try:
            body = raw.decode("utf-8")
            shown = preview(body, current)
        except UnicodeDecodeError:
            return ui.page(request, "policy.html", signed, 400, current=current,
                           error=f"{file.filename or 'the file'} is not UTF-8 text")
        except CollectorError as exc:
            return ui.page(request, "policy.html", signed, exc.status, current=current,
                           error=f"{file.filename or 'the file'}: {exc}")
        return ui.page(request, "policy_preview.html", signed, preview=shown, toml=body)

    @router.post("/ui/policy/publish")
    def policy_publish(request: Request, signed: Change,
                       toml: Annotated[str, Form(pattern=TEXT, max_length=MAX_POLICY_BYTES)]) -> HTMLResponse:
        dev = steward(signed)
        current = current_document(ui.store)
        shown = preview(toml, current)
        try:
            version = ui.policies.publish_as(dev, toml)
        except CollectorError as exc:  # the preview stays on screen with the refusal
            return ui.page(request, "policy_preview.html", signed, exc.status, preview=shown, toml=toml,
                           error=str(exc))
        return ui.page(request, "policy.html", signed, current=current_document(ui.store),
                       done=f"Published policy {version}.")

    @router.get("/ui/enrol-codes")
    def codes_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "enrol_codes.html", signed, codes=_codes(ui), roles=ROLES)

    @router.post("/ui/enrol-codes")
    def new_code(request: Request, signed: Change,
                 role: Annotated[str, Form(pattern=TEXT, max_length=16)] = "contributor",
                 region: Annotated[str, Form(pattern=TEXT, max_length=32)] = "") -> HTMLResponse:
        code = ui.store.create_code_for(signed.device, role, region.strip() or None)
        return ui.page(request, "enrol_codes.html", signed, codes=_codes(ui), roles=ROLES, new_code=code,
                       new_role=role)

    @router.get("/ui/devices")
    def devices_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "devices.html", signed, devices=_devices(ui))

    @router.post("/ui/devices/{device_id}/revoke")
    def revoke(request: Request, signed: Change, device_id: Annotated[str, DEVICE_ID]) -> HTMLResponse:
        dev = steward(signed)
        ui.store.revoke(device_id, actor=dev.id)
        return ui.page(request, "devices.html", signed, devices=_devices(ui),
                       done=f"Revoked device {device_id}.")

    @router.get("/ui/regions")
    def regions_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "regions.html", signed, regions=_regions(ui))

    @router.post("/ui/regions")
    def approve(request: Request, signed: Change,
                region: Annotated[str, Form(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")],
                dpia_ref: Ref = "", works_agreement_ref: Ref = "") -> HTMLResponse:
        ui.policies.approve_region_as(signed.device, region, dpia=dpia_ref.strip() or None,
                                      works_agreement=works_agreement_ref.strip() or None)
        return ui.page(request, "regions.html", signed, regions=_regions(ui),
                       done=f"Recorded the references for region {region}.")

    @router.get("/ui/retention")
    def retention_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "retention.html", signed, retention=_retention(ui))

    @router.post("/ui/retention")
    def retention_run(request: Request, signed: Change) -> HTMLResponse:
        dev = steward(signed)
        gone = sweep(ui.store, _retention(ui))
        with ui.store.engine.begin() as c:
            ui.store.audit(c, dev.id, "retention_run", f"{gone['sessions']} sessions",
                           f"{gone['datasets']} datasets")
        return ui.page(request, "retention.html", signed, retention=_retention(ui), gone=gone)

    @router.get("/ui/fleet")
    def fleet_page(request: Request, signed: Viewer) -> HTMLResponse:
        steward(signed)
        return ui.page(request, "fleet.html", signed, figures=fleet(ui.store))


def _codes(ui: Console) -> list[Any]:
    """Codes as issued (never the code itself: only its digest is kept)."""
    with ui.store.engine.connect() as c:
        return list(c.execute(select(enrol_codes.c.role, enrol_codes.c.region, enrol_codes.c.created_ns,
                                     enrol_codes.c.used_ns).order_by(enrol_codes.c.created_ns.desc())))


def _devices(ui: Console) -> list[Any]:
    """Devices by id and role: the pseudonymous contributor behind each is not shown."""
    with ui.store.engine.connect() as c:
        return list(c.execute(select(devices.c.id, devices.c.role, devices.c.region, devices.c.created_ns,
                                     devices.c.revoked_ns).order_by(devices.c.created_ns)))


def _regions(ui: Console) -> list[dict[str, Any]]:
    """Every region the current policy names, with what it requires and what is on record."""
    current = ui.policies.current()
    named: Mapping[str, Region] = {}
    if current is not None:
        try:
            named = parse_policy(current[1]).regions
        except ValueError:
            named = {}
    with ui.store.engine.connect() as c:
        recorded = {r.region: r for r in c.execute(select(region_approvals))}
    out = []
    for name in sorted(set(named) | set(recorded)):
        rec = recorded.get(name)
        requires = list(named[name].requires) if name in named else []
        have = ui.policies.recorded(name)
        out.append({"name": name, "requires": requires, "missing": [r for r in requires if r not in have],
                    "dpia": rec.dpia_ref if rec else None, "works": rec.works_agreement_ref if rec else None,
                    "at": rec.recorded_ns if rec else None})
    return out


def _retention(ui: Console) -> Retention:
    current = ui.policies.current()
    if current is None:
        return Retention()
    try:
        return parse_policy(current[1]).retention
    except ValueError as exc:
        raise Invalid(f"the published policy cannot be read ({exc}); publish a corrected one") from None
