"""Bad input at the TLS layer of the world's servers: garbage instead of a ClientHello, a client that
drops mid-handshake. The server answers with a TLS alert or simply closes; it never raises, and
nothing is left running (no session, no timer) after it."""

from __future__ import annotations

import pytest

from simulator.net.network import TCPConnection
from simulator.net.record import Note
from simulator.protocol.tls import TLSLayer, records
from simulator.scenarios.worlds import default_world
from simulator.world import World

INTRUDER = "intruder.example.net"
IMPLICIT = [("smtp.example.com", 465), ("mx.example.org", 993), ("mx.example.org", 995)]


class RawClient:
    """A client that writes what it is told, at the moments it is told, and keeps what comes back."""

    def __init__(self, world: World, script: list[tuple[bytes, bytes | None]]) -> None:
        """`script`: (what the server's write must start with, b"" for "on connect"; what to send, None to close)."""
        self.world, self.script = world, list(script)
        self.conn: TCPConnection | None = None
        self.received: list[bytes] = []
        self.eof = False
        self.lost = ""

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn = conn
        self._next(b"")

    def data_received(self, data: bytes) -> None:
        self.received.append(data)
        self._next(data)

    def _next(self, data: bytes) -> None:
        if not self.script or not data.startswith(self.script[0][0]):
            return
        _, answer = self.script.pop(0)
        assert self.conn is not None
        if answer is None:
            self.world.network.close(self.conn, "client")
        else:
            self.world.network.send(self.conn, "client", [Note(answer, "intruder", "", "")], ("", ""))

    def eof_received(self) -> None:
        self.eof = True

    def connection_lost(self, reason: str) -> None:
        self.lost = reason


def run(server: str, port: int, script: list[tuple[bytes, bytes | None]]) -> tuple[World, RawClient]:
    world = default_world(1, tls=True)
    world.network.add_host(INTRUDER, "203.0.113.66")
    client = RawClient(world, script)
    world.network.connect(INTRUDER, server, port, client, "SMTP")
    while world.kernel.step():
        pass
    return world, client


def partial_client_hello(world: World, server: str) -> bytes:
    assert world.pki is not None
    hello = TLSLayer(world.pki.client_context(), server_side=False, server_hostname=server).take_outgoing()
    return hello[: len(hello) // 2]


def refusals(world: World) -> list[str]:
    return [e.summary for e in world.tracer.events if e.kind == "tls"]


@pytest.mark.parametrize(("server", "port"), IMPLICIT)
def test_clear_text_on_an_implicit_tls_port_is_refused_and_closed_at_once(server: str, port: int) -> None:
    world, client = run(server, port, [(b"", b"EHLO intruder.example.net\r\n")])
    # Not TLS at all: OpenSSL has no record to put an alert in, so the server just closes.
    assert client.received == [] and client.eof
    assert refusals(world) == [f"{server} ends the TLS handshake with {INTRUDER}: wrong version number"]
    assert world.tracer.events[-1].time < 1.0  # at once, not after an idle timeout


@pytest.mark.parametrize(("server", "port"), IMPLICIT)
def test_a_broken_record_on_an_implicit_tls_port_gets_an_alert_and_a_close(server: str, port: int) -> None:
    world, client = run(server, port, [(b"", b"\x16\x03\x01\x00\x05hello")])
    (alert,) = client.received
    assert [r.type_name for r in records(alert)] == ["alert"]
    assert client.eof
    assert refusals(world) == [f"{server} ends the TLS handshake with {INTRUDER}: unexpected message"]


@pytest.mark.parametrize(("server", "port"), IMPLICIT)
def test_a_client_that_drops_mid_handshake_leaves_nothing_behind(server: str, port: int) -> None:
    world = default_world(1, tls=True)
    half = partial_client_hello(world, server)
    world, client = run(server, port, [(b"", half), (b"", None)])
    assert client.received == []  # half a ClientHello: nothing to answer yet, and then the client left
    listener = world.network.hosts[server].listeners[port]
    sessions = getattr(listener, "sessions", None) or getattr(getattr(listener, "service", None), "sessions", [])
    assert sessions and all(s.done if hasattr(s, "done") else s.engine is None for s in sessions)
    assert world.kernel.peek() is None  # no timer left running for the dead session


def test_garbage_after_starttls_on_port_25_gets_an_alert_and_a_close() -> None:
    world, client = run(
        "mx.example.org",
        25,
        [
            (b"220 ", b"EHLO intruder.example.net\r\n"),
            (b"250-", b"STARTTLS\r\n"),
            (b"220 2.0.0", b"\x16\x03\x01\x00\x05hello"),  # a record header, then no ClientHello inside
        ],
    )
    assert [r.type_name for r in records(client.received[-1])] == ["alert"]
    assert client.eof
    assert refusals(world) == [f"mx.example.org ends the TLS handshake with {INTRUDER}: unexpected message"]
