"""The TLS byte-stream layer: two layers pumped against each other in memory, no sockets."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from simulator.net.certificates import CertVariant, WorldPKI
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.tls import (
    ClientHelloInfo,
    RecordInfo,
    TLSLayer,
    TLSState,
    keylog_lines_for,
    parse_client_hello,
    plaintext_alerts,
    records,
)

HOSTS = ("smtp.example.com", "mx.example.org")
MX = "mx.example.org"


@pytest.fixture(scope="module")
def pki() -> WorldPKI:
    return WorldPKI(HOSTS)


def pump(client: TLSLayer, server: TLSLayer, wire: list[tuple[str, bytes]] | None = None) -> None:
    """Move ciphertext both ways until neither side has anything to say."""
    for _ in range(20):
        to_server = client.take_outgoing()
        if to_server:
            if wire is not None:
                wire.append(("c", to_server))
            server.receive(to_server)
        to_client = server.take_outgoing()
        if to_client:
            if wire is not None:
                wire.append(("s", to_client))
            client.receive(to_client)
        if not to_server and not to_client:
            return
    raise AssertionError("the layers never went quiet")


def pair(
    pki: WorldPKI,
    variant: CertVariant = "ok",
    *,
    hostname: str = MX,
    verify: bool = True,
    max_version: ssl.TLSVersion | None = None,
) -> tuple[TLSLayer, TLSLayer]:
    server_ctx = pki.server_context(MX, variant)
    client_ctx = pki.client_context(verify=verify)
    if max_version is not None:
        server_ctx.maximum_version = max_version
    client = TLSLayer(client_ctx, server_side=False, server_hostname=hostname)
    server = TLSLayer(server_ctx, server_side=True)
    return client, server


@pytest.mark.parametrize(
    ("max_version", "expected"),
    [(None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")],
)
def test_handshake_completes_and_reports_facts(
    pki: WorldPKI, max_version: ssl.TLSVersion | None, expected: str
) -> None:
    client, server = pair(pki, max_version=max_version)
    assert client.state is TLSState.HANDSHAKING
    assert server.state is TLSState.HANDSHAKING
    pump(client, server)
    assert client.state is TLSState.ESTABLISHED
    assert server.state is TLSState.ESTABLISHED
    assert client.facts is not None
    assert server.facts is not None
    assert client.facts.version == expected == server.facts.version
    assert client.facts.cipher == server.facts.cipher != ""
    assert client.facts.cipher_bits >= 128
    assert client.facts.peer_subject == "O=smtpsim world, CN=mx.example.org"
    assert client.facts.peer_issuer == "O=smtpsim world, CN=smtpsim world CA"
    assert "DNS:mx.example.org" in client.facts.peer_names
    assert "IP Address:127.0.0.1" in client.facts.peer_names
    assert client.facts.server_name == MX
    assert server.facts.server_name == MX  # read from the ClientHello's SNI
    assert server.facts.peer_subject == ""  # no client certificate


def test_client_hello_is_ready_at_once(pki: WorldPKI) -> None:
    client, _ = pair(pki)
    hello = client.take_outgoing()
    info = records(hello)
    assert [r.type_name for r in info] == ["handshake"]
    assert info[0].length == len(hello) - 5
    assert client.take_outgoing() == b""  # taken once


@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2])
@pytest.mark.parametrize("split", [1, 3, 7, 100])
def test_application_data_both_ways_split_anywhere(
    pki: WorldPKI, split: int, max_version: ssl.TLSVersion | None
) -> None:
    client, server = pair(pki, max_version=max_version)
    pump(client, server)
    request = b"EHLO laptop.example.com\r\n" * 20
    reply = b"250-mx.example.org\r\n250 PIPELINING\r\n" * 30

    client.send(request)
    wire = client.take_outgoing()
    assert request not in wire  # encrypted
    for i in range(0, len(wire), split):
        server.receive(wire[i : i + split])
    assert server.take_plaintext() == request
    assert server.take_plaintext() == b""

    server.send(reply)
    wire = server.take_outgoing()
    got = bytearray()
    for i in range(0, len(wire), split):
        client.receive(wire[i : i + split])
        got += client.take_plaintext()
    assert bytes(got) == reply
    assert {r.type_name for r in records(wire)} <= {"application_data"}


def test_send_before_handshake_waits_then_goes(pki: WorldPKI) -> None:
    client, server = pair(pki)
    client.send(b"early\r\n")
    first = client.take_outgoing()
    assert [r.type_name for r in records(first)] == ["handshake"]
    server.receive(first)
    pump(client, server)
    assert server.take_plaintext() == b"early\r\n"


def test_clean_close_both_ways(pki: WorldPKI) -> None:
    client, server = pair(pki)
    pump(client, server)
    client.send(b"QUIT\r\n")
    client.close()
    assert client.state is TLSState.CLOSED
    out = client.take_outgoing()
    server.receive(out)
    assert server.take_plaintext() == b"QUIT\r\n"
    assert server.peer_closed
    assert server.state is TLSState.CLOSED
    assert not server.truncated
    answer = server.take_outgoing()  # the server answers with its own close_notify
    assert answer
    client.receive(answer)
    assert client.peer_closed
    assert client.error is None
    assert server.error is None
    with pytest.raises(LocalProtocolError):
        client.send(b"too late")


def test_transport_closed_without_close_notify_is_truncation(pki: WorldPKI) -> None:
    client, server = pair(pki)
    pump(client, server)
    server.send(b"221 bye\r\n")
    client.receive(server.take_outgoing())
    client.receive(b"")
    assert client.take_plaintext() == b"221 bye\r\n"
    assert client.state is TLSState.CLOSED
    assert client.truncated
    assert not client.peer_closed


@pytest.mark.parametrize(
    ("variant", "client_text", "server_text"),
    [
        ("expired", "certificate verify failed: certificate has expired", "alert certificate expired"),
        ("wrong-host", "Hostname mismatch, certificate is not valid for 'mx.example.org'", "alert bad certificate"),
        ("untrusted", "certificate verify failed: unable to get local issuer certificate", "alert unknown ca"),
    ],
)
@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2])
def test_certificate_faults_fail_with_real_ssl_text(
    pki: WorldPKI, variant: CertVariant, client_text: str, server_text: str, max_version: ssl.TLSVersion | None
) -> None:
    client, server = pair(pki, variant, max_version=max_version)
    wire: list[tuple[str, bytes]] = []
    pump(client, server, wire)
    assert client.state is TLSState.FAILED
    assert client.error is not None
    assert client.error.startswith("[SSL: CERTIFICATE_VERIFY_FAILED]")
    assert client_text in client.error
    assert "_ssl.c" not in client.error
    assert client.error_reason == "CERTIFICATE_VERIFY_FAILED"
    assert client.facts is None
    # The client's alert reached the server, which failed with the alert's name.
    assert wire[-1][0] == "c"
    assert server.state is TLSState.FAILED
    assert server.error is not None
    assert server_text in server.error
    with pytest.raises(LocalProtocolError):
        client.send(b"EHLO")


def test_unverified_client_accepts_a_bad_certificate(pki: WorldPKI) -> None:
    client, server = pair(pki, "untrusted", verify=False)
    pump(client, server)
    assert client.state is TLSState.ESTABLISHED
    assert client.facts is not None
    assert client.facts.peer_subject == ""  # OpenSSL decodes only a verified certificate


def test_wrong_name_asked_by_client_fails(pki: WorldPKI) -> None:
    client, server = pair(pki, hostname="smtp.example.com")
    pump(client, server)
    assert client.state is TLSState.FAILED
    assert client.error is not None
    assert "Hostname mismatch" in client.error


@pytest.mark.parametrize(
    "garbage",
    [b"EHLO laptop.example.com\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n"],
)
def test_garbage_before_handshake_fails_the_server_without_raising(pki: WorldPKI, garbage: bytes) -> None:
    server = TLSLayer(pki.server_context(MX), server_side=True)
    server.receive(garbage)
    assert server.state is TLSState.FAILED
    assert server.error is not None
    assert server.error.startswith("[SSL: ")
    assert server.take_plaintext() == b""
    server.receive(b"more")  # ignored after the failure
    assert server.state is TLSState.FAILED


def test_garbage_from_server_fails_the_client_and_produces_an_alert(pki: WorldPKI) -> None:
    client = TLSLayer(pki.client_context(), server_side=False, server_hostname=MX)
    client.take_outgoing()
    client.receive(b"220 mx.example.org ESMTP ready\r\n")
    assert client.state is TLSState.FAILED
    assert client.error is not None
    assert "WRONG_VERSION_NUMBER" in client.error or "record layer failure" in client.error


def test_garbage_after_handshake_fails(pki: WorldPKI) -> None:
    client, server = pair(pki)
    pump(client, server)
    server.receive(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # an application_data record that does not decrypt
    assert server.state is TLSState.FAILED
    assert server.error is not None
    assert server.error.startswith("[SSL: ")
    alert = server.take_outgoing()
    assert alert  # the server tells the client why


def test_client_that_drops_mid_handshake(pki: WorldPKI) -> None:
    client, server = pair(pki)
    server.receive(client.take_outgoing())  # ClientHello arrives
    assert server.take_outgoing()  # the server answers
    server.receive(b"")  # and the client is gone
    assert server.state is TLSState.FAILED
    assert server.error is not None
    assert "EOF" in server.error


def test_server_that_drops_mid_handshake(pki: WorldPKI) -> None:
    client, server = pair(pki)
    server.receive(client.take_outgoing())
    flight = server.take_outgoing()
    client.receive(flight[:10])  # part of the server's first flight, then nothing
    assert client.state is TLSState.HANDSHAKING
    client.receive(b"")
    assert client.state is TLSState.FAILED
    assert client.error is not None
    assert "EOF" in client.error


def test_close_during_handshake_is_quiet(pki: WorldPKI) -> None:
    client, _ = pair(pki)
    client.take_outgoing()
    client.close()
    assert client.state is TLSState.CLOSED
    assert client.take_outgoing() == b""


def test_records_of_a_captured_handshake(pki: WorldPKI) -> None:
    client, server = pair(pki)
    wire: list[tuple[str, bytes]] = []
    pump(client, server, wire)
    client_hello = records(wire[0][1])
    assert wire[0][0] == "c"
    assert client_hello == [RecordInfo(22, 0x0301, len(wire[0][1]) - 5)]
    assert client_hello[0].version_name == "TLS 1.0"  # RFC 8446 §5.1: legacy_record_version
    assert client_hello[0].describe() == f"TLS record: handshake, {len(wire[0][1]) - 5} octets"
    server_flight = records(wire[1][1])
    assert server_flight[0].type_name == "handshake"  # ServerHello in clear
    # TLS 1.3: everything after the ServerHello is encrypted and says application_data.
    assert {r.type_name for r in server_flight[1:]} <= {"change_cipher_spec", "application_data"}
    assert "application_data" in {r.type_name for r in server_flight}
    for _, data in wire:
        parsed = records(data)
        assert sum(5 + r.length for r in parsed) == len(data)
        assert all(r.complete for r in parsed)


def test_records_handles_partial_and_non_tls_input() -> None:
    assert records(b"") == []
    assert records(b"\x16\x03") == []
    partial = records(b"\x17\x03\x03\x00\x10abc")
    assert partial == [RecordInfo(23, 0x0303, 16, complete=False)]
    assert partial[0].describe() == "TLS record: application data, 16 octets (incomplete)"
    assert records(b"EHLO example.com\r\n") == []
    alert = b"\x15\x03\x03\x00\x02\x01\x00"
    assert records(alert + b"junk!") == [RecordInfo(21, 0x0303, 2)]
    assert RecordInfo(99, 0x0303, 1).type_name == "unknown(99)"
    assert RecordInfo(23, 0x0999, 1).version_name == "0x0999"


def test_parse_client_hello(pki: WorldPKI) -> None:
    client, _ = pair(pki)
    hello = client.take_outgoing()
    info = parse_client_hello(hello)
    assert isinstance(info, ClientHelloInfo)
    assert info.server_name == MX
    assert len(info.random) == 32
    assert 0x1301 in info.cipher_suites  # TLS_AES_128_GCM_SHA256, RFC 8446 §B.4
    assert client.client_hello == info
    assert parse_client_hello(hello[:40]) is None
    assert parse_client_hello(b"") is None
    assert parse_client_hello(b"\x15\x03\x03\x00\x02\x02\x28") is None


def test_client_without_sni(pki: WorldPKI) -> None:
    context = pki.client_context(verify=False)
    client = TLSLayer(context, server_side=False)
    server = TLSLayer(pki.server_context(MX), server_side=True)
    pump(client, server)
    assert server.facts is not None
    assert server.facts.server_name is None


def test_keylog_file_tls13(pki: WorldPKI, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    client_ctx = pki.client_context()
    client = TLSLayer(client_ctx, server_side=False, server_hostname=MX, keylog=keylog)
    server = TLSLayer(pki.server_context(MX), server_side=True)
    pump(client, server)
    assert client.state is TLSState.ESTABLISHED
    labels = {line.split()[0] for line in client.keylog_lines()}
    assert labels >= {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    }
    assert client.client_hello is not None
    random_hex = client.client_hello.random.hex()
    assert all(line.split()[1] == random_hex for line in client.keylog_lines())
    assert keylog_lines_for(keylog, client.client_hello.random) == client.keylog_lines()
    # A second connection on the same context logs to the same file, under its own random.
    other = TLSLayer(client_ctx, server_side=False, server_hostname=MX, keylog=keylog)
    pump(other, TLSLayer(pki.server_context(MX), server_side=True))
    assert other.keylog_lines()
    assert set(other.keylog_lines()).isdisjoint(client.keylog_lines())
    with pytest.raises(LocalProtocolError):
        TLSLayer(client_ctx, server_side=False, server_hostname=MX, keylog=tmp_path / "elsewhere.log")


def test_keylog_callback_tls12(pki: WorldPKI) -> None:
    lines: list[str] = []
    server_ctx = pki.server_context(MX)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server = TLSLayer(server_ctx, server_side=True, keylog=lines.append)
    client = TLSLayer(pki.client_context(), server_side=False, server_hostname=MX)
    pump(client, server)
    assert server.state is TLSState.ESTABLISHED
    assert len(lines) == 1
    label, random_hex, secret = lines[0].split()
    assert label == "CLIENT_RANDOM"
    assert client.client_hello is not None
    assert random_hex == client.client_hello.random.hex()
    assert len(secret) == 96  # the 48-byte master secret, RFC 5246 §8.1


def test_keylog_unknown_file_gives_nothing(tmp_path: Path) -> None:
    assert keylog_lines_for(tmp_path / "missing.log", b"\x00" * 32) == []


def _hello_record(message_body: bytes) -> bytes:
    message = b"\x01" + len(message_body).to_bytes(3, "big") + message_body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


@pytest.mark.parametrize(
    "body",
    [
        b"\x03\x03\x00",  # shorter than the random
        b"\x03\x03" + b"\x11" * 32,  # ends where the session id should start
        b"\x03\x03" + b"\x11" * 32 + b"\x00\x00\x02\x13",  # cipher suites cut short, then nothing
    ],
)
def test_parse_client_hello_rejects_truncated_messages(body: bytes) -> None:
    assert parse_client_hello(_hello_record(body)) is None


def test_parse_client_hello_without_extensions() -> None:
    body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    info = parse_client_hello(_hello_record(body))
    assert info == ClientHelloInfo(random=b"\x22" * 32, server_name=None, cipher_suites=(0x1301,))


def test_bytes_after_an_abandoned_handshake_are_ignored(pki: WorldPKI) -> None:
    client, server = pair(pki)
    server.receive(client.take_outgoing())
    client.close()
    client.receive(server.take_outgoing())  # the server's flight arrives after we gave up
    assert client.state is TLSState.CLOSED
    assert client.facts is None
    assert client.take_outgoing() == b""  # no Finished goes out


def test_server_learns_client_hello_split_one_byte_at_a_time(pki: WorldPKI) -> None:
    client, server = pair(pki)
    hello = client.take_outgoing()
    for i in range(len(hello)):
        server.receive(hello[i : i + 1])
    assert server.client_hello is not None
    assert server.client_hello.server_name == MX
    assert server.client_hello == client.client_hello
    assert server.take_outgoing()  # and the handshake went on


def test_malformed_handshake_gets_a_fatal_alert(pki: WorldPKI) -> None:
    server = TLSLayer(pki.server_context(MX), server_side=True)
    server.receive(b"\x16\x03\x01\x00\x05hello")  # a handshake record holding no handshake message
    assert server.state is TLSState.FAILED
    assert server.error == "[SSL: UNEXPECTED_MESSAGE] unexpected message"
    alert = server.take_outgoing()
    assert [r.type_name for r in records(alert)] == ["alert"]
    assert plaintext_alerts(alert) == ["fatal unexpected_message"]


@pytest.mark.parametrize(
    ("variant", "alert"),
    [
        ("expired", "fatal certificate_expired"),
        ("untrusted", "fatal unknown_ca"),
        ("wrong-host", "fatal bad_certificate"),
    ],
)
@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2])
def test_certificate_alerts_are_readable_on_the_wire(
    pki: WorldPKI, variant: CertVariant, alert: str, max_version: ssl.TLSVersion | None
) -> None:
    client, server = pair(pki, variant, max_version=max_version)
    wire: list[tuple[str, bytes]] = []
    pump(client, server, wire)
    assert wire[-1][0] == "c"
    assert plaintext_alerts(wire[-1][1]) == [alert]


def test_alerts_after_the_handshake_are_encrypted(pki: WorldPKI) -> None:
    client, server = pair(pki)
    pump(client, server)
    server.receive(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # a record that does not decrypt
    alert = server.take_outgoing()
    assert [r.type_name for r in records(alert)] == ["application_data"]
    assert plaintext_alerts(alert) == []
    client.receive(alert)
    assert client.state is TLSState.FAILED
    assert client.error == "[SSL: SSLV3_ALERT_BAD_RECORD_MAC] sslv3 alert bad record mac"


def test_plaintext_alerts_names_unknown_codes() -> None:
    assert plaintext_alerts(b"\x15\x03\x03\x00\x02\x01\x00") == ["warning close_notify"]
    assert plaintext_alerts(b"\x15\x03\x03\x00\x02\x07\xff") == ["level(7) alert(255)"]
    assert plaintext_alerts(b"\x16\x03\x03\x00\x02\x02\x0a") == []
