"""HTTPS with a real TLS connection: a throwaway CA and server certificate made here with
`cryptography`; browsers' cookies become Secure; the edge's uplink verifies the gateway against the
configured CA and refuses a gateway another CA vouches for."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.outbox import Outbox
from edge.uplink import GatewayClient, UplinkError, UplinkSender
from gateway.auth import Role
from gateway.config import GatewayConfig, HttpsConfig
from gateway.server import running_gateway
from gateway.tls import TlsSetupError
from iomt.wire.frames import encode_frame
from iomt.wire.uplink import RecordKind, UplinkRecord
from tests.gateway.auth_helpers import PASSWORD, Keys
from tests.gateway.helpers import ecg_frame


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> HttpsConfig:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("iomt gateway")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "gateway.crt", directory / "gateway.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return HttpsConfig(cert_file=cert_file, key_file=key_file)


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path, HttpsConfig]:
    """(our CA's file, another CA's file, the gateway's certificate signed by ours)."""
    ca_file, ca_key, ca = make_ca(tmp_path, "test-ca")
    other_ca, _, _ = make_ca(tmp_path, "other-ca")
    return ca_file, other_ca, make_server_cert(tmp_path, ca_key, ca)


async def test_the_gateway_serves_https_and_its_session_cookie_is_secure(tmp_path, pki):
    ca_file, other_ca, tls = pki
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", tls=tls)
    async with running_gateway(config) as gw:
        assert gw.url.startswith("https://")
        Keys(gw).user("ann", Role.VIEWER)
        trusted = ssl.create_default_context(cafile=ca_file)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gw.url}/healthz", ssl=trusted) as r:
                assert r.status == 200
            _reader, writer = await asyncio.open_connection("127.0.0.1", gw.port, ssl=trusted)
            assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
            assert writer.get_extra_info("peercert")["subject"] == ((("commonName", "iomt gateway"),),)
            writer.close()
            await writer.wait_closed()
            async with http.post(f"{gw.url}/api/v1/login", json={"username": "ann", "password": PASSWORD},
                                 ssl=trusted) as r:
                assert r.status == 200
                morsel = SimpleCookie(r.headers["Set-Cookie"])["iomt_session"]
                assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Strict"
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(f"{gw.url}/healthz", ssl=ssl.create_default_context(cafile=other_ca))
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(f"{gw.url}/healthz")  # the system's CAs do not know ours
            with pytest.raises(aiohttp.ClientError):
                await http.get(f"http://127.0.0.1:{gw.port}/healthz")  # no plain HTTP on the TLS port


async def test_the_edge_uplink_verifies_the_gateway_against_its_ca(tmp_path, pki):
    ca_file, other_ca, tls = pki
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", tls=tls)
    async with running_gateway(config) as gw:
        token = Keys(gw).edge_token("edge-1")
        records = [UplinkRecord(RecordKind.FRAME, encode_frame(ecg_frame("p1", s))) for s in range(3)]
        impostor = UplinkSender(Outbox(tmp_path / "refused.sqlite"),
                                GatewayClient(gw.url, 5.0, "edge-1", token, ca_file=other_ca), 100)
        impostor.outbox.append(records)
        with pytest.raises(UplinkError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await asyncio.to_thread(impostor.send_once)
        assert impostor.outbox.depth() == 3  # nothing sent, nothing lost
        sender = UplinkSender(Outbox(tmp_path / "outbox.sqlite"),
                              GatewayClient(gw.url, 5.0, "edge-1", token, ca_file=ca_file), 100)
        sender.outbox.append(records)
        assert await asyncio.to_thread(sender.send_once) == 3
        assert gw.store.stored_sequences("p1", "ecg") == [0, 1, 2]
        for s in (sender, impostor):
            s.client.close()
            s.outbox.close()


def test_a_missing_or_mismatched_certificate_is_a_clear_error(tmp_path, pki):
    from gateway.tls import server_context

    _, _, tls = pki
    with pytest.raises(TlsSetupError, match=r"tls\.cert_file .* does not exist"):
        server_context(HttpsConfig(cert_file=tmp_path / "nope.crt", key_file=tls.key_file))
    other_key = tmp_path / "other.key"
    other_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(TlsSetupError, match="belong together"):
        server_context(HttpsConfig(cert_file=tls.cert_file, key_file=other_key))
