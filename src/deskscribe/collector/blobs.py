"""Where the collector keeps uploaded chunks and sealed dataset files: a local directory (the
embedded default) or an S3-compatible bucket (``s3://bucket/prefix``, through fsspec's s3fs).

Names are ``{contributor}/{session}/{idx:06d}`` for chunks and ``_datasets/{id}/{file}`` for
dataset files. Either store shows an object only once it is complete: locally a write goes to
a temporary file that is renamed into place; in S3 a PUT (or a multipart upload) is published
whole when it finishes, so a collector killed mid-write leaves nothing a reader can see. Both
are small frozen values, so a build can hand the store to workers that read it themselves.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from deskscribe.atomic_file import write_atomic
from deskscribe.errors import Invalid, StoreError

DATASETS = "_datasets"  # contributor ids are hex, never this


class BlobStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def put_file(self, name: str, source: Path) -> None:
        """``source`` becomes the blob ``name`` and is gone afterwards (moved where it can be)."""
    def get(self, name: str) -> bytes: ...
    def reading(self, name: str) -> AbstractContextManager[BinaryIO]: ...
    def size(self, name: str) -> int: ...
    def names(self, prefix: str) -> list[str]: ...
    def delete(self, prefix: str) -> None: ...
    def move(self, src: str, dst: str) -> None: ...
    def ensure(self) -> None: ...
    def describe(self) -> str: ...


def _checked(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise Invalid(f"not a blob name: {name!r}")
    return name


@dataclass(frozen=True)
class LocalBlobs:
    """Blobs as files under ``root``, each replaced in one rename after an fsync."""

    root: Path

    def _path(self, name: str) -> Path:
        return self.root / _checked(name)

    def put(self, name: str, data: bytes) -> None:
        write_atomic(self._path(name), data)

    def put_file(self, name: str, source: Path) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.move(source, tmp)  # a rename on one file system, a copy across two
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"the blob {name} is missing from {self.root}") from None

    @contextmanager
    def reading(self, name: str) -> Iterator[BinaryIO]:
        with open(self._path(name), "rb") as fh:
            yield fh

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def names(self, prefix: str) -> list[str]:
        """Every complete blob under ``prefix`` ("" for all), named relative to it."""
        root = self._path(prefix) if prefix else self.root
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and not p.name.endswith(".tmp"))

    def delete(self, prefix: str) -> None:
        path = self._path(prefix)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def move(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path(src).rename(target)

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return str(self.root)


@dataclass(frozen=True)
class S3Blobs:
    """Blobs as objects under ``s3://bucket/prefix``. ``options`` go to s3fs (endpoint_url,
    key, secret, ...); fsspec keeps one filesystem per set of options in each process."""

    url: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def _fs(self) -> Any:
        try:
            import fsspec
        except ImportError:
            raise StoreError("S3 blobs need s3fs: pip install 'deskscribe[s3]'") from None
        try:
            # listings are not cached: another collector may have written since
            return fsspec.filesystem("s3", use_listings_cache=False, **self.options)
        except ImportError:
            raise StoreError("S3 blobs need s3fs: pip install 'deskscribe[s3]'") from None

    def _path(self, name: str) -> str:
        return f"{self.url.removeprefix('s3://').rstrip('/')}/{_checked(name)}"

    def put(self, name: str, data: bytes) -> None:
        self._fs().pipe_file(self._path(name), data)

    def put_file(self, name: str, source: Path) -> None:
        self._fs().put_file(str(source), self._path(name))
        source.unlink()

    def get(self, name: str) -> bytes:
        try:
            return bytes(self._fs().cat_file(self._path(name)))
        except FileNotFoundError:
            raise StoreError(f"the blob {name} is missing from {self.url}") from None

    @contextmanager
    def reading(self, name: str) -> Iterator[BinaryIO]:
        with self._fs().open(self._path(name), "rb") as fh:
            yield fh

    def size(self, name: str) -> int:
        return int(self._fs().size(self._path(name)))

    def names(self, prefix: str) -> list[str]:
        fs = self._fs()
        root = self._path(prefix) if prefix else self.url.removeprefix("s3://").rstrip("/")
        try:
            found = fs.find(root)
        except FileNotFoundError:
            return []
        return sorted(p[len(root) + 1:] for p in found if p.startswith(root + "/"))

    def delete(self, prefix: str) -> None:
        fs, path = self._fs(), self._path(prefix)
        gone = fs.find(path) or ([path] if fs.exists(path) else [])
        if gone:
            fs.rm(gone)
        fs.invalidate_cache()

    def move(self, src: str, dst: str) -> None:
        """Copied object by object, then the sources deleted: S3 has no rename."""
        fs, root, target = self._fs(), self._path(src), self._path(dst)
        found = fs.find(root)
        for p in found:
            fs.copy(p, target + p[len(root):])
        if found:
            fs.rm(found)
        fs.invalidate_cache()

    def ensure(self) -> None:
        fs, bucket = self._fs(), self.url.removeprefix("s3://").split("/")[0]
        try:
            if not fs.exists(bucket):
                fs.mkdir(bucket)
        except Exception as exc:  # botocore's errors share no base with OSError: any is one line
            hint = ("; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" if "credentials" in str(exc).lower()
                    else "")
            raise StoreError(f"cannot reach the bucket {bucket} at {self.describe()} ({exc}){hint}") from None

    def describe(self) -> str:
        endpoint = self.options.get("endpoint_url") or self.options.get("client_kwargs", {}).get(
            "endpoint_url")
        return self.url + (f" at {endpoint}" if endpoint else "")


def open_blobs(where: str | Path, *, options: dict[str, Any] | None = None) -> BlobStore:
    """A store for a directory or an ``s3://bucket[/prefix]`` URL."""
    text = str(where)
    if text.startswith("s3://"):
        if len(text) <= len("s3://") or text[len("s3://")] == "/":
            raise Invalid("an S3 blob store is s3://BUCKET[/PREFIX]")
        return S3Blobs(url=text.rstrip("/"), options=dict(options or {}))
    if "://" in text:
        raise Invalid(f"blobs go in a directory or s3://BUCKET[/PREFIX], not {text}")
    return LocalBlobs(root=Path(text))
