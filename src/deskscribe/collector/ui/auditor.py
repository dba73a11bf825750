"""The auditor's page: the whole audit log (the reading is itself logged), filtered, with the
hash chain verified on request and the first altered entry pointed out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from deskscribe.collector.models import TEXT
from deskscribe.collector.ui.audit_view import SHOWN, AuditFilter, moment, selected
from deskscribe.collector.ui.console import Console, signed_in
from deskscribe.collector.ui.sign_in import Signed

Field = Annotated[str, Query(pattern=TEXT, max_length=128)]


def routes(router: APIRouter, ui: Console) -> None:
    Viewer = Annotated[Signed, Depends(signed_in(ui))]

    @router.get("/ui/audit")
    def audit_page(request: Request, signed: Viewer, actor: Field = "", action: Field = "",
                   subject: Field = "", since: Field = "", until: Field = "", verify: bool = False
                   ) -> HTMLResponse:
        entries = ui.store.audit_log(signed.device)  # auditors only
        wanted = AuditFilter(actor=actor.strip(), action=action.strip(), subject=subject.strip(),
                             since_ns=moment(since, "From"), until_ns=moment(until, "Until"))
        broken = ui.store.audit_verify() if verify else None
        shown = selected(entries, wanted)
        form = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
        return ui.page(request, "audit.html", signed, entries=shown[:SHOWN], matched=len(shown),
                       total=len(entries), wanted=wanted, form=form, verified=verify, broken=broken,
                       broken_entry=next((e for e in entries if e.seq == broken), None))
