"""What people type at a collector: enrolment codes read off a screen, policies with typos."""

from __future__ import annotations

import re
from pathlib import Path

from deskscribe.collector.store import CollectorStore
from tests.support import Served, cli, enrol

CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){4}")


def test_enrolment_codes_are_letters_and_digits_a_shell_never_takes_for_an_option(store: CollectorStore) -> None:
    codes = [store.create_enrol_code() for _ in range(300)]  # 1 in 64 random url-safe codes starts with '-'
    assert all(CODE.fullmatch(c) for c in codes), [c for c in codes if not CODE.fullmatch(c)][:3]
    assert len(set(codes)) == len(codes)
    device, _ = store.enrol(f"  {codes[0].lower().replace('-', ' ')} ")  # as read aloud and typed
    assert device.role == "contributor"


def test_a_policy_with_a_misspelt_key_is_refused_naming_the_key(served: Served) -> None:
    steward = enrol(served, "steward")["token"]
    typo = 'version = "2026-12"\ndesignated_apps = ["XTerm"]\ndeny_lst = ["Jane Roe"]\n'
    with served.client(steward) as c:
        r = c.post("/v1/admin/policies", json={"toml": typo})
        assert r.status_code == 400
        assert r.json()["detail"] == "policy: unknown key 'deny_lst' (did you mean 'deny_list'?)"
        region = c.post("/v1/admin/policies", json={"toml": 'version = "2026-12"\ndesignated_apps = ["XTerm"]\n'
                                                            '[regions.DE]\nscreenshot_intervall_s = 5\n'})
        assert region.status_code == 400 and "'regions.DE.screenshot_interval_s'?" in region.json()["detail"]
    with served.client(enrol(served)["token"]) as c:
        assert c.get("/v1/policy").status_code == 404  # nothing was published


def test_admin_policy_publish_of_a_typo_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "1"\ndesignated_apps = ["XTerm"]\n[retention]\nsesions_days = 30\n')
    out = cli("admin", "policy", "publish", str(policy), "--db", f"sqlite:///{tmp_path / 'c.db'}",
              "--blobs", str(tmp_path / "blobs"), env=env, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "deskscribe: error: policy: unknown key 'retention.sesions_days' (did you mean 'retention.sessions_days'?)"]


def test_a_policy_published_before_typos_were_refused_is_not_served_as_if_valid(served: Served) -> None:
    from deskscribe.collector.schema import policies

    with served.store.engine.begin() as c:  # as an older collector stored it
        c.execute(policies.insert().values(version="old", body='version = "old"\ndesignated_apps = ["XTerm"]\n'
                                                                'deny_lst = ["Jane Roe"]\n', published_ns=1))
    with served.client(enrol(served)["token"]) as c:
        r = c.get("/v1/policy")
    assert r.status_code == 409
    assert r.json()["detail"].startswith("policy old: unknown key 'deny_lst' (did you mean 'deny_list'?);")
