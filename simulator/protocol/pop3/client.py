"""The POP3 client engine: one retrieval session, sans-IO (RFC 1939, 2449, 2595, 5034).

    client = POP3Client(ClientConfig(username="bob", password="builder"))
    client.receive_data(b"+OK mail.example.org ready.\\r\\n")
    wire = client.data_to_send()              # CAPA
    ... feed responses, write what data_to_send() returns ...
    for event in client.events():             # MessageRetrieved, SessionComplete, ...

It reads the greeting and CAPA, upgrades with STLS when configured to, logs in
(USER/PASS, APOP when the greeting offers a timestamp, or AUTH PLAIN), then runs
one retrieval profile:

- "download-and-delete": RETR every message and DELE it, then QUIT. The
  deletions happen only if QUIT succeeds (RFC 1939 §6).
- "leave-on-server": UIDL, RETR only the unique-ids not in `known_uids`, no
  DELE, then QUIT: what a phone and a laptop sharing one mailbox do.

One command is on the wire at a time, so every response is read against the
command it answers. Nothing the server sends makes the client raise; a response
it cannot parse ends the session.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError, RemoteProtocolError
from simulator.protocol.linebuffer import LineBuffer
from simulator.protocol.pop3 import commands, replies
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3.readers import (
    BODY_LINE_LIMIT,
    RESPONSE_LINE_LIMIT,
    ResponseReader,
    apop_timestamp_in,
    parse_capabilities,
    parse_listing,
)
from simulator.protocol.pop3.replies import Response, Status
from simulator.protocol.pop3.writers import format_command

PROFILES = ("download-and-delete", "leave-on-server")
LOGINS = ("user", "apop", "sasl-plain", "sasl")
STLS_MODES = ("never", "opportunistic", "required")


@dataclass(frozen=True)
class ClientConfig:
    """What the client does in its session.

    Attributes:
        username, password: the account to log in to.
        login: "user" (USER/PASS), "apop" (APOP when the greeting has a timestamp, else USER/PASS)
            "sasl-plain" (AUTH PLAIN with an initial response, RFC 5034 §4), or "sasl" (AUTH with
            `sasl_mechanism`).
        sasl_mechanism: for login "sasl": PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (RFC 7677), XOAUTH2
            or OAUTHBEARER (RFC 7628; these send `token`).
        token: the OAuth 2.0 bearer token for XOAUTH2 and OAUTHBEARER (RFC 6750).
        stls: "never", "opportunistic" (if CAPA offers STLS) or "required".
        profile: "download-and-delete" or "leave-on-server".
        known_uids: unique-ids already on the device; leave-on-server skips them.
    """

    username: str = ""
    password: str = field(default="", repr=False)
    login: str = "user"
    sasl_mechanism: str = "PLAIN"
    token: str = field(default="", repr=False)
    stls: str = "never"
    profile: str = "download-and-delete"
    known_uids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.profile not in PROFILES or self.login not in LOGINS or self.stls not in STLS_MODES:
            raise LocalProtocolError(f"unknown profile, login or stls mode in {self!r}")
        if self.sasl_mechanism.upper() not in sasl.CLIENT_MECHANISMS:
            raise LocalProtocolError(f"no client for SASL mechanism {self.sasl_mechanism}")


class ClientState(Enum):
    GREETING = "waiting for the greeting"
    CAPA = "CAPA sent"
    STLS = "STLS sent"
    TLS_HANDSHAKE = "TLS handshake in progress"
    LOGIN = "logging in (AUTHORIZATION state)"
    LISTING = "asking what the maildrop holds"
    RETRIEVING = "retrieving (TRANSACTION state)"
    QUIT = "QUIT sent"
    CLOSED = "connection closed"


@dataclass(frozen=True)
class Output:
    """One write on the wire with its note for learners."""

    data: bytes
    summary: str
    explain: str
    rfc: str


@dataclass(frozen=True)
class _Pending:
    """The command on the wire, awaiting its response."""

    verb: str  # CAPA, STLS, USER, PASS, APOP, AUTH, SASL, UIDL, LIST, RETR, DELE, QUIT
    command: str
    multiline: bool = False
    number: int = 0


# Commands whose +OK opens a multi-line block (RFC 1939 §3, RFC 2449 §5).
_MULTILINE = frozenset({"CAPA", "UIDL", "LIST", "RETR"})


class POP3Client:
    """The client side of one POP3 connection."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        tls: bool = False,
        rng: sasl.RandomSource | random.Random | None = None,
    ) -> None:
        """Start a session; it begins when the greeting arrives (RFC 1939 §4).

        Args:
            tls: the connection is already TLS (POP3S, RFC 8314).
            rng: where the SCRAM client nonce comes from; `secrets` when None.
        """
        self.config = config or ClientConfig()
        self._rng = rng
        self._sasl: sasl.SaslClient | None = None
        self.state = ClientState.GREETING
        self.tls = tls
        self.capabilities: dict[str, str] = {}
        self.timestamp: str | None = None
        self.authenticated = False
        self._buffer = LineBuffer()
        self._reader = ResponseReader()
        self._pending: _Pending | None = None
        self._events: deque[ev.Event] = deque()
        self._outbox: list[Output] = []
        self._uids: dict[int, str] = {}
        self._plan: deque[tuple[str, int]] = deque()
        self._retrieved: list[str] = []
        self._marked: list[str] = []
        self._login_method = ""

    # --- the host's side -------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" means the server closed the connection."""
        if self.state is ClientState.CLOSED:
            return
        if not data:
            self._connection_lost()
            return
        if self.state is ClientState.TLS_HANDSHAKE:
            return  # clear text during the handshake is not to be trusted (RFC 2595 §4)
        self._buffer.feed(data)
        while self._reading():
            # Lines inside a message may be long (RFC 5322 §2.1.1 only asks for 998); status lines may not.
            line = self._buffer.take_line(BODY_LINE_LIMIT if self._reader.partial else RESPONSE_LINE_LIMIT)
            if line is None:
                return
            try:
                if line.too_long:
                    raise RemoteProtocolError("response line too long")
                response = self._reader.feed_line(line.content)
            except RemoteProtocolError as exc:
                self._fail(f"unparseable response: {exc}", None)
                return
            if response is not None:
                self._on_response(response)

    def _reading(self) -> bool:
        """Whether buffered lines are still to be read as responses (not after close or STLS's +OK)."""
        return self.state not in (ClientState.CLOSED, ClientState.TLS_HANDSHAKE)

    def tls_started(self) -> None:
        """The host finished the TLS handshake: forget the old capabilities, ask CAPA again (RFC 2595 §4)."""
        if self.state is not ClientState.TLS_HANDSHAKE:
            raise LocalProtocolError("tls_started() without an accepted STLS")
        self.tls = True
        self.capabilities = {}
        self._buffer.clear()
        self._reader = ResponseReader()
        self.state = ClientState.CAPA
        self._command("CAPA")

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

    # --- writing -----------------------------------------------------------------

    def _command(self, verb: str, *arguments: str, number: int = 0) -> None:
        data = format_command(verb, *arguments)
        text = " ".join((verb, *arguments))
        multiline = verb in _MULTILINE and not (verb in ("UIDL", "LIST") and arguments)
        self._send(_Pending(verb, text, multiline, number), data, text, commands.COMMANDS[verb])

    def _send(self, pending: _Pending, data: bytes, summary: str, info: commands.CommandInfo) -> None:
        self._pending = pending
        self._reader.expect(pending.multiline)
        self._outbox.append(Output(data, summary, info.explain, info.rfc))

    # --- reading -----------------------------------------------------------------

    def _on_response(self, response: Response) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            if self.state is ClientState.GREETING:
                self._events.append(ev.ResponseReceived("", response))
                self._on_greeting(response)
                return
            self._fail("a response arrived with no command outstanding", response)
            return
        response = replies.explained_for(response, pending.verb)
        self._events.append(ev.ResponseReceived(pending.command, response))
        _HANDLERS[pending.verb](self, pending, response)

    def _on_greeting(self, response: Response) -> None:
        if not response.ok:
            self._events.append(ev.Greeting(response, None))
            self._give_up("the server refused the connection", response)
            return
        self.timestamp = apop_timestamp_in(response.text)
        self._events.append(ev.Greeting(response, self.timestamp))
        self.state = ClientState.CAPA
        self._command("CAPA")

    def _on_capa(self, pending: _Pending, response: Response) -> None:
        del pending
        # RFC 2449 §5: a server without CAPA answers -ERR; carry on with RFC 1939 alone.
        self.capabilities = parse_capabilities(response) if response.ok else {}
        self._events.append(ev.Capabilities(dict(self.capabilities)))
        wants_tls = self.config.stls != "never" and not self.tls
        if wants_tls and "STLS" in self.capabilities:
            self.state = ClientState.STLS
            self._command("STLS")
            return
        if wants_tls and self.config.stls == "required":
            self._give_up("TLS is required, but the server does not offer STLS", None)
            return
        self._login()

    def _on_stls(self, pending: _Pending, response: Response) -> None:
        del pending
        if response.ok:
            # Anything after the +OK came in clear text and may be injected: drop it (RFC 2595 §4).
            self._buffer.clear()
            self._reader = ResponseReader()
            self.state = ClientState.TLS_HANDSHAKE
            self._events.append(ev.TLSReady())
        elif self.config.stls == "required":
            self._give_up("STLS was refused", response)
        else:
            self._login()

    def _login(self) -> None:
        self.state = ClientState.LOGIN
        user, password = self.config.username, self.config.password
        if self.config.login == "apop" and self.timestamp:
            self._login_method = "APOP"
            self._command("APOP", user, ev.apop_digest(self.timestamp, password))
        elif self.config.login in ("sasl-plain", "sasl"):
            self._start_sasl("PLAIN" if self.config.login == "sasl-plain" else self.config.sasl_mechanism.upper())
        else:
            self._login_method = "USER"
            self._command("USER", user)

    def _start_sasl(self, mechanism: str) -> None:
        """AUTH mechanism, with the initial response on the command line when there is one (RFC 5034 §4)."""
        self._login_method = f"AUTH {mechanism}"
        client = sasl.client_for(mechanism, self.config, self._rng)
        if client is None:
            self._give_up(f"the user name or password cannot be used with {mechanism} (RFC 4013 §2.3)", None)
            return
        self._sasl = client
        initial = client.initial_response()
        if initial is None:
            self._command("AUTH", mechanism)
        else:
            self._command("AUTH", mechanism, sasl.encode(initial))

    def _sasl_answer(self, text: str) -> tuple[bytes, str]:
        """The answer to one `+ ` challenge, and its summary; '*' cancels when the client cannot go on."""
        client = self._sasl
        try:
            if client is None:
                raise sasl.SaslMalformed("no exchange in progress")
            challenge = base64.b64decode(text.strip().encode("ascii"), validate=True)
            answer = base64.b64encode(client.respond(challenge))
        except (sasl.SaslError, binascii.Error, UnicodeEncodeError):
            return b"*\r\n", "* (cancel the authentication)"
        return answer + b"\r\n", f"(base64 {client.name} response)"

    def _on_user(self, pending: _Pending, response: Response) -> None:
        del pending
        if response.ok:
            self._command("PASS", self.config.password)
        else:
            self._login_failed(response)

    def _on_login(self, pending: _Pending, response: Response) -> None:
        if response.status is Status.CONTINUE and pending.verb in ("AUTH", "SASL"):
            # RFC 5034 §4: each challenge gets one base64 line (the first may ask for the initial response).
            data, summary = self._sasl_answer(response.text)
            self._send(_Pending("SASL", "(SASL response)"), data, summary, commands.SASL_RESPONSE)
            return
        client, self._sasl = self._sasl, None
        if not response.ok:
            self._login_failed(response)
            return
        if isinstance(client, sasl.ScramSha256Client) and not client.server_verified:
            # RFC 5802 §5: the session is trusted only once the server proved it knows the secret.
            self._events.append(ev.LoginFailed(response))
            self._give_up("the server did not prove that it knows the password (SCRAM ServerSignature)", response)
            return
        self.authenticated = True
        self._events.append(ev.Authenticated(self.config.username, self._login_method))
        self.state = ClientState.LISTING
        self._command("UIDL")

    def _login_failed(self, response: Response) -> None:
        self._events.append(ev.LoginFailed(response))
        self._give_up("the login was refused", response)

    def _on_uidl(self, pending: _Pending, response: Response) -> None:
        del pending
        if response.ok:
            self._plan_retrieval(dict(parse_listing(response)))
        elif self.config.profile == "leave-on-server":
            self._give_up("the server has no UIDL, so new messages cannot be told from old ones", response)
        else:
            self._command("LIST")  # RFC 1939 §7: UIDL is optional; numbers will do here

    def _on_list(self, pending: _Pending, response: Response) -> None:
        del pending
        if not response.ok:
            self._give_up("the server would not list the maildrop", response)
            return
        self._plan_retrieval({number: "" for number, _ in parse_listing(response)})

    def _plan_retrieval(self, uids: dict[int, str]) -> None:
        self._uids = uids
        listed = tuple(ev.ListedMessage(n, uid) for n, uid in sorted(uids.items()))
        if self.config.profile == "leave-on-server":
            wanted = [m.number for m in listed if m.uid not in self.config.known_uids]
            self._plan.extend(("RETR", n) for n in wanted)
        else:
            wanted = [m.number for m in listed]
            for n in wanted:
                self._plan.extend((("RETR", n), ("DELE", n)))
        self._events.append(ev.MessagesListed(listed, tuple(wanted)))
        self.state = ClientState.RETRIEVING
        self._next_step()

    def _next_step(self) -> None:
        if self._plan:
            verb, number = self._plan.popleft()
            self._command(verb, str(number), number=number)
            return
        self.state = ClientState.QUIT
        self._command("QUIT")

    def _on_retr(self, pending: _Pending, response: Response) -> None:
        uid = self._uids.get(pending.number, "")
        if response.ok:
            self._retrieved.append(uid)
            self._events.append(ev.MessageRetrieved(pending.number, uid, response.body or b""))
        else:
            # Never delete what was not safely retrieved.
            self._plan = deque(step for step in self._plan if step != ("DELE", pending.number))
            self._events.append(ev.RetrieveFailed(pending.number, uid, response))
        self._next_step()

    def _on_dele(self, pending: _Pending, response: Response) -> None:
        uid = self._uids.get(pending.number, "")
        if response.ok:
            self._marked.append(uid)
            self._events.append(ev.DeletionMarked(pending.number, uid))
        self._next_step()

    def _on_quit(self, pending: _Pending, response: Response) -> None:
        del pending
        if self.authenticated:
            # RFC 1939 §6: +OK means the marked messages are gone; -ERR means some were not removed.
            deleted = tuple(self._marked) if response.ok else ()
            self._events.append(ev.SessionComplete(tuple(self._retrieved), deleted))
            if not response.ok:
                self._events.append(ev.SessionFailed("the server could not remove the marked messages", response))
        self._close()

    # --- endings -------------------------------------------------------------------

    def _give_up(self, reason: str, response: Response | None) -> None:
        """Stop the work politely: report, then QUIT (RFC 1939 §6 commits nothing unless logged in)."""
        self._events.append(ev.SessionFailed(reason, response))
        self._plan.clear()
        self.state = ClientState.QUIT
        self._command("QUIT")

    def _fail(self, reason: str, response: Response | None) -> None:
        """Give up at once: the connection is unusable."""
        self._events.append(ev.SessionFailed(reason, response))
        self._close()

    def _connection_lost(self) -> None:
        if self.state is ClientState.QUIT and self._pending is None:
            self._close()
            return
        marks = ": the deletion marks were not committed" if self._marked else ""
        self._events.append(ev.SessionFailed(f"the connection was lost{marks}", None))
        self._close()

    def _close(self) -> None:
        self.state = ClientState.CLOSED
        self._pending = None
        self._plan.clear()
        self._events.append(ev.ConnectionClosed())


# The method that takes the response to each command.
_HANDLERS: dict[str, Callable[[POP3Client, _Pending, Response], None]] = {
    "CAPA": POP3Client._on_capa,
    "STLS": POP3Client._on_stls,
    "USER": POP3Client._on_user,
    "PASS": POP3Client._on_login,
    "APOP": POP3Client._on_login,
    "AUTH": POP3Client._on_login,
    "SASL": POP3Client._on_login,
    "UIDL": POP3Client._on_uidl,
    "LIST": POP3Client._on_list,
    "RETR": POP3Client._on_retr,
    "DELE": POP3Client._on_dele,
    "QUIT": POP3Client._on_quit,
}
