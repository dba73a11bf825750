"""Dataset builds on a Ray cluster (``--engine ray``), for builds too large for one process.

Workers read each session's chunks from the blob store themselves, open them with the
contributor's key (handed over in memory, inside the Ray Data blocks the tasks receive, never in
a file), reduce, pair and encode Parquet shards in memory; the collector writes those shards into
its staging directory, merges the workers' partial summaries and writes the card from them, and
keeps the dataset key and the sealing to itself. Rows are the same as a local build's; only the
shards' names and count differ.

The cluster is inside the collector's trust boundary: its workers hold unwrapped keys and
plaintext in memory, so it runs on machines the steward controls.
"""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from types import ModuleType
from typing import Any, Self

from deskscribe.collector.blobs import BlobStore
from deskscribe.collector.build_engine import Exported, Opener, SessionJob
from deskscribe.dataset.build import Release, build_dataset
from deskscribe.dataset.export import open_exporter
from deskscribe.dataset.export.base import BuildSummary
from deskscribe.dataset.export.hf import HFExporter
from deskscribe.dataset.reduce import ReduceParams
from deskscribe.errors import Invalid, StoreError

FORMATS = ("hf",)  # Parquet shards: rows any worker writes on its own and a reader globs together
MAX_SESSIONS_PER_TASK = 8  # a task holds its sessions' shards in memory until it returns them
TASK_RETRIES = 2  # a task whose worker died is run again this often (Ray Data's default: forever)
_KEPT = frozenset({"fmt", "reduce_version", "precision_ms", "bytes"})  # not summed when merged


@dataclass(frozen=True)
class Part:
    """What one task read: its summary, and whose sessions and how many could be opened."""

    summary: BuildSummary
    included: set[str] = field(default_factory=set)
    sessions: int = 0


class MemoryShards(HFExporter):
    """The ``hf`` exporter's rows and features, each shard encoded into memory for the collector
    instead of into a file on the worker; no card (the collector writes it from every part)."""

    def __init__(self) -> None:
        super().__init__(out=Path())  # never written to
        self.shards: list[tuple[str, bytes]] = []

    def open(self) -> Self:
        if not self._open:
            self._start()
            self._open = True
        return self

    def close(self, summary: BuildSummary) -> None:
        self._end(complete=True)
        self._open = False

    def _flush(self, split: str) -> None:
        import datasets

        datasets.disable_progress_bars()
        rows = self._rows.pop(split, [])
        if rows:
            buf = io.BytesIO()
            datasets.Dataset.from_list(rows, features=self._features).to_parquet(buf)
            self.shards.append((split, buf.getvalue()))


def build_part(batch: Any, *, blobs: BlobStore, release: Release, fmt: str) -> Any:
    """One task on a worker: a batch of jobs (a pyarrow table) in; rows out, one per shard, then
    the task's summary. A session that cannot be read ends the build, as it ends a local one: the
    task answers with the reason (an exception would reach the collector only as Ray's
    traceback text), and the collector raises it."""
    import pyarrow as pa

    try:
        shards, part = _build(batch.to_pylist(), blobs, release, fmt)
        rows = [("shard", split, data) for split, data in shards] + [("part", "", pickle.dumps(part))]
    except StoreError as exc:
        rows = [("error", "", str(exc).encode())]
    kinds, splits, data = zip(*rows, strict=True)
    return pa.table({"kind": pa.array(kinds, pa.string()), "split": pa.array(splits, pa.string()),
                     "data": pa.array(data, pa.large_binary())})


def _build(items: list[dict[str, Any]], blobs: BlobStore, release: Release, fmt: str
           ) -> tuple[list[tuple[str, bytes]], Part]:
    """The local engine's steps for these jobs; the assembled files (still encrypted) go to the
    worker's temp directory and are gone when it returns."""
    shards, opener, built = MemoryShards(), Opener(), list[str]()
    with tempfile.TemporaryDirectory(prefix="deskscribe-ray-") as work:
        for job in (SessionJob(**item) for item in items):
            try:
                opener.add(job, blobs, Path(work))
            except Exception as exc:
                raise StoreError(f"session {job.session_id} could not be read on a Ray worker: {exc}"
                                 ) from None
        order = sorted(opener.sources)
        try:
            summary = build_dataset(open_session=opener, session_ids=order, exporter=shards, release=release,
                                    fmt=fmt, progress=built.append)
        except Exception as exc:
            raise StoreError(f"session {order[len(built)]} could not be built on a Ray worker: {exc}"
                             ) from None
    return shards.shards, Part(summary=summary, included=set(opener.owners.values()),
                               sessions=len(opener.sources))


def merge(into: Any, part: Any) -> None:
    """Adds one task's summary to the build's: counts add up, sets join, tallies merge field by
    field (each session is in one task, so no episode is counted twice)."""
    for f in dataclasses.fields(into):
        if f.name in _KEPT:
            continue
        mine, theirs = getattr(into, f.name), getattr(part, f.name)
        if dataclasses.is_dataclass(mine):
            merge(mine, theirs)
        elif isinstance(mine, Counter | dict):
            mine.update(theirs)  # a Counter adds, a dict of episodes joins
        elif isinstance(mine, set):
            mine |= theirs
        elif isinstance(mine, int):
            setattr(into, f.name, mine + theirs)
        else:
            raise TypeError(f"no way to merge {type(into).__name__}.{f.name}")


