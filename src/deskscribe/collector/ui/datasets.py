"""Dataset pages: the list (stewards and ML engineers), builds and rebuilds (stewards), a
ready dataset's files and their download (ML engineers). Builds run in the background as
the API's do; the list page follows them until they finish."""

import contextlib
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deskscribe.collector.datasets import DatasetBuilds
from deskscribe.collector.models import Dataset
from deskscribe.collector.ui.console import Console, changing, signed_in
from deskscribe.collector.ui.sign_in import Signed
from deskscribe.dataset.export import FORMATS

DATASET_ID = Path(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")
BROWSABLE = ("jsonl", "hf")  # formats whose steps the episode browser reads


def build_quietly(builds: DatasetBuilds, dataset_id: str, actor: str) -> None:
    """A background build (the API's and the console's): a failure is recorded on the dataset,
    where the list shows it, so there is nothing else to report."""
    with contextlib.suppress(Exception):
        builds.run(dataset_id, actor)


def routes(router: APIRouter, ui: Console) -> None:
    Viewer = Annotated[Signed, Depends(signed_in(ui))]
    Change = Annotated[Signed, Depends(changing(ui))]
    Id = Annotated[str, DATASET_ID]

    def listing(request: Request, signed: Signed, started: str = "") -> HTMLResponse:
        rows = ui.builds.listing(signed.device)
        done = f"Started building dataset {started}." if any(r.id == started for r in rows) else None
        return ui.page(request, "datasets.html", signed, datasets=list(reversed(rows)), done=done,
                       formats=FORMATS, browsable=BROWSABLE, now_ns=ui.store.wall_ns(),
                       building=any(r.state == "building" for r in rows))

    @router.get("/ui/datasets")
    def datasets_page(request: Request, signed: Viewer,
                      started: Annotated[str, Query(max_length=32, pattern=r"^[a-f0-9]*$")] = ""
                      ) -> HTMLResponse:
        return listing(request, signed, started=started)

    @router.post("/ui/datasets")
    def build(signed: Change, tasks: BackgroundTasks,
              fmt: Annotated[str, Form(alias="format", max_length=16)] = "hf",
              precision_ms: Annotated[int, Form(ge=1, le=3_600_000)] = 100) -> Response:
        row = ui.builds.start(signed.device, fmt, precision_ms)
        return begun(signed, tasks, row)

    @router.post("/ui/datasets/{dataset_id}/rebuild")
    def rebuild(signed: Change, tasks: BackgroundTasks, dataset_id: Id) -> Response:
        row = ui.builds.start_rebuild(signed.device, dataset_id)
        return begun(signed, tasks, row)

    def begun(signed: Signed, tasks: BackgroundTasks, row: Dataset) -> Response:
        """Answered with a redirect, so reloading the list never starts another build."""
        with ui.store.engine.begin() as c:
            ui.store.audit(c, signed.device.id, "dataset_start", row.id,
                           f"rebuild of {row.rebuild_of}" if row.rebuild_of else row.fmt)
        tasks.add_task(build_quietly, ui.builds, row.id, signed.device.id)
        return RedirectResponse(f"/ui/datasets?started={row.id}", status_code=303)

    @router.get("/ui/datasets/{dataset_id}")
    def files_page(request: Request, signed: Viewer, dataset_id: Id) -> HTMLResponse:
        names = ui.builds.files(signed.device, dataset_id)
        row = next(r for r in ui.builds.listing(signed.device) if r.id == dataset_id)
        images = [n for n in names if n.startswith("images/")]  # one per step: folded away
        return ui.page(request, "dataset.html", signed, dataset=row, browsable=row.fmt in BROWSABLE,
                       files=[n for n in names if not n.startswith("images/")], images=images)

    @router.get("/ui/datasets/{dataset_id}/files/{name:path}")
    def download(signed: Viewer, dataset_id: Id, name: str) -> Response:
        data = ui.builds.read(signed.device, dataset_id, name)
        leaf = name.rsplit("/", 1)[-1].replace('"', "")
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{leaf}"'})
