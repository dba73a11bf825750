"""HTTPS end to end: `deskscribe serve --tls-cert/--tls-key`, `deskscribe enrol --ca` and the
uploads after it, with a certificate authority made here; and `serve` refusing plain HTTP
where other machines could reach it."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deskscribe.cli.collector import plain_http_refusal
from tests.collector.test_abuse import CollectorProcess
from tests.support import cli, events_in, free_port, one_line_error, rounded, sealed_session


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(out: Path, common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def make_server_cert(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], cert_out: Path, key_out: Path) -> None:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("collector.test")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_out.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key", "other_ca")}
    make_server_cert(make_ca(files["ca"], "deskscribe test CA"), files["cert"], files["key"])
    make_ca(files["other_ca"], "someone else's CA")
    return files


def test_enrol_and_upload_over_https_with_the_organisations_ca(tmp_path: Path, env: dict[str, str],
                                                               pki: dict[str, Path]) -> None:
    ca = ssl.create_default_context(cafile=str(pki["ca"]))
    server = CollectorProcess(tmp_path, env, f"sqlite:///{tmp_path / 'collector.db'}", "--tls-cert",
                              str(pki["cert"]), "--tls-key", str(pki["key"]), ca=ca).start()
    data = tmp_path / "device"
    try:
        assert server.url.startswith("https://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)  # no plain HTTP beside it
        code = server.code()
        untrusted = cli("enrol", server.url, code, "--data-dir", str(data), env=env, check=False)
        one_line_error(untrusted, "CERTIFICATE_VERIFY_FAILED")  # the system's CAs do not vouch for it
        wrong = cli("enrol", server.url, code, "--ca", str(pki["other_ca"]), "--data-dir", str(data), env=env,
                    check=False)
        one_line_error(wrong, "CERTIFICATE_VERIFY_FAILED")  # nor does another CA
        assert not (data / "collector.json").exists()

        cli("enrol", server.url, code, "--ca", str(pki["ca"]), "--data-dir", str(data), env=env)
        cred = json.loads((data / "collector.json").read_text())
        assert cred["url"] == server.url and cred["ca_pem"] == pki["ca"].read_text()
        pki["ca"].unlink()  # later calls use the copy kept with the credential
        sid = sealed_session(data, events=3000)
        cli("review", "approve", sid, "--data-dir", str(data), env=env)
        assert f"uploaded session {sid}" in cli("upload", "--data-dir", str(data), env=env).stdout
        cli("me", "export", "--out", str(tmp_path / "export"), "--data-dir", str(data), env=env)
        manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
        assert [s["id"] for s in manifest["sessions"]] == [sid]
        exported = (tmp_path / "export" / "sessions" / f"{sid}.db").read_bytes()
        local = (data / "sessions" / f"{sid}.db").read_bytes()
        assert events_in(exported, sid, data) == rounded(events_in(local, sid, data), 100)
    finally:
        server.stop()
    assert server.rows("sessions") == 1 and server.rows("chunks") >= 2


def test_enrol_refuses_a_ca_it_cannot_use(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "device"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    url = f"https://127.0.0.1:{free_port()}"
    one_line_error(cli("enrol", url, "CODE", "--ca", str(tmp_path / "missing.pem"), "--data-dir", str(data),
                       env=env, check=False), "cannot read the certificate authority")
    one_line_error(cli("enrol", url, "CODE", "--ca", str(junk), "--data-dir", str(data), env=env, check=False),
                   "is not a PEM certificate")
    one_line_error(cli("enrol", url.replace("https", "http"), "CODE", "--ca", str(junk), "--data-dir", str(data),
                       env=env, check=False), "--ca is for a collector served over HTTPS")
    assert not (data / "collector.json").exists()


def test_serve_refuses_plain_http_where_other_machines_reach_it(tmp_path: Path, env: dict[str, str],
                                                                pki: dict[str, Path]) -> None:
    srv = ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir", str(tmp_path / "srv"),
           "--port", str(free_port())]
    for host in ("0.0.0.0", "::"):
        one_line_error(cli("serve", "--host", host, *srv, env=env, check=False), "refusing plain HTTP")
    one_line_error(cli("serve", "--tls-cert", str(pki["cert"]), *srv, env=env, check=False),
                   "--tls-cert and --tls-key go together")
    one_line_error(cli("serve", "--tls-cert", str(pki["ca"]), "--tls-key", str(pki["key"]), *srv, env=env,
                       check=False), "are not a PEM certificate and its private key")
    one_line_error(cli("serve", "--read-timeout", "0", *srv, env=env, check=False), "--read-timeout must be")
    assert not (tmp_path / "c.db").exists()  # refused before anything was opened or bound

    # The decision itself, for addresses no test may listen on:
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        assert plain_http_refusal(host, 8470, tls=False, behind_proxy=False)
        assert plain_http_refusal(host, 8470, tls=True, behind_proxy=False) is None
        assert plain_http_refusal(host, 8470, tls=False, behind_proxy=True) is None
    for host in ("127.0.0.1", "localhost", "::1"):
        assert plain_http_refusal(host, 8470, tls=False, behind_proxy=False) is None


def test_behind_a_tls_proxy_the_forwarded_client_address_counts(tmp_path: Path, env: dict[str, str]) -> None:
    server = CollectorProcess(tmp_path, env, f"sqlite:///{tmp_path / 'collector.db'}", "--behind-tls-proxy").start()
    try:
        def attempt(client: str, code: str) -> int:
            return httpx.post(f"{server.url}/v1/enrol", json={"code": code}, headers={"X-Forwarded-For": client},
                              timeout=10).status_code

        assert [attempt("203.0.113.7", f"WRONG-{i}") for i in range(11)] == [403] * 10 + [429]
        assert attempt("203.0.113.8", server.code()) == 201  # the proxy's other clients enrol
    finally:
        server.stop()