def _ray() -> ModuleType:
    """Ray is imported only when a build uses it."""
    try:
        import ray
    except ImportError:
        raise StoreError("the ray engine needs Ray: pip install 'deskscribe[ray]'") from None
    module: ModuleType = ray
    return module


def on_loopback(address: str) -> bool:
    """True for "auto" and HOST:PORT on this machine, where Ray must not pick a network address."""
    if address == "auto":
        return True
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(exc: BaseException) -> str:
    """What Ray says went wrong, in one line: a task's own error rather than Ray's wrapper and
    its traceback (Ray Data chains a bare marker as ``__cause__``, so that is not followed)."""
    while isinstance(inner := getattr(exc, "cause", None), BaseException) and inner is not exc:
        exc = inner
    first = (str(exc).strip().splitlines() or [""])[0]
    return first if isinstance(exc, StoreError) else f"{type(exc).__name__}: {first}"


class RayEngine:
    """Builds on the Ray cluster at ``address``, with at most ``workers`` tasks at once (all of
    its CPUs when None)."""

    def __init__(self, *, address: str, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise Invalid("a Ray build needs at least one worker")
        self.address = address
        self.workers = workers
        self._connected = False

    def export(self, *, jobs: Sequence[SessionJob], blobs: BlobStore, release: Release, fmt: str,
               out: Path) -> Exported:
        if fmt not in FORMATS:
            raise Invalid(f"the ray engine writes Parquet shards, so it builds {', '.join(FORMATS)} only;"
                          f" build {fmt} with the local engine")
        summary = BuildSummary(fmt=fmt, precision_ms=release.precision_ms,
                               reduce_version=ReduceParams().version)
        done = Exported(summary=summary, included=set(), sessions=0)
        shards: Counter[str] = Counter()
        with open_exporter(fmt, out=out) as exporter:
            for kind, split, data in self._results(jobs, blobs, release, fmt):
                if kind == "error":
                    raise StoreError(f"the Ray build failed: {data.decode()}")
                if kind == "shard":
                    path = out / "data" / f"{split}-{shards[split]:05d}.parquet"  # hf's names
                    shards[split] += 1
                    path.parent.mkdir(exist_ok=True)
                    path.write_bytes(data)
                    continue
                part: Part = pickle.loads(data)
                merge(summary, part.summary)
                done.included |= part.included
                done.sessions += part.sessions
            exporter.close(summary)  # the card and the size, as the local exporter writes them
        return done

    def _results(self, jobs: Sequence[SessionJob], blobs: BlobStore, release: Release, fmt: str
                 ) -> Iterator[tuple[str, str, bytes]]:
        """Every task's output rows as they come. Ray Data rather than bare tasks: it bounds the
        tasks in flight and streams results back. Its ``write_parquet`` is not used: it writes
        from each worker to a path all workers reach, while the collector stages a build in its
        own memory (tmpfs), so the workers encode shards and the collector writes them there."""
        if not jobs:
            return
        ray = self._connect()
        items = [dataclasses.asdict(job) for job in sorted(jobs, key=lambda j: j.session_id)]
        per_task = self._per_task(ray, len(items))
        with warnings.catch_warnings():  # Ray 2.60 takes max_retries only this way, and warns
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / per_task)).map_batches(
                build_part, batch_size=per_task, batch_format="pyarrow", num_cpus=1, max_retries=TASK_RETRIES,
                compute=ray.data.TaskPoolStrategy(size=self.workers),
                fn_kwargs={"blobs": blobs, "release": release, "fmt": fmt})
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in batch.to_pylist():
                    yield row["kind"], row["split"], row["data"]
        except Exception as exc:
            raise StoreError(f"the Ray build failed: {_reason(exc)}") from None

    def _per_task(self, ray: ModuleType, jobs: int) -> int:
        """About eight tasks per worker: a slow session does not leave the others idle, and the
        first task, which Ray Data runs alone until it knows how large a task's output is, is
        short."""
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        return max(1, min(MAX_SESSIONS_PER_TASK, math.ceil(jobs / (8 * workers))))

    def _connect(self) -> ModuleType:
        ray = _ray()
        if not ray.is_initialized():
            extra = {"_node_ip_address": "127.0.0.1"} if on_loopback(self.address) else {}
            try:
                ray.init(address=self.address, logging_level="WARNING", log_to_driver=False, **extra)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise StoreError(f"cannot reach the Ray cluster at {self.address} ({_reason(exc)})") from None
            self._connected = True
            ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    def close(self) -> None:
        """Disconnects from the cluster if this engine connected (the cluster keeps running)."""
        if self._connected:
            _ray().shutdown()
            self._connected = False
