"""The SMTP client engine: the sending side of one connection, sans-IO.

    client = SMTPClient(ClientConfig(local_hostname="laptop.example.com"))
    client.send_message(OutgoingMessage("alice@example.com", ("bob@example.org",), body))
    client.quit()
    client.receive_data(b"220 mx.example.org ESMTP\\r\\n")
    wire = client.data_to_send()          # EHLO laptop.example.com
    ... feed replies, write what data_to_send() returns ...
    for event in client.events():         # Capabilities, MessageResult, ...

It greets, reads the EHLO capabilities (falling back to HELO on a 5xx),
upgrades with STARTTLS and authenticates when configured to, pipelines when the
server offers PIPELINING (RFC 2920), uses BDAT when asked and CHUNKING is on
offer (RFC 3030), and reports per recipient whether the message was sent,
deferred (4xx: retry later) or failed (5xx: bounce). Nothing the server sends
makes it raise; a reply it cannot parse ends the session.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError, RemoteProtocolError
from simulator.protocol.linebuffer import LineBuffer
from simulator.protocol.smtp import commands
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp.readers import ReplyReader, encode_xtext, parse_replies
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.writers import dot_stuff, format_command
from simulator.protocol.values import Value

# RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it.
REPLY_LINE_LIMIT = 4096


@dataclass(frozen=True)
class ClientConfig:
    """How the client behaves.

    Attributes:
        local_hostname: the name given in EHLO/HELO.
        pipelining: pipeline commands when the server offers PIPELINING.
        chunking: send the message with BDAT when the server offers CHUNKING.
        chunk_size: octets per BDAT chunk.
        starttls: "never", "opportunistic" (if offered) or "required".
        username, password: authenticate with these when AUTH is offered.
        auth_mechanisms: preference order among what the server offers: PLAIN, LOGIN, CRAM-MD5,
            SCRAM-SHA-256 (RFC 7677), XOAUTH2 or OAUTHBEARER (RFC 7628; these send `token`).
        token: the OAuth 2.0 bearer token for XOAUTH2 and OAUTHBEARER (RFC 6750).
    """

    local_hostname: str = "client.example.com"
    pipelining: bool = True
    chunking: bool = False
    chunk_size: int = 65536
    starttls: str = "never"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = [m for m in self.auth_mechanisms if m.upper() not in sasl.CLIENT_MECHANISMS]
        if unknown:
            raise LocalProtocolError(f"no client for SASL mechanism(s) {', '.join(unknown)}")


@dataclass(frozen=True)
class OutgoingMessage(Value):
    """One message to send: the envelope and the content as it should arrive.

    Attributes:
        notify, ret, envid: RFC 3461 DSN requests, sent when the server offers DSN.
    """

    sender: str
    recipients: tuple[str, ...]
    content: bytes = field(repr=False)
    notify: tuple[str, ...] | None = None
    ret: str | None = None
    envid: str | None = None


class ClientState(Enum):
    GREETING = "waiting for the greeting"
    EHLO = "EHLO sent"
    HELO = "HELO sent after EHLO was refused"
    STARTTLS = "STARTTLS sent"
    TLS_HANDSHAKE = "TLS handshake in progress"
    AUTH = "authenticating"
    READY = "session open, between transactions"
    TRANSACTION = "a mail transaction is in flight"
    QUIT = "QUIT sent"
    CLOSED = "connection closed"


# What the client does next, by state and by the reply class it got
# (2 = success, 4 = transient, 5 = permanent). Only the session set-up is a fixed
# table; inside a transaction every recipient's reply is weighed on its own.
SESSION_TRANSITIONS: dict[tuple[ClientState, int], ClientState] = {
    (ClientState.GREETING, 2): ClientState.EHLO,
    (ClientState.GREETING, 4): ClientState.QUIT,
    (ClientState.GREETING, 5): ClientState.QUIT,
    (ClientState.EHLO, 2): ClientState.READY,
    (ClientState.EHLO, 4): ClientState.QUIT,
    (ClientState.EHLO, 5): ClientState.HELO,  # RFC 5321 §3.2: fall back to HELO
    (ClientState.HELO, 2): ClientState.READY,
    (ClientState.HELO, 4): ClientState.QUIT,
    (ClientState.HELO, 5): ClientState.QUIT,
    (ClientState.STARTTLS, 2): ClientState.TLS_HANDSHAKE,
    (ClientState.AUTH, 2): ClientState.READY,
}

# Replies our client makes up when the server never answered (RFC 3463 codes).
LOST_CONNECTION = Reply(
    451,
    "4.4.2",
    ("lost connection with the server",),
    "No reply came: the client keeps the message and retries later.",
    "RFC 5321 §3.8",
)
LOST_AFTER_DOT = Reply(
    451,
    "4.4.2",
    ("lost connection after the final dot, before the reply",),
    "The server may have queued the message already; resending it may deliver it twice.",
    "RFC 1047; RFC 5321 §4.1.1.4",
)
NEEDS_SMTPUTF8 = Reply(
    553,
    "5.6.7",
    ("the server does not offer SMTPUTF8 for this non-ASCII address",),
    "Without SMTPUTF8 an address with non-ASCII characters cannot be sent.",
    "RFC 6531 §3.2",
)
TOO_BIG = Reply(
    552,
    "5.3.4",
    ("message larger than the server's SIZE limit",),
    "The server advertised a smaller SIZE, so the client does not even try.",
    "RFC 1870 §4",
)
SASL_UNUSABLE = Reply(
    554,
    "5.7.0",
    ("The configured credentials cannot be used with this SASL mechanism",),
    "The client's own check: SASLprep refuses a character of the user name or password.",
    "RFC 4013 §2.3, RFC 5802 §2.2",
)
TLS_REQUIRED = Reply(
    451,
    "4.7.4",
    ("TLS is required, but was not offered by the server",),
    "The client refuses to send in clear text; it keeps the message and tries again later.",
    "RFC 3207 §4.1, RFC 8314",
)


def status_of(reply: Reply) -> str:
    """What a reply means for a recipient: "sent" (2xx/3xx), "deferred" (4xx) or "failed" (5xx)."""
    return "sent" if reply.positive else "deferred" if reply.transient else "failed"


@dataclass(frozen=True)
class Output:
    """One write on the wire with its note for learners."""

    data: bytes
    summary: str
    explain: str
    rfc: str


@dataclass
class _Pending:
    """A command sent that still awaits its reply."""

    kind: str  # MAIL, RCPT, DATA, MESSAGE, BDAT, RSET, EHLO, HELO, STARTTLS, AUTH, QUIT
    command: str
    recipient: str = ""
    last: bool = False


@dataclass
class _Transaction:
    index: int
    message: OutgoingMessage
    results: dict[str, Reply] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    refused_at_rcpt: set[str] = field(default_factory=set)
    mail_ok: bool = True
    content_sent: bool = False  # the last octet of the message is on the wire
    closed_by_server: bool = False  # the server ended the transaction (reply to the content)
    failed: bool = False  # a BDAT chunk failed: later replies in flight are ignored


class SMTPClient:
    """The client side of one SMTP connection."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        tls: bool = False,
        rng: sasl.RandomSource | random.Random | None = None,
    ) -> None:
        """Start a session; it begins when the greeting arrives (RFC 5321 §3.1).

        Args:
            tls: the connection is already TLS (implicit TLS, RFC 8314).
            rng: where the SCRAM client nonce comes from; `secrets` when None.
        """
        self.config = config or ClientConfig()
        self._rng = rng
        self.state = ClientState.GREETING
        self.tls = tls
        self.extensions: dict[str, str] = {}
        self.esmtp = False
        self.authenticated = False
        self._buffer = LineBuffer()
        self._reader = ReplyReader()
        self._pending: deque[_Pending] = deque()
        self._events: deque[ev.Event] = deque()
        self._outbox: list[Output] = []
        self._messages: deque[OutgoingMessage] = deque()
        self._count = 0
        self._current: _Transaction | None = None
        self._plan: deque[tuple[_Pending, bytes, bytes]] = deque()
        self._quit_requested = False
        self._sasl: sasl.SaslClient | None = None

    # --- the host's side -------------------------------------------------------

    def send_message(self, message: OutgoingMessage) -> None:
        """Queue a message; it goes out as soon as the session is ready."""
        if self._quit_requested or self.state in (ClientState.QUIT, ClientState.CLOSED):
            raise LocalProtocolError("send_message() after quit() or after the session ended")
        if not message.recipients:
            raise LocalProtocolError("a message needs at least one recipient")
        self._messages.append(message)
        self._advance()

    def quit(self) -> None:
        """Say QUIT once every queued message has been tried."""
        self._quit_requested = True
        self._advance()

    def tls_started(self) -> None:
        """The host finished the TLS handshake: forget the old capabilities, EHLO again."""
        if self.state is not ClientState.TLS_HANDSHAKE:
            raise LocalProtocolError("tls_started() without an accepted STARTTLS")
        self.tls = True
        self.extensions, self.esmtp = {}, False
        self._buffer.clear()
        self._reader = ReplyReader()
        self._command("EHLO", "EHLO", self.config.local_hostname)
        self.state = ClientState.EHLO

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" means the server closed the connection."""
        if self.state is ClientState.CLOSED:
            return
        if not data:
            self._connection_lost()
            return
        if self.state is ClientState.TLS_HANDSHAKE:
            return  # clear text during the handshake is not to be trusted (RFC 3207 §4.2)
        self._buffer.feed(data)
        if not self._reader.partial:
            block = self._buffer.complete_lines()
            replies = parse_replies(block, REPLY_LINE_LIMIT) if block else None
            if replies is not None:
                self._buffer.discard(len(block))
                for parsed in replies:
                    if self.closed or self._handshaking:
                        return  # what followed is dropped, as the line-by-line path drops it
                    self._on_reply(parsed)
        while not self.closed:
            line = self._buffer.take_line(REPLY_LINE_LIMIT)
            if line is None:
                return
            try:
                if line.too_long:
                    raise RemoteProtocolError("reply line too long")
                reply = self._reader.feed_line(line.content)
            except RemoteProtocolError as exc:
                self._fail_session(f"unparseable reply: {exc}", None)
                return
            if reply is not None:
                self._on_reply(reply)

    def events(self) -> Iterator[ev.Event]:
        while self._events:
            yield self._events.popleft()

    def outgoing(self) -> list[Output]:
        out, self._outbox = self._outbox, []
        return out

    def data_to_send(self) -> bytes:
        return b"".join(o.data for o in self.outgoing())

    @property
    def closed(self) -> bool:
        return self.state is ClientState.CLOSED

    @property
    def _handshaking(self) -> bool:
        return self.state is ClientState.TLS_HANDSHAKE

    # --- writing -----------------------------------------------------------------

    def _command(self, kind: str, verb: str, argument: str = "", **pending: str | bool) -> None:
        data = format_command(verb, argument)
        self._pending.append(_Pending(kind, f"{verb} {argument}".strip(), **pending))  # type: ignore[arg-type]
        info = commands.COMMANDS.get(verb, commands.SASL_RESPONSE)
        self._outbox.append(Output(data, data.decode("utf-8", "replace").rstrip(), info.explain, info.rfc))

    def _write(self, data: bytes, summary: str, info: commands.CommandInfo) -> None:
        self._outbox.append(Output(data, summary, info.explain, info.rfc))

    # --- reading -----------------------------------------------------------------

    def _on_reply(self, reply: Reply) -> None:
        if not self._pending:
            if self.state is ClientState.GREETING:
                self._events.append(ev.ReplyReceived("", reply))
                if reply.code == 421:  # the server is closing anyway: no QUIT
                    self._fail_session("the server is not accepting connections", reply)
                    return
                self._on_greeting(reply)
                return
            if reply.code == 421:  # RFC 5321 §3.8: the one reply that may come unasked
                self._events.append(ev.ReplyReceived("", reply))
                self._fail_session("the server is closing the connection", reply)
                return
            self._fail_session(f"unexpected reply {reply.code} with no command outstanding", reply)
            return
        pending = self._pending.popleft()
        self._events.append(ev.ReplyReceived(pending.command, reply))
        if reply.code == 421 and pending.kind != "QUIT":
            self._fail_session("the server is closing the connection", reply)
            return
        getattr(self, _HANDLERS[pending.kind])(pending, reply)
        self._advance()

    def _on_greeting(self, reply: Reply) -> None:
        self._events.append(ev.Greeting(reply))
        self.state = SESSION_TRANSITIONS.get((ClientState.GREETING, reply.code // 100), ClientState.QUIT)
        if self.state is ClientState.EHLO:
            self._command("EHLO", "EHLO", self.config.local_hostname)
        else:
            # RFC 5321 §3.1: after a 554 greeting the client sends QUIT and waits.
            self._give_up_all(reply)
            self._events.append(ev.SessionFailed("the server refused the session", reply))
            self._command("QUIT", "QUIT")

    def _on_ehlo(self, pending: _Pending, reply: Reply) -> None:
        del pending
        nxt = SESSION_TRANSITIONS.get((ClientState.EHLO, reply.code // 100), ClientState.QUIT)
        if nxt is ClientState.READY:
            self.esmtp = True
            self.extensions = {}
            for line in reply.lines[1:]:
                keyword, _, params = line.partition(" ")
                self.extensions[keyword.upper()] = params
            self._events.append(ev.Capabilities(dict(self.extensions), esmtp=True))
            self._after_hello()
        elif nxt is ClientState.HELO:
            self.state = ClientState.HELO
            self._command("HELO", "HELO", self.config.local_hostname)
        else:
            self._end_session("EHLO was refused", reply)

    def _on_helo(self, pending: _Pending, reply: Reply) -> None:
        del pending
        if reply.positive:
            self.extensions, self.esmtp = {}, False
            self._events.append(ev.Capabilities({}, esmtp=False))
            self._after_hello()
        else:
            self._end_session("HELO was refused", reply)

    def _after_hello(self) -> None:
        """Upgrade to TLS, then authenticate, then send: RFC 3207 §4 and RFC 4954 §4."""
        wants_tls = self.config.starttls in ("opportunistic", "required") and not self.tls
        if wants_tls and "STARTTLS" in self.extensions:
            self.state = ClientState.STARTTLS
            self._command("STARTTLS", "STARTTLS")
            return
        if wants_tls and self.config.starttls == "required":
            self._end_session("the server does not offer STARTTLS", TLS_REQUIRED)
            return
        if self.config.username and not self.authenticated and "AUTH" in self.extensions:
            offered = self.extensions["AUTH"].upper().split()
            for mechanism in self.config.auth_mechanisms:
                if mechanism.upper() in offered:
                    self._start_auth(mechanism)
                    return
        self.state = ClientState.READY

    def _on_starttls(self, pending: _Pending, reply: Reply) -> None:
        del pending
        if reply.code == 220:
            # Anything the server "said" after its 220 came in clear text and may be a
            # man in the middle's injection: drop it (RFC 3207 §4.2, CVE-2011-0411).
            self._buffer.clear()
            self._reader = ReplyReader()
            self.state = ClientState.TLS_HANDSHAKE
            self._events.append(ev.TLSReady())
        elif self.config.starttls == "required":
            self._end_session("STARTTLS was refused", reply)
        else:
            self.tls = False
            self.config = _without_tls(self.config)
            self._after_hello()

    def _start_auth(self, mechanism: str) -> None:
        self.state = ClientState.AUTH
        mechanism = mechanism.upper()
        client = sasl.client_for(mechanism, self.config, self._rng)
        if client is None:
            self._end_session(f"cannot authenticate with {mechanism}", SASL_UNUSABLE)
            return
        self._sasl = client
        initial = client.initial_response()
        if initial is None:
            self._command("AUTH", "AUTH", mechanism)
        else:
            # RFC 4954 §4: the initial response saves a round trip; '=' stands for an empty one.
            self._command("AUTH", "AUTH", f"{mechanism} {sasl.encode(initial)}")

    def _on_auth(self, pending: _Pending, reply: Reply) -> None:
        del pending
        client = self._sasl
        if reply.code == 334 and client is not None:
            try:
                answer = base64.b64encode(client.respond(_challenge(reply.lines[0]))).decode("ascii")
            except sasl.SaslError:
                # RFC 4954 §4: a client that cannot go on (a server it cannot verify) cancels with '*'.
                answer = "*"
            self._pending.append(_Pending("AUTH", "(SASL response)"))
            self._write(answer.encode("ascii") + b"\r\n", f"(base64 {client.name} response)", commands.SASL_RESPONSE)
        elif reply.code == 235 and _server_unverified(client):
            # RFC 5802 §5: a SCRAM client trusts the session only once the server proved it knows the secret.
            self._sasl = None
            self._events.append(ev.AuthFailed(reply))
            self._end_session("the server did not prove that it knows the password (SCRAM ServerSignature)", reply)
        elif reply.code == 235:
            self.authenticated = True
            self._sasl = None
            self._events.append(ev.Authenticated(self.config.username or ""))
            self.state = ClientState.READY
        else:
            self._sasl = None
            self._events.append(ev.AuthFailed(reply))
            self._end_session("authentication failed", reply)

    # --- transactions ------------------------------------------------------------

    def _advance(self) -> None:
        """Start the next transaction, or QUIT, when the session is idle."""
        if self.state is ClientState.TRANSACTION:
            self._pump()
            return
        # A message refused locally (too big, needs SMTPUTF8) leaves the session idle
        # again at once, so keep going until something is on the wire.
        while self.state is ClientState.READY and not self._pending:
            if self._messages:
                self._begin(self._messages.popleft())
            elif self._quit_requested:
                self.state = ClientState.QUIT
                self._command("QUIT", "QUIT")
            else:
                return

    def _begin(self, message: OutgoingMessage) -> None:
        self._count += 1
        tx = _Transaction(self._count, message)
        self._current = tx
        self.state = ClientState.TRANSACTION
        needs_utf8 = not (message.sender.isascii() and all(r.isascii() for r in message.recipients))
        if needs_utf8 and "SMTPUTF8" not in self.extensions:
            self._finish_locally(tx, NEEDS_SMTPUTF8)
            return
        limit = self.extensions.get("SIZE", "")
        if limit.isascii() and limit.isdigit() and int(limit) and len(message.content) > int(limit):
            self._finish_locally(tx, TOO_BIG)
            return
        params = []
        if "SIZE" in self.extensions:
            params.append(f"SIZE={len(message.content)}")
        if "8BITMIME" in self.extensions and not message.content.isascii():
            params.append("BODY=8BITMIME")
        header = message.content.split(b"\r\n\r\n", 1)[0]
        if "SMTPUTF8" in self.extensions and (needs_utf8 or not header.isascii()):
            params.append("SMTPUTF8")
        dsn = "DSN" in self.extensions
        if dsn and message.ret:
            params.append(f"RET={message.ret}")
        if dsn and message.envid:
            params.append(f"ENVID={encode_xtext(message.envid)}")
        self._plan.append(self._step("MAIL", f"FROM:<{message.sender}>", params))
        for rcpt in message.recipients:
            rparams = [f"NOTIFY={','.join(message.notify)}"] if dsn and message.notify else []
            self._plan.append(self._step("RCPT", f"TO:<{rcpt}>", rparams, recipient=rcpt))
        if self.config.chunking and "CHUNKING" in self.extensions:
            content = message.content
            size = max(self.config.chunk_size, 1)
            chunks = [content[i : i + size] for i in range(0, len(content), size)] or [b""]
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                step = self._step("BDAT", f"{len(chunk)}" + (" LAST" if last else ""), [], last=last)
                self._plan.append((step[0], step[1], chunk))
        else:
            self._plan.append(self._step("DATA", "", []))
        self._pump()

    @staticmethod
    def _step(
        kind: str, argument: str, params: list[str], *, recipient: str = "", last: bool = False
    ) -> tuple[_Pending, bytes, bytes]:
        verb = kind
        text = " ".join([argument, *params]).strip()
        return (_Pending(kind, f"{verb} {text}".strip(), recipient, last), format_command(verb, text), b"")

    def _pump(self) -> None:
        """Send planned commands: all at once with PIPELINING, else one per reply.

        RFC 2920 §3.1: DATA ends a pipelined group (the client waits for 354);
        BDAT chunks may be pipelined with everything before them (RFC 3030 §4).
        """
        pipelining = self.config.pipelining and "PIPELINING" in self.extensions
        while self._plan:
            if self._pending and not pipelining:
                return
            if self._pending and self._pending[-1].kind == "DATA":
                return
            pending, line, chunk = self._plan.popleft()
            self._pending.append(pending)
            info = commands.COMMANDS[pending.kind]
            self._write(line, pending.command, info)
            if pending.kind == "BDAT":
                self._write(chunk, f"({len(chunk)} octets of message)", commands.CHUNK_DATA)
                assert self._current is not None
                self._current.content_sent = self._current.content_sent or pending.last

    def _status(self, reply: Reply, *, rcpt: bool = False) -> str:
        if rcpt and reply.code == 552:
            # RFC 5321 §4.5.3.1.10: servers have sent 552 for "too many recipients"; a
            # client takes 552 to RCPT as the temporary 452 (Postfix does the same).
            return "deferred"
        return status_of(reply)

    def _on_mail(self, pending: _Pending, reply: Reply) -> None:
        del pending
        tx = self._current
        assert tx is not None
        if not reply.positive:
            tx.mail_ok = False
            for rcpt in tx.message.recipients:
                tx.results.setdefault(rcpt, reply)
            self._abandon(tx)

    def _on_rcpt(self, pending: _Pending, reply: Reply) -> None:
        tx = self._current
        assert tx is not None
        if not tx.mail_ok:
            return  # RFC 2920: answers to commands pipelined after a failed MAIL mean nothing
        if reply.positive:
            tx.accepted.append(pending.recipient)
        else:
            tx.results[pending.recipient] = reply
            tx.refused_at_rcpt.add(pending.recipient)
        if not self._plan_has_recipients() and not tx.accepted and not self._pipelined():
            # Every recipient refused: no DATA; _finish clears the transaction with RSET.
            self._abandon(tx)

    def _plan_has_recipients(self) -> bool:
        return any(p.kind == "RCPT" for p, _, _ in self._plan) or any(p.kind == "RCPT" for p in self._pending)

    def _pipelined(self) -> bool:
        return any(p.kind in ("DATA", "BDAT") for p in self._pending)

    def _on_data(self, pending: _Pending, reply: Reply) -> None:
        del pending
        tx = self._current
        assert tx is not None
        if reply.code != 354:
            if tx.mail_ok:
                self._settle(tx, reply)
            else:
                self._finish(tx)
            return
        if not tx.accepted:
            # RFC 2920 §3.1: 354 although no recipient was accepted; end the data at once.
            self._pending.append(_Pending("MESSAGE", "(empty message)"))
            self._write(b".\r\n", ".", commands.MESSAGE_DATA)
            return
        self._pending.append(_Pending("MESSAGE", "(message)"))
        data = dot_stuff(tx.message.content)
        self._write(data, f"({len(data)} octets of message, then a lone dot)", commands.MESSAGE_DATA)
        tx.content_sent = True

    def _on_message(self, pending: _Pending, reply: Reply) -> None:
        del pending
        tx = self._current
        assert tx is not None
        tx.closed_by_server = True
        if tx.accepted:
            self._settle(tx, reply)
        else:
            self._finish(tx)

    def _on_bdat(self, pending: _Pending, reply: Reply) -> None:
        tx = self._current
        assert tx is not None
        if pending.last and reply.positive:
            tx.closed_by_server = True
        if tx.failed or not tx.mail_ok:
            if pending.last:
                self._finish(tx)
            return
        if not reply.positive or not tx.accepted:
            # RFC 3030 §2: after a refused chunk send no more; chunks already in flight
            # get refused too, and the transaction is over.
            tx.failed = True
            self._settle(tx, reply, finish=False)
            self._abandon(tx)
        elif pending.last:
            self._settle(tx, reply)

    def _on_rset(self, pending: _Pending, reply: Reply) -> None:
        del pending, reply

    def _on_quit(self, pending: _Pending, reply: Reply) -> None:
        del pending, reply
        self._close()

    def _settle(self, tx: _Transaction, reply: Reply, *, finish: bool = True) -> None:
        """The message-level reply decides for every recipient accepted so far."""
        for rcpt in tx.accepted:
            tx.results.setdefault(rcpt, reply)
        tx.accepted = []
        if finish:
            self._finish(tx)

    def _abandon(self, tx: _Transaction) -> None:
        """Drop the rest of the plan; with pipelining, wait for the replies in flight."""
        self._plan.clear()
        if not any(p.kind in ("RCPT", "DATA", "BDAT", "MESSAGE") for p in self._pending):
            self._finish(tx)

    def _finish_locally(self, tx: _Transaction, reply: Reply) -> None:
        """Refuse a message without sending MAIL (so there is nothing to RSET)."""
        for rcpt in tx.message.recipients:
            tx.results[rcpt] = reply
        self._finish(tx, reset=False)

    def _finish(self, tx: _Transaction, *, reset: bool = True) -> None:
        """Report the transaction; with `reset`, clear what the server still holds of it."""
        if self._current is not tx:
            return
        results = tuple(
            ev.RecipientResult(r, self._status(tx.results[r], rcpt=r in tx.refused_at_rcpt), tx.results[r])
            for r in tx.message.recipients
            if r in tx.results
        )
        self._events.append(ev.MessageResult(tx.index, results))
        self._current = None
        self._plan.clear()
        if self.state is ClientState.TRANSACTION:
            self.state = ClientState.READY
            if reset and tx.mail_ok and not tx.closed_by_server:
                # The server still holds the open transaction: clear it (RFC 5321 §4.1.1.5).
                self._command("RSET", "RSET")

    # --- endings -------------------------------------------------------------------

    def _give_up_all(self, reply: Reply) -> None:
        """Report every message not yet settled with this reply's status."""
        tx = self._current
        if tx is not None:
            lost = LOST_AFTER_DOT if tx.content_sent and reply is LOST_CONNECTION else reply
            for rcpt in tx.message.recipients:
                tx.results.setdefault(rcpt, lost)
            self._finish(tx, reset=False)
        while self._messages:
            self._count += 1
            message = self._messages.popleft()
            self._events.append(
                ev.MessageResult(
                    self._count,
                    tuple(ev.RecipientResult(r, self._status(reply), reply) for r in message.recipients),
                )
            )

    def _end_session(self, reason: str, reply: Reply) -> None:
        """Give up politely: report, then QUIT (RFC 5321 §4.1.1.10)."""
        self._give_up_all(reply)
        self._events.append(ev.SessionFailed(reason, reply))
        self._plan.clear()
        self.state = ClientState.QUIT
        self._command("QUIT", "QUIT")

    def _fail_session(self, reason: str, reply: Reply | None) -> None:
        """Give up at once: the connection is unusable."""
        # A 421 defers with its own words; anything else unexpected is a lost session.
        self._give_up_all(reply if reply is not None and reply.transient else LOST_CONNECTION)
        self._events.append(ev.SessionFailed(reason, reply))
        self._close()

    def _connection_lost(self) -> None:
        if self.state is ClientState.QUIT or (self.state is ClientState.READY and not self._messages):
            self._close()
            return
        self._give_up_all(LOST_CONNECTION)
        self._events.append(ev.SessionFailed("the connection was lost", None))
        self._close()

    def _close(self) -> None:
        self.state = ClientState.CLOSED
        self._pending.clear()
        self._plan.clear()
        self._events.append(ev.ConnectionClosed())


def _without_tls(config: ClientConfig) -> ClientConfig:
    return replace(config, starttls="never")


# The method that takes the reply to each kind of command.
_HANDLERS = {
    kind: f"_on_{kind.lower()}"
    for kind in ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "MESSAGE", "BDAT", "RSET", "QUIT")
}


def _challenge(text: str) -> bytes:
    """A 334 challenge line decoded; SaslDecodeError when it is not base64 (RFC 4954 §4)."""
    try:
        return base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise sasl.SaslDecodeError("challenge not base64") from exc


def _server_unverified(client: sasl.SaslClient | None) -> bool:
    """A SCRAM exchange that ended before the client checked the server's signature (RFC 5802 §3)."""
    return isinstance(client, sasl.ScramSha256Client) and not client.server_verified
