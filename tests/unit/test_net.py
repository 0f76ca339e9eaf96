"""The network kernel: ordering in simulated time, TCP connections over links, and copying a world."""

from __future__ import annotations

import copy
import random

import pytest

from simulator.net.kernel import DELIVERY, TIMER, Kernel
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.trace import Tracer

BATCH = ("batch", "RFC 0")


class Log:
    """Records what happened, in order, with the time."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.items: list[tuple[float, str]] = []

    def add(self, what: str) -> None:
        self.items.append((round(self.kernel.now, 6), what))


class Peer:
    """An endpoint that logs everything and can answer each read."""

    def __init__(self, name: str, log: Log, answer: bytes = b"") -> None:
        self.name, self.log, self.answer = name, log, answer
        self.conn: TCPConnection | None = None
        self.side = ""
        self.net: Network | None = None

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.conn, self.side = conn, side
        self.log.add(f"{self.name} connected")

    def data_received(self, data: bytes) -> None:
        self.log.add(f"{self.name} got {data.decode()}")
        if self.answer and self.net is not None and self.conn is not None:
            self.net.send(self.conn, self.side, [Note(self.answer, "answer", "", "")], BATCH)

    def eof_received(self) -> None:
        self.log.add(f"{self.name} eof")

    def connection_lost(self, reason: str) -> None:
        self.log.add(f"{self.name} lost: {reason}")


class Service:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def accept(self) -> Peer:
        return self.peer


def world(*, latency: float = 0.01, show_tcp: bool = False, seed: int = 1) -> tuple[Kernel, Network, Tracer, Log]:
    kernel = Kernel()
    tracer = Tracer(kernel)
    net = Network(kernel, tracer, random.Random(seed), show_tcp=show_tcp)
    net.default_link.latency = latency
    net.add_host("a", "192.0.2.1")
    net.add_host("b", "192.0.2.2")
    return kernel, net, tracer, Log(kernel)


def run(kernel: Kernel) -> None:
    while kernel.step():
        pass


def test_kernel_orders_by_time_then_priority_then_fifo() -> None:
    kernel = Kernel()
    log = Log(kernel)
    kernel.schedule(2.0, log.add, "late")
    kernel.schedule(1.0, log.add, "timer", priority=TIMER)
    kernel.schedule(1.0, log.add, "first normal")
    kernel.schedule(1.0, log.add, "second normal")
    kernel.schedule(1.0, log.add, "delivery", priority=DELIVERY)
    cancelled = kernel.schedule(1.5, log.add, "never")
    cancelled.cancel()
    run(kernel)
    assert log.items == [
        (1.0, "delivery"),
        (1.0, "first normal"),
        (1.0, "second normal"),
        (1.0, "timer"),
        (2.0, "late"),
    ]
    assert kernel.now == 2.0
    with pytest.raises(ValueError, match="past"):
        kernel.schedule(-1, log.add, "x")


def test_connect_takes_the_handshake_and_bytes_arrive_in_order_after_the_latency() -> None:
    kernel, net, tracer, log = world()
    server = Peer("server", log, answer=b"ok")
    server.net = net
    net.listen("b", 25, Service(server))
    client = Peer("client", log)
    conn = net.connect("a", "b", 25, client, "SMTP")
    run(kernel)
    assert log.items == [(0.03, "client connected"), (0.03, "server connected")]
    net.send(conn, "client", [Note(b"one", "1", "", ""), Note(b"two", "2", "", "")], BATCH)
    net.send(conn, "client", [Note(b"three", "3", "", "")], BATCH)
    run(kernel)
    assert log.items[2:] == [
        (0.04, "server got onetwo"),
        (0.04, "server got three"),
        (0.05, "client got ok"),
        (0.05, "client got ok"),
    ]
    kinds = [(e.kind, e.summary) for e in tracer.events]
    assert kinds[0][0] == "connect"
    assert kinds[1:3] == [("send", "1; 2"), ("send", "3")]
    assert tracer.events[1].data == b"onetwo"


def test_bandwidth_serialises_writes_and_order_is_kept() -> None:
    kernel, net, _, log = world()
    net.link("a", "b").bandwidth = 1000.0  # octets per second
    server = Peer("server", log)
    net.listen("b", 25, Service(server))
    conn = net.connect("a", "b", 25, Peer("client", log), "SMTP")
    run(kernel)
    net.send(conn, "client", [Note(b"x" * 500, "big", "", "")], BATCH)
    net.send(conn, "client", [Note(b"y", "small", "", "")], BATCH)
    run(kernel)
    assert [t for t, what in log.items if what.startswith("server got")] == [0.54, 0.541]


def test_no_listener_means_connection_refused() -> None:
    kernel, net, tracer, log = world()
    net.connect("a", "b", 25, Peer("client", log), "SMTP")
    run(kernel)
    assert log.items == [(0.02, "client lost: connection refused")]
    assert [e.kind for e in tracer.events] == ["refused"]
    net.listen("b", 25, Service(Peer("server", log)))
    net.hosts["b"].up = False
    net.connect("a", "b", 25, Peer("client2", log), "SMTP")
    run(kernel)
    assert log.items[-1] == (0.04, "client2 lost: connection refused")


def test_loss_adds_retransmission_timeouts_from_the_seeded_rng() -> None:
    def arrival(seed: int) -> list[tuple[float, str]]:
        kernel, net, tracer, log = world(seed=seed, show_tcp=True)
        net.listen("b", 25, Service(Peer("server", log)))
        conn = net.connect("a", "b", 25, Peer("client", log), "SMTP")
        run(kernel)
        net.link("a", "b").loss = 0.5
        for i in range(6):
            net.send(conn, "client", [Note(b"%d" % i, str(i), "", "")], BATCH)
        run(kernel)
        retransmits = [e for e in tracer.events if e.kind == "tcp" and "retransmitted" in e.summary]
        assert retransmits  # with p = 0.5 over six writes, this seed loses some
        return [item for item in log.items if "got" in item[1]]

    first = arrival(7)
    assert first == arrival(7)  # the same seed, the same losses
    assert [what for _, what in first] == [f"server got {i}" for i in range(6)]  # order survives loss
    assert first[-1][0] >= 1.0  # at least one retransmission timeout was waited out


def test_show_tcp_traces_the_handshake_and_fins() -> None:
    kernel, net, tracer, log = world(show_tcp=True)
    net.listen("b", 25, Service(Peer("server", log)))
    conn = net.connect("a", "b", 25, Peer("client", log), "SMTP")
    run(kernel)
    net.close(conn, "client")
    net.close(conn, "server")
    run(kernel)
    assert [e.summary for e in tracer.events if e.kind == "tcp"] == ["SYN to port 25", "SYN-ACK", "ACK", "FIN", "FIN"]
    assert [e.kind for e in tracer.events][-1] == "close"
    assert ("server eof" in [w for _, w in log.items]) and ("client eof" in [w for _, w in log.items])
    assert not conn.open


def test_reset_and_crash_tell_the_peer() -> None:
    kernel, net, tracer, log = world()
    net.listen("b", 25, Service(Peer("server", log)))
    conn = net.connect("a", "b", 25, Peer("client", log), "SMTP")
    run(kernel)
    net.crash("b", "host crashed")
    run(kernel)
    assert log.items[-2:] == [(0.03, "server lost: host crashed"), (0.04, "client lost: host crashed")]
    assert tracer.events[-1].kind == "reset"
    net.send(conn, "client", [Note(b"late", "late", "", "")], BATCH)  # a dead connection carries nothing
    run(kernel)
    assert "server got late" not in [w for _, w in log.items]


def test_a_cut_link_loses_the_bytes() -> None:
    kernel, net, _, log = world()
    net.listen("b", 25, Service(Peer("server", log)))
    conn = net.connect("a", "b", 25, Peer("client", log), "SMTP")
    run(kernel)
    net.link("a", "b").up = False
    net.send(conn, "client", [Note(b"hello", "hello", "", "")], BATCH)
    run(kernel)
    assert all("got" not in what for _, what in log.items)


def test_a_world_copies_whole_and_the_copy_runs_on_its_own() -> None:
    kernel, net, tracer, log = world()
    server = Peer("server", log, answer=b"pong")
    server.net = net
    net.listen("b", 25, Service(server))
    client = Peer("client", log)
    net.connect("a", "b", 25, client, "SMTP")
    run(kernel)
    assert client.conn is not None
    net.send(client.conn, "client", [Note(b"ping", "ping", "", "")], BATCH)
    clone = copy.deepcopy((kernel, net, log, tracer))
    run(kernel)
    c_kernel, _, c_log, c_tracer = clone
    assert c_log.items == log.items[:2]  # the copy has not run yet
    run(c_kernel)
    assert c_log.items == log.items  # and runs the same way on its own objects
    assert c_log is not log
    assert [(e.time, e.summary) for e in c_tracer.events] == [(e.time, e.summary) for e in tracer.events]
    assert c_tracer.clock is c_kernel
