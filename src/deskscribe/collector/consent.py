"""Contributors' consent records as their recorders report them: acknowledgements and
objections. The latest record decides; an objection stops uploads (enforced by the store)
and keeps the person out of dataset builds."""

from __future__ import annotations

from sqlalchemy import select

from deskscribe.collector.models import ConsentEntry, ConsentHeld
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import consent, wrapped_keys
from deskscribe.collector.store import CollectorStore


class ConsentRecords:
    def __init__(self, *, store: CollectorStore) -> None:
        self.store = store

    def record(self, device: Device, entries: list[tuple[int, str, str | None]]) -> bool:
        """Add the device's consent ledger entries (at_ns, accept|withdraw, notice version);
        repeats are ignored. Returns whether the contributor now objects."""
        require(device, "contributor")
        with self.store.engine.begin() as c:
            mine = consent.c.contributor_id == device.contributor_id
            held = c.execute(select(consent.c.at_ns, consent.c.action).where(mine))
            have = {(r.at_ns, r.action) for r in held}
            new = [e for e in dict.fromkeys(entries) if (e[0], e[1]) not in have]
            for at_ns, action, version in new:
                c.execute(consent.insert().values(contributor_id=device.contributor_id, at_ns=at_ns,
                                                  action=action, notice_version=version))
            if new:
                self.store.audit(c, device.id, "consent", device.contributor_id,
                                 ",".join(sorted({a for _, a, _ in new})))
            return self.store.objects(c, device.contributor_id)

    def objecting(self) -> set[str]:
        """Contributors whose latest consent record is a withdrawal."""
        with self.store.engine.connect() as c:
            rows = c.execute(select(consent).order_by(consent.c.at_ns)).all()
        latest = {r.contributor_id: r.action for r in rows}
        return {who for who, action in latest.items() if action == "withdraw"}

    def held_about(self, device: Device) -> ConsentHeld:
        """What the collector holds about this contributor besides sessions: consent records
        and whether a wrapped data key is on file."""
        require(device, "contributor")
        who = device.contributor_id
        with self.store.engine.connect() as c:
            rows = c.execute(select(consent).where(consent.c.contributor_id == who).order_by(consent.c.at_ns))
            records = [ConsentEntry(at_ns=r.at_ns, action=r.action, notice_version=r.notice_version)
                       for r in rows]
            keyed = c.execute(select(wrapped_keys.c.contributor_id)
                              .where(wrapped_keys.c.contributor_id == who)).first() is not None
        return ConsentHeld(consent=records, key_on_file=keyed)
