"""The episode browser over a ready dataset (ML engineers): the build's files are decrypted
in memory through :meth:`DatasetBuilds.read`, so every read is authorised and audited like a
download; the page loads thumbnails, and a full screenshot only for the step on screen."""

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from PIL import Image

from deskscribe.collector.ui.console import Console, signed_in
from deskscribe.collector.ui.datasets import DATASET_ID
from deskscribe.collector.ui.episode_rows import Episode, StepRow, episodes, read_rows
from deskscribe.collector.ui.sign_in import Signed
from deskscribe.errors import NotFound
from deskscribe.web.viewer import StepView, step_view

EPISODE_ID = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
THUMB_WIDTH = 320  # twice the strip's 160 px, sharp on high-density screens


def routes(router: APIRouter, ui: Console) -> None:
    Viewer = Annotated[Signed, Depends(signed_in(ui))]
    Id = Annotated[str, DATASET_ID]
    Ep = Annotated[str, EPISODE_ID]

    def load(signed: Signed, dataset_id: str) -> tuple[str, list[Episode]]:
        files = ui.builds.files(signed.device, dataset_id)  # ML engineers, ready datasets only
        fmt = next(r.fmt for r in ui.builds.listing(signed.device) if r.id == dataset_id)
        rows = read_rows(fmt, files, lambda name: ui.builds.read(signed.device, dataset_id, name))
        return fmt, episodes(rows)

    def find(eps: list[Episode], episode_id: str) -> Episode:
        for ep in eps:
            if ep.episode_id == episode_id:
                return ep
        raise NotFound(f"this dataset has no episode {episode_id}")

    def screenshot(signed: Signed, dataset_id: str, episode_id: str, step: int) -> bytes:
        """A jsonl build's screenshot is one file (one audited read); an hf build's is in its rows."""
        fmt = next((r.fmt for r in ui.builds.listing(signed.device) if r.id == dataset_id), None)
        if fmt == "jsonl":
            return ui.builds.read(signed.device, dataset_id, f"images/{episode_id}/{step:04d}.png")
        _, eps = load(signed, dataset_id)
        row = next((s for s in find(eps, episode_id).steps if s.step == step), None)
        if row is None or row.image_bytes is None:
            raise NotFound(f"step {step} of episode {episode_id} has no screenshot")
        return row.image_bytes

    @router.get("/ui/datasets/{dataset_id}/episodes")
    def episode_list(request: Request, signed: Viewer, dataset_id: Id) -> HTMLResponse:
        fmt, eps = load(signed, dataset_id)
        return ui.page(request, "episodes.html", signed, dataset_id=dataset_id, fmt=fmt, episodes=eps)

    @router.get("/ui/datasets/{dataset_id}/episodes/{episode_id}")
    def episode_page(request: Request, signed: Viewer, dataset_id: Id, episode_id: Ep) -> HTMLResponse:
        _, eps = load(signed, dataset_id)
        ep = find(eps, episode_id)
        base = f"/ui/datasets/{dataset_id}/episodes/{episode_id}/steps"
        views = [_view(n, s, base) for n, s in enumerate(ep.steps, start=1)]
        at = eps.index(ep)
        return ui.page(request, "episode.html", signed, dataset_id=dataset_id, episode=ep, steps=views,
                       position=at + 1, total=len(eps),
                       previous=eps[at - 1].episode_id if at > 0 else None,
                       next=eps[at + 1].episode_id if at + 1 < len(eps) else None)

    @router.get("/ui/datasets/{dataset_id}/episodes/{episode_id}/steps/{step}.png")
    def step_image(signed: Viewer, dataset_id: Id, episode_id: Ep, step: Annotated[int, Path(ge=0)],
                   size: Annotated[str, Query(pattern="^(thumb|full)$")] = "full") -> Response:
        data = screenshot(signed, dataset_id, episode_id, step)
        if size == "thumb":
            return Response(thumbnail(data), media_type="image/jpeg")
        return Response(data, media_type="image/png")


def _view(index: int, row: StepRow, base: str) -> StepView:
    has_image = row.image is not None or row.image_bytes is not None
    return step_view(index, row.action, row.target,
                     image_url=f"{base}/{row.step}.png" if has_image else "",
                     thumb_url=f"{base}/{row.step}.png?size=thumb" if has_image else "",
                     width=row.width or 1000, height=row.height or 500)


def thumbnail(png: bytes, width: int = THUMB_WIDTH) -> bytes:
    """A small JPEG of a screenshot: the strip shows every step without loading them full size."""
    with Image.open(io.BytesIO(png)) as shot:
        small = shot.convert("RGB")
    small.thumbnail((width, max(1, width * small.height // max(1, small.width))))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()
