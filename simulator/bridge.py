"""`smtpsim serve`: the simulated world on real sockets, for real clients.

This module is the only place where the simulation meets the real network. A
real client's TCP connection becomes a simulated connection from the host
`real-client.localhost` to a server of the world, so a message a real client
submits travels the world like any other: DNS, MX, relay, mailbox. The world's
kernel runs in real time (one simulated second per second, like simpy's rt).

It listens on 127.0.0.1 unless told otherwise, prints one JSON line with the
ports once it listens, prints one JSON line per delivery into a mailbox, and on
SIGINT or SIGTERM says 421 to open sessions and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator.mail.store import StoredMessage
from simulator.net.kernel import Kernel
from simulator.net.network import TCPConnection
from simulator.net.record import Note
from simulator.nodes.smtp_service import AcceptedMessage, SMTPService
from simulator.nodes.smtp_session import CLIENT_BATCH
from simulator.protocol.imap.commands import describe_command as imap_command
from simulator.protocol.pop3.commands import describe_command as pop3_command
from simulator.protocol.smtp.commands import describe_command as smtp_command
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.tls import records
from simulator.world import World

REAL_CLIENT = "real-client.localhost"
# After SIGTERM, let the world run this long so that every 421 reaches its client.
DRAIN_SECONDS = 1.0


@dataclass
class Listener:
    """A real port in front of one server of the world."""

    name: str  # "smtp", "submission", "pop3", "imap": the key in the ready line
    host: str  # the world's server
    world_port: int  # 25, 587, 110, 143
    port: int  # the real port; 0 = any free one
    protocol: str = "SMTP"  # what the client speaks, for the trace


class RealtimeDriver:
    """Runs a world's kernel in step with the wall clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.kernel: Kernel = world.kernel
        self.start = time.monotonic()
        self.wakeup = asyncio.Event()

    def wall_now(self) -> float:
        return time.monotonic() - self.start

    def catch_up(self) -> None:
        """Run everything that is due, then move the clock to the wall's time."""
        now = self.wall_now()
        while (nxt := self.kernel.peek()) is not None and nxt <= now:
            self.kernel.step()
        self.kernel.now = max(self.kernel.now, now)

    def poke(self) -> None:
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.catch_up()
            nxt = self.kernel.peek()
            delay = None if nxt is None else max(nxt - self.wall_now(), 0.0)
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), delay)


