"""The audit chain stays one chain when many requests append at once, on both backends: two
appends never chain onto the same entry (which verification would report as tampering)."""

from __future__ import annotations

import threading

from deskscribe.collector.audit_chain import verify
from deskscribe.collector.store import CollectorStore


def test_concurrent_appends_keep_one_chain(store: CollectorStore) -> None:
    start = threading.Barrier(8)

    def append_many(worker: int) -> None:
        start.wait()
        for i in range(40):
            with store.engine.begin() as c:
                store.audit(c, f"worker{worker}", "dataset_file_read", f"entry{i}")

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verify(store.engine) is None
    with store.engine.connect() as c:
        from sqlalchemy import func, select

        from deskscribe.collector.schema import audit

        assert c.execute(select(func.count()).select_from(audit)).scalar() >= 8 * 40
