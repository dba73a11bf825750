"""`grounding`: ScreenSpot-style rows, one per step whose target is known, loaded with
`datasets` as they are: images decoded, boxes and points typed, in the coordinates asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest

from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary, ExportEpisode, ExportStep
from tests.dataset.export.scripted import H, W, build, form_session, png

# The steps whose target the recorder saw, with the element's box in pixels (x, y, w, h) and
# where the pointer was (None for keyboard steps, whose target is the focused field).
TARGETED: list[tuple[str, str, tuple[int, int, int, int], tuple[int, int] | None]] = [
    ("click", "Save", (100, 200, 80, 30), (110, 210)),
    ("type", "Email", (10, 10, 200, 20), None),
    ("key", "Email", (10, 10, 200, 20), None),
    ("key", "Email", (10, 10, 200, 20), None),
    ("select", "Country", (300, 100, 100, 20), (310, 110)),
]


def load(root: Path, **options: str) -> Any:
    sid = form_session(root / "d")
    out = build(root / "d", sid, "grounding", root / "out", **options)
    # the contributor's split, named by the card; a cache of its own, as `datasets` keys one by
    # directory name and two builds here are both called "out"
    (split,) = datasets.load_dataset(str(out), cache_dir=str(root / "cache")).values()
    return split


def test_rows_load_with_datasets_with_images_and_screenspot_fields(tmp_path: Path) -> None:
    ds = load(tmp_path)
    assert isinstance(ds.features["image"], datasets.Image)
    for name in ("img_filename", "bbox", "instruction", "data_type", "data_source", "img_size", "point"):
        assert name in ds.features
    assert [(r["action"], r["instruction"]) for r in ds] == [(a, n) for a, n, _, _ in TARGETED]
    row = ds[0]
    assert row["image"].size == (W, H) and row["img_size"] == [W, H]
    assert row["img_filename"] == f"{row['episode_id']}_0.png" and row["data_source"] == "Browser"
    assert row["role"] == "button" and row["name"] == "Save" and row["task"] == "Fill in the form"
    assert row["coords"] == "fraction" and row["data_type"] is None


def test_boxes_and_points_are_screen_fractions_by_default(tmp_path: Path) -> None:
    ds = load(tmp_path)
    for row, (_, _, (x, y, w, h), point) in zip(ds, TARGETED, strict=True):
        assert row["bbox"] == pytest.approx([x / W, y / H, (x + w) / W, (y + h) / H], abs=1e-6)
        if point is None:
            assert row["point"] is None
        else:
            left, top, right, bottom = row["bbox"]
            assert row["point"] == pytest.approx([point[0] / W, point[1] / H], abs=1e-6)
            assert left <= row["point"][0] <= right and top <= row["point"][1] <= bottom


@pytest.mark.parametrize(("coords", "box", "point"), [
    ("pixel", [100, 200, 180, 230], [110, 210]),
    ("1000", [100, 400, 180, 460], [110, 420]),  # 200 / 500 * 1000 = 400
])
def test_other_coordinates_are_integers_on_that_scale(tmp_path: Path, coords: str, box: list[int],
                                                      point: list[int]) -> None:
    ds = load(tmp_path, coords=coords)
    assert ds.features["bbox"].feature.dtype == "int32"
    assert ds[0]["bbox"] == box and ds[0]["point"] == point and ds[0]["coords"] == coords


def test_the_card_names_only_the_splits_that_got_a_row(tmp_path: Path) -> None:
    def episode(eid: str, split: str, target: dict[str, Any] | None) -> ExportEpisode:
        click = ExportStep(step=0, t_ms=0, app="app", title=None, url=None, image=png(), target=target,
                           action={"type": "click", "x": 0.5, "y": 0.5, "button": "left", "count": 1, "keys": []})
        return ExportEpisode(episode_id=eid, contributor=eid, split=split, instruction="", status="unknown",
                             screen=(W, H), steps=[click])

    summary = BuildSummary(fmt="grounding")
    with open_exporter("grounding", out=tmp_path / "out") as exporter:
        for ep in (episode("a", "train", {"name": "OK", "role": "button", "bbox": [0.4, 0.4, 0.6, 0.6]}),
                   episode("b", "test", None)):
            exporter.add(ep)
            summary.add(ep)
        exporter.close(summary)
    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["train"] and loaded["train"]["instruction"] == ["OK"]
