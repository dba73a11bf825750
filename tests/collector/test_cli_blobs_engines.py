"""Wrong blob stores and build engines are refused in one line before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import free_port, one_line_error, run


@pytest.mark.parametrize(("args", "needle"), [
    (("--engine", "rai"), "--engine must be local or ray, not 'rai'"),
    (("--engine", "ray", "--format", "jsonl"), "the ray engine builds hf"),
    (("--blobs", "gs://bucket/x"), "blobs go in a directory or s3://BUCKET[/PREFIX]"),
    (("--blobs", "s3://"), "an S3 blob store is s3://BUCKET[/PREFIX]"),
])
def test_a_wrong_engine_or_blob_store_is_one_line(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    one_line_error(run("admin", "dataset", "build", *args, "--data-dir", str(tmp_path)), needle)


def test_a_bucket_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = run("admin", "dataset", "list", "--blobs", "s3://deskscribe/x", "--data-dir", str(tmp_path),
              env_extra={"AWS_ENDPOINT_URL": dead, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
                         "AWS_MAX_ATTEMPTS": "1"})
    one_line_error(out, "cannot reach the bucket deskscribe")


def test_a_bucket_without_credentials_says_which_are_missing(tmp_path: Path) -> None:
    out = run("admin", "dataset", "list", "--blobs", "s3://deskscribe/x", "--data-dir", str(tmp_path),
              env_extra={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_CONFIG_FILE": "/dev/null",
                         "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
              drop=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    one_line_error(out, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
