"""A collector store is built without touching its database or disk, and opened explicitly;
roles are checked in one place, before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from deskscribe.collector.roles import ROLES, Device, check_role, require
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from deskscribe.errors import Forbidden, Invalid


def test_a_store_is_built_without_a_database_and_opened_explicitly(tmp_path: Path) -> None:
    nowhere = CollectorStore(engine=connect("postgresql://nobody@127.0.0.1:1/none"), blobs=tmp_path / "blobs",
                             private_key=new_collector_key(), wall_ns=lambda: 7)
    assert nowhere.wall_ns() == 7 and not (tmp_path / "blobs").exists()
    with pytest.raises(OperationalError):
        nowhere.migrate()

    engine = connect(f"sqlite:///{tmp_path / 'c.db'}")
    store = CollectorStore.open(engine=engine, blobs=tmp_path / "blobs", private_key=new_collector_key())
    assert (tmp_path / "blobs").is_dir()
    device, _ = store.enrol(store.create_enrol_code())
    assert device.role == "contributor"
    _, token = store.enrol(store.create_enrol_code("steward"))
    store.migrate()  # a second time: nothing to do, nothing lost
    assert store.authenticate(token).role == "steward"
    engine.dispose()


def test_each_role_passes_only_its_own_checks() -> None:
    for role in ROLES:
        device = Device("d", "c", role)
        require(device, role)
        for other in set(ROLES) - {role}:
            with pytest.raises(Forbidden):
                require(device, other)
    with pytest.raises(Forbidden, match="only a contributor's device holds sessions"):
        require(Device("d", "c", "steward"), "contributor")
    with pytest.raises(Forbidden, match="needs the steward or ml_engineer role"):
        require(Device("d", "c", "auditor"), "steward", "ml_engineer")
    assert check_role("auditor") == "auditor"
    with pytest.raises(Invalid, match="role must be one of contributor, steward, ml_engineer, auditor"):
        check_role("boss")
