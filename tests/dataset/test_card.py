"""The dataset card: metadata the Hub and `datasets` read, checked with those libraries."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import yaml
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from deskscribe.datadir import DataDir
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.card import size_category
from deskscribe.dataset.export import FORMATS, open_exporter
from deskscribe.dataset.stats import read_stats
from deskscribe.keystore import FileKeyBackend
from tests.dataset.scripted import click, focus, frame, record

RELEASE = Release(key=b"a fixed key for a stable split draw")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Twelve people with one session each (two episodes of two clicks), so all three splits
    hold someone."""
    tmp = tmp_path_factory.mktemp("card")
    dd = DataDir(root=tmp / "d", key_backend=FileKeyBackend(path=tmp / "d" / "key"))
    names = [f"person-{i}" for i in range(100)]
    split = {n: RELEASE.split(RELEASE.pseudonym("contributor", n)) for n in names}
    firsts = [next(n for n in names if split[n] == s) for s in ("train", "validation", "test")]
    people = firsts + [n for n in names if n not in firsts][:9]
    ids = [record(dd, [*focus(0, "XTerm", "shell"), *frame(50), *click(100, 10, 10), *click(900, 30, 10),
                       (1000, "marker", {"marker": "excluded", "duration_ms": 10}), *click(2000, 50, 10)],
                  contributor=person) for person in people]
    out = {}
    for fmt in FORMATS:
        out[fmt] = tmp / fmt
        build_dataset(open_session=dd.open, session_ids=ids, exporter=open_exporter(fmt, out=out[fmt]),
                      release=RELEASE, fmt=fmt)
    return out


def header(card: str) -> dict[str, object]:
    assert card.startswith("---\n")
    loaded = yaml.safe_load(card.split("---\n", 2)[1])
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_card_has_metadata_the_hub_reads(built: dict[str, Path], fmt: str) -> None:
    text = (built[fmt] / "README.md").read_text()
    meta = header(text)
    assert meta["license"] == "other" and meta["task_categories"] == ["image-text-to-text"]
    assert meta["size_categories"] == ["n<1K"]
    assert DatasetCard(text).data.to_dict() == meta
    assert "must not be used to evaluate,\nmonitor, rank or identify the people who recorded it" in text
    for said in ("**Notice and acknowledgement.**", "**Designated applications only.**",
                 "**Redaction on the device.**"):
        assert said in text


def test_the_hf_card_names_each_splits_shards_and_datasets_loads_them(built: dict[str, Path]) -> None:
    out = built["hf"]
    steps = [json.loads(line) for line in (built["jsonl"] / "steps.jsonl").read_text().splitlines()]
    per_split = {s: sum(r["split"] == s for r in steps) for s in {r["split"] for r in steps}}
    assert set(per_split) == {"train", "validation", "test"}
    configs = MetadataConfigs.from_dataset_card_data(DatasetCard((out / "README.md").read_text()).data)
    assert configs == {"default": {"data_files": [{"split": s, "path": f"data/{s}-*.parquet"}
                                                  for s in sorted(per_split)]}}
    loaded = datasets.load_dataset(str(out))
    assert {s: loaded[s].num_rows for s in loaded} == per_split
    assert type(loaded["train"].features["image"]).__name__ == "Image"
    assert set(loaded["train"]["flags"][0]) <= {"frames_dropped", "redacted"}


def test_the_jsonl_card_makes_datasets_load_the_steps_not_the_screenshots(built: dict[str, Path]) -> None:
    out = built["jsonl"]
    header_configs = header((out / "README.md").read_text())["configs"]
    assert header_configs == [{"config_name": "default", "data_files": [{"split": "steps", "path": "steps.jsonl"}]}]
    loaded = datasets.load_dataset(str(out))
    assert list(loaded) == ["steps"]
    rows = loaded["steps"]
    assert rows.num_rows == len((out / "steps.jsonl").read_text().splitlines()) == 12 * 5
    assert set(rows["split"]) == {"train", "validation", "test"}
    assert all(image.startswith("images/") for image in rows["image"])


def test_the_card_carries_the_figures_of_its_build(built: dict[str, Path]) -> None:
    for fmt in ("jsonl", "hf"):
        figures = read_stats(built[fmt])
        card = (built[fmt] / "README.md").read_text()
        assert f"{figures.episodes} episodes, {figures.steps} steps, contributors: 12" in card
        assert f"| contributors | {figures.contributors} |" in card and figures.contributors == 12
        assert "| click | 36 | 60.0% |" in card and "| 1000x500 | 24 | 100.0% |" in card


@pytest.mark.parametrize(("rows", "bucket"), [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (9999, "1K<n<10K"),
                                              (250_000, "100K<n<1M"), (10**6, "1M<n<10M"), (10**12, "n>1T")])
def test_size_categories_are_the_hubs_buckets(rows: int, bucket: str) -> None:
    assert size_category(rows) == bucket
