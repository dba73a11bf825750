"""Versioned policies published by stewards, and the region approvals they may require.

A recorder asks for the policy as it applies to its device's region. A region whose rules
require a DPIA or works-agreement reference is served as disabled until the steward records
them, so nobody there is recorded before the paperwork exists.
"""

from __future__ import annotations

import tomllib
from typing import Any

from sqlalchemy import select

from deskscribe.collector.models import PolicyAnswer
from deskscribe.collector.roles import Device, require
from deskscribe.collector.schema import policies, region_approvals
from deskscribe.collector.store import CollectorStore
from deskscribe.errors import Conflict, Invalid, NotFound, PolicyError
from deskscribe.policy import Policy, for_region, missing_approvals, parse_policy

MAX_POLICY_BYTES = 256 * 1024


class Policies:
    def __init__(self, *, store: CollectorStore) -> None:
        self.store = store

    def publish(self, body: str, *, actor: str) -> str:
        """Store a new policy version; publishing the same document again changes nothing."""
        if len(body.encode()) > MAX_POLICY_BYTES:
            raise Invalid(f"a policy is at most {MAX_POLICY_BYTES // 1024} KiB")
        policy = _parse(body)
        with self.store.engine.begin() as c:
            old = c.execute(select(policies.c.body).where(policies.c.version == policy.version)).first()
            if old is not None:
                if old.body != body:
                    raise Conflict(
                        f"policy version {policy.version} was published with other content; raise its version"
                    )
                return policy.version
            c.execute(
                policies.insert().values(version=policy.version, body=body, published_ns=self.store.wall_ns())
            )
            self.store.audit(c, actor, "policy_publish", policy.version)
        return policy.version

    def publish_as(self, device: Device, body: str) -> str:
        require(device, "steward")
        return self.publish(body, actor=device.id)

    def current(self) -> tuple[str, dict[str, Any]] | None:
        with self.store.engine.connect() as c:
            row = c.execute(select(policies).order_by(policies.c.seq.desc()).limit(1)).first()
        return None if row is None else (row.version, tomllib.loads(row.body))

    def approve_region(
        self, region: str, *, dpia: str | None, works_agreement: str | None, actor: str
    ) -> None:
        if not (dpia or works_agreement):
            raise Invalid("record at least one reference: a DPIA or a works agreement")
        with self.store.engine.begin() as c:
            row = c.execute(select(region_approvals).where(region_approvals.c.region == region)).first()
            values = {
                "dpia_ref": dpia or (row.dpia_ref if row else None),
                "works_agreement_ref": works_agreement or (row.works_agreement_ref if row else None),
                "recorded_ns": self.store.wall_ns(),
            }
            if row is None:
                c.execute(region_approvals.insert().values(region=region, **values))
            else:
                c.execute(
                    region_approvals.update().where(region_approvals.c.region == region).values(**values)
                )
            self.store.audit(
                c,
                actor,
                "region_approve",
                region,
                f"dpia={values['dpia_ref'] or '-'} works_agreement={values['works_agreement_ref'] or '-'}",
            )

    def approve_region_as(
        self, device: Device, region: str, *, dpia: str | None, works_agreement: str | None
    ) -> None:
        require(device, "steward")
        self.approve_region(region, dpia=dpia, works_agreement=works_agreement, actor=device.id)

    def recorded(self, region: str | None) -> set[str]:
        if not region:
            return set()
        with self.store.engine.connect() as c:
            row = c.execute(select(region_approvals).where(region_approvals.c.region == region)).first()
        if row is None:
            return set()
        return {
            name
            for name, ref in (("dpia", row.dpia_ref), ("works_agreement", row.works_agreement_ref))
            if ref
        }

    def for_device(self, device: Device) -> PolicyAnswer:
        """The policy as it applies to this device's region, and whether recording may start."""
        current = self.current()
        if current is None:
            raise NotFound(
                "no policy is published yet; a steward publishes one with"
                " `deskscribe admin policy publish FILE`"
            )
        version, raw = current
        try:
            parsed = parse_policy(raw, source=f"policy {version}")
        except PolicyError as exc:  # published before unknown keys were refused
            raise Conflict(f"{exc}; a steward publishes a corrected policy with a new version") from None
        missing = missing_approvals(parsed, device.region, self.recorded(device.region))
        return PolicyAnswer(version=version, region=device.region, enabled=not missing, missing=missing,
                            policy=for_region(raw, device.region))


def _parse(body: str) -> Policy:
    try:
        raw = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"the policy is not valid TOML: {exc}") from None
    if "version" not in raw:
        raise Invalid('a published policy needs a version, e.g. version = "2026-11"')
    try:
        return parse_policy(raw, source="policy")
    except PolicyError as exc:
        raise Invalid(str(exc)) from None
