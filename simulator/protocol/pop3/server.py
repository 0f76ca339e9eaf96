"""The POP3 server engine: one side of one connection, sans-IO (RFC 1939, 2449, 2595, 5034).

    conn = POP3Server(ServerConfig(hostname="mail.example.org"))
    wire = conn.data_to_send()                     # +OK mail.example.org ready.
    conn.receive_data(b"USER bob\\r\\nPASS builder\\r\\n")
    for event in conn.events():
        if isinstance(event, Credentials):         # events that need an answer stop here
            conn.accept_login(maildrop)            # ...until the node decides
        elif isinstance(event, Commit):
            ...delete event.deleted from the store...
    wire = conn.data_to_send()

The engine owns syntax, limits, framing (dot-stuffing), the order of commands
and the session's deletion marks, and answers all of that itself with the texts
Dovecot uses. The node owns policy: whether credentials are good, which
maildrop is the user's, whether it is locked, and the deletions themselves when
`Commit` arrives. Nothing the client sends can make this engine raise; misuse by
our own code raises LocalProtocolError.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.linebuffer import CRLF, LineBuffer
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.readers import (
    COMMAND_LINE_LIMIT,
    SyntaxProblem,
    parse_command,
    parse_line_count,
    parse_number,
    printable,
    top_of,
)
from simulator.protocol.pop3.replies import Response, Status
from simulator.protocol.pop3.state import TRANSITIONS, State, TLSEstablished
from simulator.protocol.pop3.writers import format_response

# SASL exchanges (RFC 5034 §4) may need longer lines than the 255 octets of RFC 2449 §4; like lenient
# servers, AUTH and its responses get the 12288 octets SMTP allows (RFC 4954 §4).
AUTH_LINE_LIMIT = 12288
# Events the node must answer before the engine reads on: the logins with accept_login, refuse_login or
# refuse_locked; SecretNeeded with supply_secret; TokenCredentials with accept_token or refuse_token.
NEEDS_ANSWER = (
    ev.Credentials,
    ev.ApopCredentials,
    ev.AuthCredentials,
    ev.SecretNeeded,
    ev.TokenCredentials,
    ev.SaslVerified,
)
# Login events accept_login() takes, and the row of the state table each follows.
LOGIN_EVENTS: dict[type[ev.Event], type[ev.Event]] = {
    ev.Credentials: ev.Credentials,
    ev.ApopCredentials: ev.ApopCredentials,
    ev.AuthCredentials: ev.AuthCredentials,
    ev.SaslVerified: ev.AuthCredentials,
}
# What each way a SASL exchange can fail is answered with (RFC 5034 §4, RFC 3206; Dovecot's texts).
SASL_FAILURE_RESPONSES: dict[sasl.FailureKind, Response] = {
    sasl.FailureKind.ABORTED: replies.AUTH_ABORTED,
    sasl.FailureKind.BAD_BASE64: replies.AUTH_BAD_BASE64,
    sasl.FailureKind.MALFORMED: replies.AUTH_MALFORMED,
    sasl.FailureKind.TOO_LONG: replies.AUTH_MALFORMED,
    sasl.FailureKind.CREDENTIALS: replies.AUTH_FAILED,
    sasl.FailureKind.TOKEN: replies.AUTH_FAILED,
}
# SASL mechanisms that carry the password itself, refused before TLS like USER/PASS.
PLAINTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})


@dataclass(frozen=True)
class ServerConfig:
    """Who the server is and what it offers; defaults follow Dovecot's.

    Attributes:
        hostname: the name in the greeting (and in the APOP timestamp).
        apop: put an RFC 1939 §7 timestamp in the greeting, so APOP works.
        stls: the host can run TLS, so STLS is offered (RFC 2595).
        tls_active: the connection is already TLS (POP3S on port 995, RFC 8314).
        sasl_mechanisms: SASL mechanisms offered by AUTH, in this order; empty means no AUTH. Any of
            `sasl.SASL_SERVERS` (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER).
        plaintext_requires_tls: refuse USER/PASS and PLAIN/LOGIN before TLS (RFC 2595 §2.3;
            Dovecot disable_plaintext_auth).
        implementation: the IMPLEMENTATION capability text; "" leaves it out (RFC 2449 §6.9).
        max_bad_commands: -ERR answers before the server hangs up; 0 means never.
        keep_plaintext_after_stls: run commands pipelined in clear text after STLS as if they had
            come over TLS (CVE-2011-0411 class), for attack demonstrations; RFC 2595 §4 says to
            discard them, which is the default.
    """

    hostname: str = "mail.example.org"
    apop: bool = False
    stls: bool = False
    tls_active: bool = False
    sasl_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    plaintext_requires_tls: bool = False
    implementation: str = ""
    max_bad_commands: int = 20
    keep_plaintext_after_stls: bool = False


@dataclass(frozen=True)
class Output:
    """One response as written on the wire, with the Response it renders (for the trace)."""

    data: bytes
    response: Response


class POP3Server(sasl.SaslAnswers):
    """The server side of one POP3 connection."""

    secret_event = ev.SecretNeeded  # what the node answers with supply_secret()
    token_event = ev.TokenCredentials  # ... and with accept_token() or refuse_token()

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        timestamp: str | None = None,
        rng: sasl.RandomSource | random.Random | None = None,
    ) -> None:
        """Greet at once.

        Args:
            timestamp: the APOP banner timestamp (`replies.apop_timestamp(pid, clock, host)`);
                the node supplies it since the engine has no clock. Used only with `config.apop`.
            rng: where the CRAM-MD5 challenge and SCRAM nonces come from; `secrets` when None.
        """
        self.config = config or ServerConfig()
        self._rng = rng
        self.state = State.AUTHORIZATION
        self.tls = self.config.tls_active
        self.user: str | None = None  # the logged-in user
        self.errors = 0
        self.timestamp: str | None = None
        if self.config.apop:
            self.timestamp = timestamp or replies.apop_timestamp(1, 0, self.config.hostname)
        self._buffer = LineBuffer()
        self._outbox: list[Output] = []
        self._queued: deque[ev.Event] = deque()
        self._awaiting: ev.Event | None = None
        self._eof = False
        self._pending_user: str | None = None
        self._sasl: sasl.SaslServer | None = None
        self._maildrop: tuple[ev.MaildropEntry, ...] = ()
        self._deleted: set[int] = set()
        self._quit_reply: int | None = None  # where QUIT's answer sits in the outbox, until it is taken
        self._reply(replies.greeting(self.config.hostname, self.timestamp))

    # --- the host's side ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The server has finished: write what is pending, then close the connection."""
        return self.state is State.CLOSED

    @property
    def deleted(self) -> tuple[str, ...]:
        """UIDs marked for deletion so far in this TRANSACTION, in message order."""
        return tuple(self._maildrop[i].uid for i in sorted(self._deleted))

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; b"" means the client closed (or reset) the connection."""
        if self.state is State.CLOSED:
            return
        if data and self.state is State.STLS:
            return  # clear text during the handshake is not to be trusted (RFC 2595 §4)
        if data:
            self._buffer.feed(data)
        else:
            self._eof = True

    def events(self) -> Iterator[ev.Event]:
        """Process what has arrived, yielding events until more input is needed.

        After an event in NEEDS_ANSWER, answer it before asking for the next one.
        """
        while True:
            if self._awaiting is not None:
                raise LocalProtocolError(f"answer {type(self._awaiting).__name__} first")
            event = self._queued.popleft() if self._queued else self._next_event()
            if event is None:
                return
            if isinstance(event, NEEDS_ANSWER):
                self._awaiting = event
            yield event

    def accept_login(self, maildrop: Sequence[ev.MaildropEntry]) -> None:
        """The credentials are good: lock in this maildrop and enter TRANSACTION (RFC 1939 §4).

        The list is fixed for the whole session: message n stays message n (RFC 1939 §5).
        """
        if type(self._awaiting) not in LOGIN_EVENTS:
            raise LocalProtocolError("accept_login() answers a login event")
        event = self._take_awaiting()
        for entry in maildrop:
            if not (1 <= len(entry.uid) <= 70 and all("!" <= c <= "~" for c in entry.uid)):
                raise LocalProtocolError(f"not a valid unique-id (RFC 1939 §7): {entry.uid!r}")
        if len({entry.uid for entry in maildrop}) != len(maildrop):
            raise LocalProtocolError("unique-ids must be unique within a maildrop (RFC 1939 §7)")
        self.state = TRANSITIONS[(self.state, LOGIN_EVENTS[type(event)])]
        self.user = _user_of(event)
        self._maildrop = tuple(maildrop)
        self._deleted = set()
        self._reply(replies.LOGGED_IN)

    def refuse_login(self, response: Response = replies.AUTH_FAILED) -> None:
        """The credentials are wrong: -ERR and stay in AUTHORIZATION (RFC 1939 §4)."""
        if response.status is not Status.ERR:
            raise LocalProtocolError("a refusal must be an -ERR response")
        self._take_awaiting()
        if self.state is State.AUTH:
            self._sasl = None
            self.state = TRANSITIONS[(self.state, ev.AuthAborted)]
        self._reply(response)

    def autologout(self) -> None:
        """The client was silent past the autologout timer: -ERR and close, deleting nothing (RFC 1939 §3)."""
        if self.state is State.CLOSED:
            return
        self._reply(replies.IDLE_TIMEOUT, closing=True)
        self._queued.append(self._close("the client was silent too long: nothing deleted"))

    def not_all_removed(self) -> None:
        """Called while handling `Commit`: some marked messages were already gone, so QUIT gets -ERR (RFC 1939 §6)."""
        if self._quit_reply is None or self._quit_reply >= len(self._outbox):
            raise LocalProtocolError("not_all_removed() belongs to the handling of a Commit")
        response = replies.NOT_ALL_REMOVED
        self._outbox[self._quit_reply] = Output(format_response(response), response)

    def refuse_locked(self) -> None:
        """Another session holds the maildrop: -ERR [IN-USE] (RFC 1939 §8, RFC 2449 §8.1.2)."""
        self.refuse_login(replies.IN_USE)

    def tls_started(self) -> None:
        """The host finished the TLS handshake: forget everything said before it (RFC 2595 §4)."""
        if self.state is not State.STLS:
            raise LocalProtocolError("tls_started() without an accepted STLS")
        self.state = TRANSITIONS[(self.state, TLSEstablished)]
        if not self.config.keep_plaintext_after_stls:
            self._buffer.clear()
        self._pending_user = None
        self.tls = True

    def outgoing(self) -> list[Output]:
        """Take the responses written since the last call, one entry per response."""
        out, self._outbox = self._outbox, []
        self._quit_reply = None
        return out

    def data_to_send(self) -> bytes:
        """Take the bytes to write since the last call."""
        return b"".join(o.data for o in self.outgoing())

    @property
    def capabilities(self) -> list[str]:
        """The CAPA lines on offer now (RFC 2449 §6); they differ before and after login and TLS."""
        c = self.config
        caps = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
        if self.state is State.AUTHORIZATION:
            if c.stls and not self.tls:
                caps.append("STLS")
            if self._plaintext_allowed():
                caps.append("USER")
            offered = self._mechanisms()
            if offered:
                caps.append("SASL " + " ".join(offered))
        if c.implementation:
            caps.append(f"IMPLEMENTATION {c.implementation}")
        return caps

    # --- internals ---------------------------------------------------------------

    def _take_awaiting(self) -> ev.Event:
        event = self._awaiting
        if event is None:
            raise LocalProtocolError("no login is waiting for an answer")
        self._awaiting = None
        return event

    def _continue_sasl(self, outcome: sasl.Outcome) -> None:
        event = self._sasl_outcome(outcome)
        if event is not None:
            self._queued.append(event)

    def _plaintext_allowed(self) -> bool:
        return self.tls or not self.config.plaintext_requires_tls

    def _mechanisms(self) -> list[str]:
        known = [m for m in self.config.sasl_mechanisms if m in sasl.SASL_SERVERS]
        return [m for m in known if self._plaintext_allowed() or m not in PLAINTEXT_MECHANISMS]

    def _reply(self, response: Response, *, closing: bool = False) -> None:
        """Queue a response; count -ERRs, and hang up when there are too many (as Dovecot does)."""
        self._outbox.append(Output(format_response(response), response))
        limit = self.config.max_bad_commands
        if response.status is Status.ERR and not closing and self.state is not State.CLOSED:
            self.errors += 1
            if limit and self.errors >= limit:
                too_many = replies.TOO_MANY_BAD_COMMANDS
                self._outbox.append(Output(format_response(too_many), too_many))
                self._queued.append(self._close("too many bad commands: nothing deleted"))

    def _close(self, reason: str) -> ev.ConnectionClosed:
        self.state = State.CLOSED
        self._buffer.clear()
        self._sasl = None
        return ev.ConnectionClosed(reason)

    def _next_event(self) -> ev.Event | None:
        """Process input until an event happens or more input is needed."""
        while self.state in (State.AUTHORIZATION, State.TRANSACTION, State.AUTH):
            step = self._read_sasl_line() if self.state is State.AUTH else self._read_command()
            if step is _MORE:
                break
            if isinstance(step, ev.Event):
                return step
            if self._queued:
                return self._queued.popleft()
        if self._queued:
            return self._queued.popleft()
        if self._eof and self.state not in (State.CLOSED, State.UPDATE):
            # RFC 1939 §6: without QUIT there is no UPDATE state, so the marks are simply forgotten.
            marked = " (deletion marks forgotten)" if self._deleted else ""
            return self._close(f"the client closed the connection without QUIT: nothing deleted{marked}")
        return None

    def _allowed(self, verb: str, kind: type[ev.Event]) -> bool:
        """Consult the table; -ERR when the command does not belong to this state."""
        if (self.state, kind) in TRANSITIONS:
            return True
        self._reply(replies.wrong_state(verb, logged_in=self.state is State.TRANSACTION))
        return False

    def _read_command(self) -> ev.Event | _More | None:
        line = self._buffer.take_line(AUTH_LINE_LIMIT)
        if line is None:
            return _MORE
        command = parse_command(line.content)
        limit = AUTH_LINE_LIMIT if command.verb == "AUTH" else COMMAND_LINE_LIMIT
        pending_user, self._pending_user = self._pending_user, None  # PASS must follow USER directly
        if line.too_long or line.length > limit:
            self._reply(replies.LINE_TOO_LONG)
            return None
        handler = _HANDLERS.get(command.verb)
        if handler is None:
            self._reply(replies.unknown_command(printable(command.verb)))
            return None
        if command.verb == "PASS":
            self._pending_user = pending_user
        try:
            return handler(self, command.argument)
        except SyntaxProblem as problem:
            self._reply(problem.response)
            return None

    # --- AUTHORIZATION (RFC 1939 §4, §7; RFC 2449; RFC 2595; RFC 5034) ---------------

    def _capa(self, argument: str) -> ev.Event | None:
        del argument
        if not self._allowed("CAPA", ev.Capa):
            return None
        self._reply(replies.capabilities(self.capabilities))
        return ev.Capa()

    def _user(self, argument: str) -> ev.Event | None:
        if not self._allowed("USER", ev.User):
            return None
        if not self._plaintext_allowed():
            self._reply(replies.PLAINTEXT_DISALLOWED)
            return None
        if not argument.strip():
            self._reply(replies.missing_argument("USER name"))
            return None
        self._pending_user = argument.strip()
        self._reply(replies.USER_OK)
        return ev.User(self._pending_user)

    def _pass(self, argument: str) -> ev.Event | None:
        user, self._pending_user = self._pending_user, None
        if not self._allowed("PASS", ev.Credentials):
            return None
        if not self._plaintext_allowed():
            self._reply(replies.PLAINTEXT_DISALLOWED)
            return None
        if user is None:
            self._reply(replies.NO_USERNAME)
            return None
        # RFC 1939 §7: PASS has exactly one argument, so spaces are part of the password.
        return ev.Credentials(user, argument)

    def _apop(self, argument: str) -> ev.Event | None:
        if not self._allowed("APOP", ev.ApopCredentials):
            return None
        if self.timestamp is None:
            self._reply(replies.APOP_DISABLED)
            return None
        words = argument.split()
        if len(words) != 2:
            self._reply(replies.missing_argument("APOP name digest"))
            return None
        return ev.ApopCredentials(words[0], words[1], self.timestamp)

    def _stls(self, argument: str) -> ev.Event | None:
        if argument:
            raise SyntaxProblem(replies.NOISE)
        if not self._allowed("STLS", ev.StartTLS):
            return None
        if self.tls:
            self._reply(replies.TLS_ALREADY)
            return None
        if not self.config.stls:
            self._reply(replies.TLS_UNAVAILABLE)
            return None
        self._reply(replies.TLS_BEGIN)
        # RFC 2595 §4: commands pipelined after STLS came in clear text; they are dropped.
        if not self.config.keep_plaintext_after_stls:
            self._buffer.clear()
        self.state = TRANSITIONS[(self.state, ev.StartTLS)]
        return ev.StartTLS()

    def _auth(self, argument: str) -> ev.Event | None:
        if not self._allowed("AUTH", ev.Auth):
            return None
        words = argument.split()
        if not words:
            self._reply(replies.mechanisms(self._mechanisms()))
            return None
        if len(words) > 2:
            raise SyntaxProblem(replies.NOISE)
        mechanism = words[0].upper()
        offered = mechanism in self.config.sasl_mechanisms
        if offered and mechanism in PLAINTEXT_MECHANISMS and not self._plaintext_allowed():
            self._reply(replies.PLAINTEXT_DISALLOWED)
            return None
        if mechanism not in self._mechanisms():
            self._reply(replies.AUTH_UNKNOWN_MECHANISM)
            return None
        server = sasl.create_server(mechanism, hostname=self.config.hostname, rng=self._rng)
        if server is None:
            self._reply(replies.AUTH_UNKNOWN_MECHANISM)
            return None
        self._sasl = server
        self.state = TRANSITIONS[(self.state, ev.Auth)]
        failed = self._sasl_outcome(server.begin(words[1] if len(words) == 2 else None))
        if failed is not None:
            self._queued.append(failed)  # told after Auth, which began the exchange
        return ev.Auth(mechanism)

    def _read_sasl_line(self) -> ev.Event | _More | None:
        line = self._buffer.take_line(AUTH_LINE_LIMIT)
        if line is None:
            return _MORE
        if line.too_long:
            return self._sasl_fail(replies.LINE_TOO_LONG, "response line too long")
        assert self._sasl is not None
        return self._sasl_outcome(self._sasl.feed(line.content.decode("ascii", errors="replace")))

    def _sasl_outcome(self, outcome: sasl.Outcome) -> ev.Event | None:
        """Act on what the mechanism says: a `+ ` challenge, an event for the node, or the -ERR (RFC 5034 §4)."""
        mechanism = self._sasl
        assert mechanism is not None
        if isinstance(outcome, sasl.Challenge):
            self._reply(replies.auth_challenge(outcome.data))
        elif isinstance(outcome, sasl.Credentials):
            self._queued.append(ev.AuthCredentials(mechanism.name, outcome.username, outcome.password, outcome.authzid))
        elif isinstance(outcome, sasl.SecretRequest):
            self._queued.append(ev.SecretNeeded(outcome.mechanism, outcome.username, outcome.authzid))
        elif isinstance(outcome, sasl.BearerCredentials):
            self._queued.append(
                ev.TokenCredentials(outcome.mechanism, outcome.username, outcome.token, outcome.host, outcome.port)
            )
        elif isinstance(outcome, sasl.Success):
            self._queued.append(ev.SaslVerified(mechanism.name, outcome.username, outcome.authzid))
        else:
            return self._sasl_fail(SASL_FAILURE_RESPONSES[outcome.kind], outcome.reason)
        return None

    def _sasl_fail(self, response: Response, reason: str) -> ev.Event:
        self._sasl = None
        self.state = TRANSITIONS[(self.state, ev.AuthAborted)]
        self._reply(response)
        return ev.AuthAborted(reason)

    # --- TRANSACTION (RFC 1939 §5, §7) ----------------------------------------------

    def _message(self, argument: str) -> int:
        """The 0-based index of a live message named by its number, or SyntaxProblem with the -ERR."""
        number = parse_number(argument)
        if not 1 <= number <= len(self._maildrop):
            raise SyntaxProblem(replies.NO_SUCH_MESSAGE)
        if number - 1 in self._deleted:
            raise SyntaxProblem(replies.MESSAGE_DELETED)
        return number - 1

    def _args(self, argument: str, usage: str, low: int, high: int) -> list[str]:
        words = argument.split()
        if len(words) < low:
            raise SyntaxProblem(replies.missing_argument(usage))
        if len(words) > high:
            raise SyntaxProblem(replies.NOISE)
        return words

    def _live(self) -> list[int]:
        return [i for i in range(len(self._maildrop)) if i not in self._deleted]

    def _stat(self, argument: str) -> ev.Event | None:
        if not self._allowed("STAT", ev.Stat):
            return None
        self._args(argument, "STAT", 0, 0)
        live = self._live()
        self._reply(replies.stat(len(live), sum(_size(self._maildrop[i].content) for i in live)))
        return ev.Stat()

    def _list(self, argument: str) -> ev.Event | None:
        if not self._allowed("LIST", ev.List):
            return None
        words = self._args(argument, "LIST [msg]", 0, 1)
        if words:
            index = self._message(words[0])
            self._reply(replies.scan_line(index + 1, _size(self._maildrop[index].content)))
            return ev.List(index + 1)
        self._reply(replies.scan_list([(i + 1, _size(self._maildrop[i].content)) for i in self._live()]))
        return ev.List()

    def _uidl(self, argument: str) -> ev.Event | None:
        if not self._allowed("UIDL", ev.Uidl):
            return None
        words = self._args(argument, "UIDL [msg]", 0, 1)
        if words:
            index = self._message(words[0])
            self._reply(replies.uid_line(index + 1, self._maildrop[index].uid))
            return ev.Uidl(index + 1)
        self._reply(replies.uid_list([(i + 1, self._maildrop[i].uid) for i in self._live()]))
        return ev.Uidl()

    def _retr(self, argument: str) -> ev.Event | None:
        if not self._allowed("RETR", ev.Retr):
            return None
        (word,) = self._args(argument, "RETR msg", 1, 1)
        index = self._message(word)
        content = _with_crlf(self._maildrop[index].content)
        self._reply(replies.message(len(content), content))
        return ev.Retr(index + 1, self._maildrop[index].uid)

    def _top(self, argument: str) -> ev.Event | None:
        if not self._allowed("TOP", ev.Top):
            return None
        number, count = self._args(argument, "TOP msg n", 2, 2)
        index = self._message(number)
        lines = parse_line_count(count)
        self._reply(replies.top(top_of(_with_crlf(self._maildrop[index].content), lines)))
        return ev.Top(index + 1, self._maildrop[index].uid, lines)

    def _dele(self, argument: str) -> ev.Event | None:
        if not self._allowed("DELE", ev.Dele):
            return None
        (word,) = self._args(argument, "DELE msg", 1, 1)
        index = self._message(word)
        self._deleted.add(index)  # RFC 1939 §5: only marked; UPDATE removes it
        self._reply(replies.DELETED_MARK)
        return ev.Dele(index + 1, self._maildrop[index].uid)

    def _rset(self, argument: str) -> ev.Event | None:
        if not self._allowed("RSET", ev.Rset):
            return None
        self._args(argument, "RSET", 0, 0)
        self._deleted.clear()
        self._reply(replies.RSET_OK)
        return ev.Rset()

    def _noop(self, argument: str) -> ev.Event | None:
        if not self._allowed("NOOP", ev.Noop):
            return None
        self._args(argument, "NOOP", 0, 0)
        self._reply(replies.NOOP_OK)
        return ev.Noop()

    def _quit(self, argument: str) -> ev.Event | None:
        del argument  # a QUIT with noise still ends the session, as Dovecot does
        if not self._allowed("QUIT", ev.Quit):
            return None
        if self.state is State.TRANSACTION:
            # RFC 1939 §6: UPDATE state; the node removes the marked messages on Commit.
            self.state = TRANSITIONS[(self.state, ev.Quit)]
            deleted = self.deleted
            self._queued.append(ev.Commit(self.user or "", deleted))
            self.state = TRANSITIONS[(self.state, ev.Commit)]
            self._quit_reply = len(self._outbox)  # the node may still turn it into -ERR (not_all_removed)
            self._reply(replies.LOGOUT_DELETED if deleted else replies.LOGOUT, closing=True)
            self._queued.append(self._close("the client said QUIT"))
            return ev.Quit()
        self.state = TRANSITIONS[(self.state, ev.Quit)]
        self._reply(replies.LOGOUT, closing=True)
        self._queued.append(self._close("the client said QUIT before logging in"))
        return ev.Quit()


def _with_crlf(content: bytes) -> bytes:
    """The message as it goes on the wire, ending in CRLF, whose length is its RFC 1939 size."""
    return content if not content or content.endswith(CRLF) else content + CRLF


def _size(content: bytes) -> int:
    return len(_with_crlf(content))


def _user_of(event: ev.Event) -> str:
    if isinstance(event, ev.Credentials | ev.ApopCredentials | ev.AuthCredentials | ev.SaslVerified):
        return event.user
    raise LocalProtocolError(f"not a login event: {type(event).__name__}")


class _More:
    """Marker: the buffer holds no complete line yet."""


_MORE = _More()

_HANDLERS: dict[str, Callable[[POP3Server, str], ev.Event | None]] = {
    "CAPA": POP3Server._capa,
    "USER": POP3Server._user,
    "PASS": POP3Server._pass,
    "APOP": POP3Server._apop,
    "AUTH": POP3Server._auth,
    "STLS": POP3Server._stls,
    "STAT": POP3Server._stat,
    "LIST": POP3Server._list,
    "RETR": POP3Server._retr,
    "TOP": POP3Server._top,
    "DELE": POP3Server._dele,
    "RSET": POP3Server._rset,
    "NOOP": POP3Server._noop,
    "UIDL": POP3Server._uidl,
    "QUIT": POP3Server._quit,
}
