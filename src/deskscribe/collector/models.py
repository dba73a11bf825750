"""The collector's shapes on the wire: every request body and every answer of its HTTP API.

They are the API contract: the OpenAPI document is generated from them (and fuzzed), the
store and its services return them, and recorders read exactly these field names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# Request text never holds NUL: PostgreSQL refuses it in text columns, SQLite would keep it.
TEXT = r"^[^\x00]*$"

# -- requests ---------------------------------------------------------------------------------


class EnrolRequest(BaseModel):
    code: str = Field(pattern=TEXT, min_length=1, max_length=200)


class CodeRequest(BaseModel):
    role: str = Field(pattern=TEXT, default="contributor", max_length=16)
    region: str | None = Field(pattern=TEXT, default=None, max_length=32)


class KeyDeposit(BaseModel):
    wrapped: str = Field(pattern=TEXT, min_length=1, max_length=2000,
                         description="base64 of the data key wrapped with HPKE (or, from devices"
                                     " before HPKE, the old 80-byte X25519 box)")


class ConsentEntry(BaseModel):
    """One consent ledger entry, as a recorder reports it and as the collector holds it."""

    at_ns: int = Field(ge=0, le=2**62)
    action: Literal["accept", "withdraw"]
    notice_version: str | None = Field(pattern=TEXT, default=None, max_length=64)


class ConsentReport(BaseModel):
    entries: list[ConsentEntry] = Field(max_length=10_000)


class PolicyBody(BaseModel):
    toml: str = Field(pattern=TEXT, min_length=1, max_length=256 * 1024)


class RegionApproval(BaseModel):
    dpia_ref: str | None = Field(pattern=TEXT, default=None, max_length=200)
    works_agreement_ref: str | None = Field(pattern=TEXT, default=None, max_length=200)


class BuildRequest(BaseModel):
    format: str = Field(pattern=TEXT, default="hf", max_length=16)
    precision_ms: int = Field(default=100, ge=1, le=3_600_000)


class CompleteRequest(BaseModel):
    chunks: int = Field(ge=1, le=1_000_000)


# -- answers ----------------------------------------------------------------------------------


class Health(BaseModel):
    ok: bool


class Enrolled(BaseModel):
    device_id: str
    contributor_id: str
    role: str
    token: str = Field(description="The device credential; shown once, stored hashed.")
    collector_key: str = Field(description="ML-KEM-768 + X25519 public key (base64, 1216 bytes):"
                                           " wrap data keys for it with HPKE.")


class CollectorKey(BaseModel):
    collector_key: str = Field(description="ML-KEM-768 + X25519 public key (base64, 1216 bytes):"
                                           " wrap data keys for it with HPKE.")


class ChunkStored(BaseModel):
    stored: bool = Field(description="False when this exact chunk was stored before (a retry).")


class ChunkList(BaseModel):
    chunks: list[int] = Field(description="Indexes already stored: where a resumed upload continues.")


class Completed(BaseModel):
    complete: bool


class Erased(BaseModel):
    erased_sessions: int


class Objection(BaseModel):
    objecting: bool = Field(description="Whether the contributor's latest consent record is a withdrawal.")


class ConsentHeld(BaseModel):
    consent: list[ConsentEntry]
    key_on_file: bool


class PolicyAnswer(BaseModel):
    """The published policy as it applies to the asking device's region."""

    version: str
    region: str | None
    enabled: bool = Field(description="False until the region's required approvals are on record.")
    missing: list[str] = Field(description="Approvals the region still needs: dpia, works_agreement.")
    policy: dict[str, Any] = Field(description="The policy document with the region's rules applied.")


class EnrolCode(BaseModel):
    code: str


class Published(BaseModel):
    version: str


class RegionRecorded(BaseModel):
    recorded: list[str]


class Dataset(BaseModel):
    """A dataset built on the collector; its file key never leaves the database."""

    id: str
    fmt: str
    precision_ms: int
    state: Literal["building", "ready", "stale", "expired", "failed"]
    created_ns: int
    contributors: int
    sessions: int
    episodes: int
    steps: int
    bytes: int
    rebuild_of: str | None
    stale_reason: str | None


class DatasetList(BaseModel):
    datasets: list[Dataset]


class FileList(BaseModel):
    files: list[str]


class AuditEntry(BaseModel):
    seq: int
    at_ns: int
    actor: str
    action: str
    subject: str
    hash: str


class AuditLog(BaseModel):
    entries: list[AuditEntry]


class HeldSession(BaseModel):
    id: str
    bytes: int
    chunks: int | None = Field(description="Set once the upload is complete.")
    complete: bool


class HeldSessions(BaseModel):
    contributor_id: str
    sessions: list[HeldSession]


class FleetCell(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W49")
    app: str = Field(description="the website's host, or the application where no site was designated")
    action: str
    count: int = Field(description="actions, with Laplace noise; each person's week bounded first")


class FleetStats(BaseModel):
    min_people: int = Field(description="a cell appears only with at least this many contributors in it")
    cells: list[FleetCell]