class RealClient(asyncio.Protocol):
    """One real TCP connection, carried into the world as a simulated one."""

    def __init__(self, driver: RealtimeDriver, listener: Listener, clients: set[RealClient]) -> None:
        self.driver = driver
        self.listener = listener
        self.clients = clients
        self.transport: asyncio.Transport | None = None
        self.conn: TCPConnection | None = None
        self.early: list[bytes] = []  # bytes that came before the simulated handshake finished
        self.closed = False
        self.encrypted = False  # the client has started TLS (STARTTLS, or an implicit-TLS port)

    # --- the real side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.clients.add(self)
        self.driver.catch_up()
        network = self.driver.world.network
        network.connect(
            REAL_CLIENT, self.listener.host, self.listener.world_port, _Endpoint(self), self.listener.protocol
        )
        self.driver.poke()

    def data_received(self, data: bytes) -> None:
        self.driver.catch_up()
        if self.conn is None or not self.conn.open:
            self.early.append(data)
            return
        self._forward(data)

    def eof_received(self) -> bool:
        self.driver.catch_up()
        if self.conn is not None:
            self.driver.world.network.close(self.conn, "client")
            self.driver.poke()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.clients.discard(self)
        if self.conn is not None and self.conn.open:
            self.driver.catch_up()
            self.driver.world.network.reset(self.conn, "client", "the real client went away")
            self.driver.poke()

    def _forward(self, data: bytes) -> None:
        assert self.conn is not None
        self.encrypted = self.encrypted or _looks_like_tls(data)
        if self.encrypted:
            notes = [_tls_note(data)]
        else:
            notes = [_note(line, self.listener.protocol) for line in data.splitlines(keepends=True)]
        self.driver.world.network.send(self.conn, "client", notes, CLIENT_BATCH)
        self.driver.poke()

    # --- the simulated side (the world calls these) ---------------------------------------

    def connection_made_in_world(self, conn: TCPConnection) -> None:
        self.conn = conn
        for data in self.early:
            self._forward(data)
        self.early.clear()

    def data_received_from_world(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def shutdown(self) -> None:
        """SIGTERM: have the world's server say 421 (RFC 5321 §3.8)."""
        if self.conn is not None and self.conn.open:
            session = self.conn.sides["server"].endpoint
            shutdown = getattr(session, "shutdown", None)
            if callable(shutdown):
                shutdown()
                self.driver.poke()


def _note(line: bytes, protocol: str) -> Note:
    """A line a real client wrote, with what the command means (as far as its verb tells)."""
    text = line.decode("utf-8", "replace").strip()
    if protocol == "IMAP":  # "tag COMMAND arguments": the command is the second word
        words = text.split(maxsplit=2)
        imap = imap_command(words[1] if len(words) > 1 else text)
        explain, rfc = imap.explain, imap.rfc
    else:
        info = (pop3_command if protocol == "POP3" else smtp_command)(text)
        explain, rfc = info.explain, info.rfc
    summary = line.decode("utf-8", "replace").rstrip("\r\n")
    return Note(line, summary[:120], explain, rfc)


def _looks_like_tls(data: bytes) -> bool:
    """Whether a write starts with a TLS record header: a content type 20-23, then version 3.x.

    No line of SMTP, POP3 or IMAP starts with those control bytes (RFC 8446 §5.1).
    """
    return len(data) >= 2 and 20 <= data[0] <= 23 and data[1] == 3


def _tls_note(data: bytes) -> Note:
    """A write of TLS records from the real client: only the server's end can read what is inside."""
    kinds = ", ".join(dict.fromkeys(r.type_name for r in records(data))) or "partial record"
    return Note(
        data,
        f"[TLS] {len(data)} octets of TLS records ({kinds}) from the real client",
        "The real client's bytes are TLS records: the world's server decrypts them, nobody on the path can.",
        "RFC 8446 §5",
    )


class _Endpoint:
    """The world's view of a real client (asyncio.Protocol already owns these method names)."""

    def __init__(self, client: RealClient) -> None:
        self.client = client

    def connection_made(self, conn: TCPConnection, side: str) -> None:
        self.client.connection_made_in_world(conn)

    def data_received(self, data: bytes) -> None:
        self.client.data_received_from_world(data)

    def eof_received(self) -> None:
        transport = self.client.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def connection_lost(self, reason: str) -> None:
        transport = self.client.transport
        if transport is not None and not transport.is_closing():
            transport.close()


def spool_writer(directory: Path) -> Callable[[AcceptedMessage], None]:
    """Write each accepted message to DIRECTORY as QUEUEID.eml plus QUEUEID.json (its envelope).

    The files appear atomically (written aside, then renamed), so a reader never
    sees half a message.
    """
    directory.mkdir(parents=True, exist_ok=True)

    def write(message: AcceptedMessage) -> None:
        env = message.envelope
        meta = {
            "queue_id": message.queue_id,
            "helo": env.helo,
            "sender": env.sender,
            "recipients": [r.address for r in env.recipients],
            "notify": {r.address: list(r.params.notify) for r in env.recipients if r.params.notify},
            "orcpt": {r.address: r.params.orcpt for r in env.recipients if r.params.orcpt},
            "size": env.params.size,
            "body": env.params.body,
            "smtputf8": env.params.smtputf8,
            "ret": env.params.ret,
            "envid": env.params.envid,
            "protocol": env.protocol,
            "auth_user": env.auth_user,
        }
        _atomic(directory / f"{message.queue_id}.eml", message.content)
        _atomic(directory / f"{message.queue_id}.json", json.dumps(meta, indent=2).encode())

    return write


def _atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    os.replace(tmp, path)


def _chain(
    keep: Callable[[AcceptedMessage], None], first: Callable[[AcceptedMessage], Reply | None] | None
) -> Callable[[AcceptedMessage], Reply | None]:
    """The world decides first; only a message it kept is written to the spool."""

    def both(message: AcceptedMessage) -> Reply | None:
        refusal = first(message) if first is not None else None
        if refusal is None:
            keep(message)
        return refusal

    return both


def world_services(world: World) -> list[SMTPService]:
    return [listener.service for server in world.servers.values() for listener in server.listeners.values()]


async def serve(world: World, listeners: list[Listener], *, host: str = "127.0.0.1", spool: Path | None = None) -> None:
    """Listen until SIGINT or SIGTERM; print the bound ports as one JSON line first."""
    loop = asyncio.get_running_loop()
    world.network.add_host(REAL_CLIENT, "127.0.0.1")
    driver = RealtimeDriver(world)
    if spool is not None:
        writer = spool_writer(spool)
        for service in world_services(world):
            service.on_stored = _chain(writer, service.on_stored)
    for mail_server in world.servers.values():
        mail_server.on_deliver = _announcer(mail_server.name, spool)
    clients: set[RealClient] = set()
    servers = []
    ports: dict[str, int] = {}
    for listener in listeners:
        server = await loop.create_server(
            lambda listener=listener: RealClient(driver, listener, clients),  # type: ignore[misc]
            host,
            listener.port,
        )
        servers.append(server)
        ports[listener.name] = server.sockets[0].getsockname()[1]
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(driver.run(stop))
    await stop.wait()
    for server in servers:
        server.close()
    for client in list(clients):
        client.shutdown()
    deadline = driver.wall_now() + DRAIN_SECONDS
    while clients and driver.wall_now() < deadline:
        driver.catch_up()
        await asyncio.sleep(0.01)  # the drain is bounded by wall time, as a real server's is
    running.cancel()
    for client in list(clients):
        if client.transport is not None:
            client.transport.close()
    print("smtpsim serve: stopped", file=sys.stderr, flush=True)


def _announcer(server: str, spool: Path | None) -> Callable[[str, StoredMessage], None]:
    """One JSON line on stdout for each delivery into a mailbox (and a copy in the spool)."""

    def announce(address: str, message: StoredMessage) -> None:
        line: dict[str, str | int] = {"delivered": address.lower(), "uid": message.uid, "server": server}
        if spool is not None:
            path = spool / "mailboxes" / address.lower() / f"{message.uid}.eml"
            _atomic(path, message.content)
            line["file"] = str(path)
        print(json.dumps(line), flush=True)

    return announce
