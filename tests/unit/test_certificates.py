"""A world's CA and host certificates: their contents, the fault variants, the caches, real ssl sockets."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from simulator.net import certificates
from simulator.net.certificates import VARIANTS, WRONG_HOST_NAME, WorldPKI, clear_memory_cache, default_cache_dir
from simulator.protocol.tls import TLSLayer, TLSState

HOSTS = ("smtp.example.com", "mx.example.org", "mail.example.org")


@pytest.fixture(scope="module")
def pki() -> WorldPKI:
    return WorldPKI(HOSTS)


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def san(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def test_ca_is_a_ca(pki: WorldPKI) -> None:
    ca = load(pki.ca_pem())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject == ca.issuer
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365)


@pytest.mark.parametrize("host", HOSTS)
def test_good_leaf_names_host_and_loopback(pki: WorldPKI, host: str) -> None:
    leaf = load(pki.leaf_pem(host))
    dns, ips = san(leaf)
    assert dns == [host, "localhost"]
    assert ips == ["127.0.0.1"]
    assert leaf.issuer == load(pki.ca_pem()).subject
    assert leaf.not_valid_before_utc < datetime.datetime.now(datetime.UTC) < leaf.not_valid_after_utc
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(load(pki.ca_pem()))


def test_fault_variants(pki: WorldPKI) -> None:
    host = "mx.example.org"
    now = datetime.datetime.now(datetime.UTC)
    expired = load(pki.leaf_pem(host, "expired"))
    assert expired.not_valid_after_utc < now
    expired.verify_directly_issued_by(load(pki.ca_pem()))
    wrong = load(pki.leaf_pem(host, "wrong-host"))
    assert san(wrong) == ([WRONG_HOST_NAME], [])
    untrusted = load(pki.leaf_pem(host, "untrusted"))
    assert untrusted.issuer == load(pki.untrusted_ca_pem()).subject
    assert untrusted.issuer != load(pki.ca_pem()).subject
    untrusted.verify_directly_issued_by(load(pki.untrusted_ca_pem()))
    assert len({pki.leaf_pem(host, v) for v in VARIANTS}) == len(VARIANTS)


def test_extra_names_are_configurable() -> None:
    pki = WorldPKI(["relay.example.net"], extra_names=("relay", "::1"))
    assert san(load(pki.leaf_pem("relay.example.net"))) == (["relay.example.net", "relay"], ["::1"])


def test_bad_arguments(pki: WorldPKI) -> None:
    with pytest.raises(ValueError, match=r"no 'ok' certificate for 'nowhere\.example'"):
        pki.server_context("nowhere.example")
    with pytest.raises(ValueError, match="at least one host"):
        WorldPKI([])


def test_contexts(pki: WorldPKI) -> None:
    server = pki.server_context("mx.example.org")
    assert server is not pki.server_context("mx.example.org")  # fresh: callers may tune one
    client = pki.client_context()
    assert client.check_hostname
    assert client.verify_mode is ssl.CERT_REQUIRED
    assert len(client.get_ca_certs()) == 1
    loose = pki.client_context(verify=False)
    assert not loose.check_hostname
    assert loose.verify_mode is ssl.CERT_NONE


def test_memory_cache_is_keyed_by_host_set() -> None:
    first = WorldPKI(["a.cache.test", "b.cache.test"])
    again = WorldPKI(["b.cache.test", "a.cache.test", "a.cache.test"])
    other = WorldPKI(["a.cache.test"])
    assert first.source == "built"
    assert again.source == "memory"
    assert again.ca_pem() == first.ca_pem()
    assert again.hosts == ("a.cache.test", "b.cache.test")
    assert other.ca_pem() != first.ca_pem()


def test_disk_cache_round_trip(tmp_path: Path) -> None:
    hosts = ["disk.cache.test"]
    clear_memory_cache()  # start from nothing, so that the disk cache is written
    built = WorldPKI(hosts, cache_dir=tmp_path / "cache")
    assert built.source == "built"
    files = list((tmp_path / "cache").glob("pki-*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600  # private keys inside
    clear_memory_cache()
    loaded = WorldPKI(hosts, cache_dir=tmp_path / "cache")
    assert loaded.source == "disk"
    assert loaded.ca_pem() == built.ca_pem()
    assert loaded.leaf_pem("disk.cache.test", "expired") == built.leaf_pem("disk.cache.test", "expired")
    # The loaded material works: a handshake against it verifies.
    client = TLSLayer(loaded.client_context(), server_side=False, server_hostname="disk.cache.test")
    server = TLSLayer(loaded.server_context("disk.cache.test"), server_side=True)
    server.receive(client.take_outgoing())
    client.receive(server.take_outgoing())
    server.receive(client.take_outgoing())
    assert client.state is TLSState.ESTABLISHED
    assert server.state is TLSState.ESTABLISHED


@pytest.mark.parametrize("content", ["not json", '{"format": 1}', '{"format": 99}', "[]", '{"format": 1, "ca": 3}'])
def test_corrupt_disk_cache_is_rebuilt(tmp_path: Path, content: str) -> None:
    hosts = ["corrupt.cache.test"]
    clear_memory_cache()  # start from nothing, so that the disk cache is written
    WorldPKI(hosts, cache_dir=tmp_path)
    clear_memory_cache()
    (file,) = tmp_path.glob("pki-*.json")
    file.write_text(content)
    rebuilt = WorldPKI(hosts, cache_dir=tmp_path)
    assert rebuilt.source == "built"
    assert load(rebuilt.ca_pem())  # usable
    clear_memory_cache()
    assert WorldPKI(hosts, cache_dir=tmp_path).source == "disk"  # and the file was rewritten


def test_cache_near_expiry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ["stale.cache.test"]
    clear_memory_cache()  # start from nothing, so that the disk cache is written
    first = WorldPKI(hosts, cache_dir=tmp_path)
    monkeypatch.setattr(certificates, "_RENEW_BEFORE", datetime.timedelta(days=10_000))
    first.server_context("stale.cache.test")  # its key file is written
    again = WorldPKI(hosts, cache_dir=tmp_path)
    assert again.source == "built"
    assert again.ca_pem() != first.ca_pem()
    # The remade world presents its own new certificate, not the file made for the old one.
    client = TLSLayer(again.client_context(), server_side=False, server_hostname="stale.cache.test")
    server = TLSLayer(again.server_context("stale.cache.test"), server_side=True)
    server.receive(client.take_outgoing())
    client.receive(server.take_outgoing())
    assert client.state is TLSState.ESTABLISHED, client.error


def test_unwritable_cache_dir_is_harmless(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    pki = WorldPKI(["unwritable.cache.test"], cache_dir=blocker / "smtpsim")
    assert pki.source == "built"
    assert pki.ca_pem().startswith(b"-----BEGIN CERTIFICATE-----")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "smtpsim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "smtpsim"


def _nonblocking_handshake(a: ssl.SSLSocket, b: ssl.SSLSocket) -> None:
    """Drive two non-blocking ssl sockets to the end of the handshake in one thread."""
    done = {a: False, b: False}
    for _ in range(50):
        for side in (a, b):
            if done[side]:
                continue
            try:
                side.do_handshake()
                done[side] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("name", ["localhost", "mx.example.org", "127.0.0.1"])
def test_real_ssl_sockets_verify_host_names(pki: WorldPKI, name: str) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        client = pki.client_context().wrap_socket(left, server_hostname=name, do_handshake_on_connect=False)
        server = pki.server_context("mx.example.org").wrap_socket(
            right, server_side=True, do_handshake_on_connect=False
        )
        _nonblocking_handshake(client, server)
        cert = client.getpeercert()
        assert cert is not None
        assert ("commonName", "mx.example.org") in [attr for rdn in cert["subject"] for attr in rdn]
        client.sendall(b"EHLO test\r\n")
        assert server.recv(100) == b"EHLO test\r\n"


def test_real_ssl_socket_refuses_wrong_name(pki: WorldPKI) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        client = pki.client_context().wrap_socket(
            left, server_hostname="smtp.example.com", do_handshake_on_connect=False
        )
        server = pki.server_context("mx.example.org").wrap_socket(
            right, server_side=True, do_handshake_on_connect=False
        )
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            _nonblocking_handshake(client, server)


def test_real_ssl_socket_against_the_memory_layer(pki: WorldPKI) -> None:
    """A real client socket on one end, a `TLSLayer` fed from the other raw socket end."""
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        client = pki.client_context().wrap_socket(left, server_hostname="localhost", do_handshake_on_connect=False)
        server = TLSLayer(pki.server_context("mx.example.org"), server_side=True)
        for _ in range(20):
            try:
                client.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            with contextlib.suppress(BlockingIOError):
                server.receive(right.recv(65536))
            right.sendall(server.take_outgoing())
        else:
            raise AssertionError("handshake did not finish")
        client.sendall(b"NOOP\r\n")
        server.receive(right.recv(65536))
        assert server.state is TLSState.ESTABLISHED
        assert server.take_plaintext() == b"NOOP\r\n"
        assert server.facts is not None
        assert server.facts.server_name == "localhost"
        server.send(b"250 OK\r\n")
        right.sendall(server.take_outgoing())
        assert client.recv(100) == b"250 OK\r\n"


def test_ip_literal_in_extra_names_is_an_ip_san(pki: WorldPKI) -> None:
    _, ips = san(load(pki.leaf_pem("smtp.example.com")))
    assert [ipaddress.ip_address(ip) for ip in ips] == [ipaddress.ip_address("127.0.0.1")]
