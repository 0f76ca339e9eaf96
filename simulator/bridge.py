"""`smtpsim serve`: the simulated servers on real sockets, for real clients.

This module is the only place where SMTP meets the network. It moves bytes
between asyncio transports and sans-IO engines and nothing more: every reply
is the engine's, every decision the service's. It listens on 127.0.0.1 unless
told otherwise, prints one JSON line with the ports once it listens, and on
SIGINT or SIGTERM says 421 to open sessions and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator.nodes.smtp_service import AcceptedMessage, SMTPService
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import SMTPServer
from simulator.protocol.smtp.writers import format_reply

# Postfix smtpd_timeout: an idle client is told 421 and dropped.
IDLE_TIMEOUT = 300.0


def timeout_reply(hostname: str) -> Reply:
    return Reply(
        421,
        "4.4.2",
        (f"{hostname} Error: timeout exceeded",),
        "The client said nothing for too long; the server hangs up.",
        "RFC 5321 §4.5.3.2.7",
    )


class SMTPConnection(asyncio.Protocol):
    """Pumps one TCP connection through one server engine."""

    def __init__(self, service: SMTPService, sessions: set[SMTPConnection], idle_timeout: float) -> None:
        self.service = service
        self.sessions = sessions
        self.idle_timeout = idle_timeout
        self.engine: SMTPServer | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.engine = self.service.connect()
        self.sessions.add(self)
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self.engine is not None:
            self.engine.receive_data(data)
            self._pump()

    def eof_received(self) -> bool:
        if self.engine is not None:
            self.engine.receive_data(b"")
            self._pump()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.sessions.discard(self)
        if self._timer is not None:
            self._timer.cancel()

    def shutdown(self) -> None:
        """The server is stopping: 421 to the client, then close (RFC 5321 §3.8)."""
        if self.engine is not None:
            self.engine.shutdown()
            self._pump()

    def _idle(self) -> None:
        if self.engine is not None and self.transport is not None and not self.engine.closed:
            reply = timeout_reply(self.service.config.hostname)
            self.transport.write(format_reply(reply))
            self.transport.close()

    def _pump(self) -> None:
        engine, transport = self.engine, self.transport
        assert engine is not None and transport is not None
        for event in engine.events():
            self.service.handle(engine, event)
        data = engine.data_to_send()
        if data and not transport.is_closing():
            transport.write(data)
        if engine.closed:
            transport.close()
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.idle_timeout, self._idle)


@dataclass
class Listener:
    name: str
    service: SMTPService
    port: int


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
        for suffix, payload in ((".eml", message.content), (".json", json.dumps(meta, indent=2).encode())):
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, directory / f"{message.queue_id}{suffix}")

    return write


async def serve(listeners: list[Listener], *, host: str = "127.0.0.1", idle_timeout: float = IDLE_TIMEOUT) -> None:
    """Listen until SIGINT or SIGTERM; print the bound ports as one JSON line first."""
    loop = asyncio.get_running_loop()
    sessions: set[SMTPConnection] = set()
    servers = []
    ports: dict[str, int] = {}
    for listener in listeners:
        service = listener.service
        server = await loop.create_server(
            lambda service=service: SMTPConnection(service, sessions, idle_timeout),  # type: ignore[misc]
            host,
            listener.port,
        )
        servers.append(server)
        ports[listener.name] = server.sockets[0].getsockname()[1]
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    for session in list(sessions):
        session.shutdown()
    for server in servers:
        await server.wait_closed()
    print("smtpsim serve: stopped", file=sys.stderr, flush=True)
