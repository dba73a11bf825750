"""`deskscribe admin login-link`: a link on stdout that signs in once, and one-line errors for
what cannot make one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from tests.support import Served, enrol, one_line_error, run


def admin(tmp: Path, *args: str) -> list[str]:
    return ["admin", *args, "--db", f"sqlite:///{tmp / 'c.db'}", "--blobs", str(tmp / "blobs"),
            "--key-file", str(tmp / "c.key")]


@pytest.mark.parametrize(("args", "needle"), [
    (("--role", "contributor"), "give --device DEVICE_ID"),
    (("--role", "superuser"), "role must be one of"),
    (("--role", "steward", "--url", "ftp://collector"), "--url must start with http:// or https://"),
    (("--role", "contributor", "--device", "nosuchdevice"), "no device nosuchdevice"),
])
def test_what_cannot_make_a_link_is_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    out = run(*admin(tmp_path, "login-link", *args))
    one_line_error(out, needle)
    assert out.stdout == ""


def test_a_printed_link_signs_a_contributor_in_as_their_device(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'c.db'}")
    served = Served(CollectorStore.open(engine=engine, blobs=tmp_path / "blobs",
                                        private_key=new_collector_key())).start()
    try:
        device = enrol(served)["device_id"]
        out = run(*admin(tmp_path, "login-link", "--role", "contributor", "--device", device, "--url", served.url))
        assert out.returncode == 0, out.stderr
        link = out.stdout.strip()
        with httpx.Client(timeout=10) as c:
            assert c.get(link).status_code == 200
            signed = c.post(f"{served.url}/ui/sign-in", data={"link": link.split("link=", 1)[1]},
                            follow_redirects=True)
            assert signed.status_code == 200 and str(signed.url).endswith("/ui/me") and device in signed.text
        assert "login-link" in run("admin", "--help").stdout
    finally:
        served.stop()
        engine.dispose()
