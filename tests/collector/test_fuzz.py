"""Schemathesis fuzzing of the collector's OpenAPI spec over real HTTP, on both backends: no
input makes it fail (5xx), and every refused request (4xx) leaves the stored state unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from deskscribe.collector.app import create_app
from deskscribe.collector.policies import Policies
from deskscribe.collector.schema import metadata
from deskscribe.collector.store import CollectorStore, connect
from deskscribe.envelope import new_collector_key
from tests.support import Served, enrol


def _spec() -> dict[str, Any]:
    """The spec the collector serves (it does not depend on the store behind it)."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = connect(f"sqlite:///{tmp}/spec.db")
        app = create_app(store=CollectorStore.open(engine=engine, blobs=Path(tmp) / "b", private_key=new_collector_key()))
        spec = app.openapi()
        engine.dispose()
    return spec


schema = schemathesis.openapi.from_dict(_spec())


@pytest.fixture
def tokens(served: Served) -> dict[str, str]:
    Policies(store=served.store).publish('version = "1"\ndesignated_apps = ["XTerm"]\n', actor="test")
    return {role: enrol(served, role)["token"] for role in ("contributor", "steward", "ml_engineer", "auditor")}


def state(served: Served) -> tuple[object, ...]:
    """Every table's row count except the audit log, and every stored file."""
    with served.store.engine.connect() as c:
        counts = tuple(c.execute(select(func.count()).select_from(t)).scalar()
                       for t in metadata.sorted_tables if t.name != "audit")
    return counts + (sorted(str(p) for p in served.store.blobs.root.rglob("*")),)


def role_for(path: str) -> str:
    if path.startswith("/v1/admin") or path in ("/v1/datasets", "/v1/datasets/{dataset_id}/rebuild"):
        return "steward"
    if path.startswith("/v1/datasets"):
        return "ml_engineer"
    return "auditor" if path == "/v1/audit" else "contributor"


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_collector_or_stores_anything_when_refused(case: Any, served: Served,
                                                                     tokens: dict[str, str]) -> None:
    before = state(served)
    response = case.call(base_url=served.url, headers={"Authorization": f"Bearer {tokens[role_for(case.operation.path)]}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if 400 <= response.status_code < 500:
        assert state(served) == before, (case.method, case.formatted_path, response.status_code)
        assert "detail" in response.json()  # the refusal says why
