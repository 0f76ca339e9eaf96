"""The IMAP4rev1 server engine: one side of one connection, sans-IO (RFC 3501, with IDLE, MOVE, UIDPLUS ...).

    conn = IMAPServer(ServerConfig(hostname="mail.example.org"))
    wire = conn.data_to_send()                       # * OK [CAPABILITY ...] mail.example.org ready.
    conn.receive_data(b"a1 LOGIN bob builder\\r\\n")
    for event in conn.events():
        if isinstance(event, Credentials):           # needs an answer before the engine reads on
            conn.accept_login(store.get("bob"), FlagMode)   # or conn.refuse_login()
        elif isinstance(event, StartTLS):
            ...run the handshake, then conn.tls_started()...
    wire = conn.data_to_send()

The engine frames commands and literals, keeps the RFC 3501 §3 states, and once a
user is logged in it runs every command itself, synchronously, on the account the
node handed over (typed by `access.MailAccount`, so this layer never imports the
store). Updates other sessions cause reach this client as untagged responses before
each tagged completion (RFC 3501 §7), or at once while it IDLEs and the node calls
`wake()` (RFC 2177). Nothing the client sends makes the engine raise; misuse by our
own code raises LocalProtocolError. Texts follow Dovecot's.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Generic, Never, Protocol, TypeVar

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.imap import access
from simulator.protocol.imap import events as ev
from simulator.protocol.imap import responses as r
from simulator.protocol.imap import writers as w
from simulator.protocol.imap.envelope import ParsedMessage
from simulator.protocol.imap.readers import (
    MAX_LINE,
    MAX_LITERAL,
    CommandReader,
    LiteralTooLarge,
    NeedsContinuation,
    is_idle_done,
)
from simulator.protocol.imap.responses import Response
from simulator.protocol.imap.search import SearchTarget, search
from simulator.protocol.imap.state import State, is_valid, next_state
from simulator.protocol.imap.writers import Atom, ImapValue, Literal, ResponseCode, Status
from simulator.protocol.linebuffer import Line
from simulator.protocol.values import Value

M = TypeVar("M")

# The simulation's clock starts here; INTERNALDATE is this plus a message's `arrived` seconds.
DEFAULT_EPOCH = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
# SASL mechanisms that carry the password itself, refused before TLS like LOGIN (RFC 3501 §6.2.3, §11.1).
PLAINTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})
# Charsets SEARCH understands (RFC 3501 §6.4.4: US-ASCII MUST be supported).
SEARCH_CHARSETS = frozenset({"US-ASCII", "UTF-8"})
# Extensions offered in every state, in the order CAPABILITY lists them.
BASE_CAPABILITIES = ("IMAP4rev1", "SASL-IR", "LITERAL+", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT")
SUMMARY_LIMIT = 160


@dataclass(frozen=True)
class ServerConfig:
    """Who the server is and what it offers; defaults follow Dovecot's.

    Attributes:
        hostname: the name in the greeting.
        starttls: the host can run TLS, so STARTTLS is offered (RFC 3501 §6.2.1).
        tls_active: the connection is already TLS (IMAPS on port 993, RFC 8314).
        plaintext_requires_tls: LOGIN and AUTHENTICATE PLAIN/LOGIN only under TLS; before it,
            CAPABILITY says LOGINDISABLED (RFC 3501 §6.2.3, §7.2.1; Dovecot disable_plaintext_auth).
        sasl_mechanisms: offered as AUTH=..., in this order; any of `sasl.SASL_SERVERS` (PLAIN, LOGIN,
            CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER).
        max_line: the longest command line in octets, CRLF included.
        max_literal: a literal announced larger than this is refused before it is read (RFC 7888 §4).
        max_bad_commands: consecutive BAD responses before `* BYE` and hanging up; 0 means never.
        epoch: the instant simulated time 0 stands for, to turn `arrived` seconds into INTERNALDATE.
        keep_plaintext_after_starttls: run commands pipelined in clear text after STARTTLS as if
            they had come over TLS (CVE-2011-0411 class), for attack demonstrations; RFC 3501
            §6.2.1 says to discard them, which is the default.
    """

    hostname: str = "mail.example.org"
    starttls: bool = False
    tls_active: bool = False
    plaintext_requires_tls: bool = False
    sasl_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    max_line: int = MAX_LINE
    max_literal: int = MAX_LITERAL
    max_bad_commands: int = 10
    epoch: datetime = DEFAULT_EPOCH
    keep_plaintext_after_starttls: bool = False


@dataclass(frozen=True)
class Output:
    """One response unit as written on the wire, annotated for the trace.

    Attributes:
        data: the bytes, literals included.
        summary: the first line, literal contents elided as `{1234}`.
        explain: what it means, for a learner.
        rfc: where the behaviour is specified.
        response: the status response it renders (tagged, or untagged OK/NO/BAD/BYE), else None.
    """

    data: bytes = field(repr=False)
    summary: str
    explain: str
    rfc: str
    response: Response | None = None


# --- events --------------------------------------------------------------------------------------------------


class Event(Value):
    """Base of the events the engine emits to its node."""

    __slots__ = ()


@dataclass(frozen=True)
class Credentials(Event):
    """Needs an answer: LOGIN or AUTHENTICATE produced a user and password (RFC 3501 §6.2.2, §6.2.3).

    The node calls `accept_login(account, flag_mode)` or `refuse_login()`; the engine reads no
    further until then. `mechanism` is None for LOGIN, else the SASL mechanism.
    """

    tag: str
    user: str
    password: str = field(repr=False)
    mechanism: str | None = None
    authzid: str = ""


@dataclass(frozen=True)
class SecretNeeded(Event):
    """Needs an answer: CRAM-MD5 or SCRAM-SHA-256 needs this user's stored secret (RFC 2195 §2, RFC 5802 §3).

    The node calls `supply_secret(secret)` (the password, a `sasl.ScramSecret`, or None for
    "no such user"), or ends AUTHENTICATE with `refuse_login(response)` (e.g.
    `responses.AUTHENTICATION_UNAVAILABLE`, RFC 5530 §3).
    """

    tag: str
    mechanism: str
    user: str
    authzid: str = ""


@dataclass(frozen=True)
class TokenCredentials(Event):
    """Needs an answer: an OAuth 2.0 bearer token from XOAUTH2 or OAUTHBEARER (RFC 7628 §3.1, RFC 6750).

    The node checks the token and calls `accept_token()` (then `SaslVerified` follows) or
    `refuse_token(status, scope)`: the JSON error goes out as a `+ ` continuation, the client
    acknowledges, and AUTHENTICATE ends `NO [AUTHENTICATIONFAILED]` (RFC 7628 §3.2.2, §3.2.3, §4.2).
    """

    tag: str
    mechanism: str
    user: str
    token: str = field(repr=False)
    host: str = ""
    port: int | None = None


@dataclass(frozen=True)
class SaslVerified(Event):
    """Needs an answer: AUTHENTICATE proved who the client is (RFC 3501 §6.2.2).

    The node answers as for `Credentials`: `accept_login(account, flag_mode)` or `refuse_login()`.
    CRAM-MD5, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER end here.
    """

    tag: str
    mechanism: str
    user: str
    authzid: str = ""


# Events the node must answer before the engine reads on.
NEEDS_ANSWER = (Credentials, SecretNeeded, TokenCredentials, SaslVerified)
Awaiting = Credentials | SecretNeeded | TokenCredentials | SaslVerified
# What each way a SASL exchange can fail is answered with (RFC 3501 §6.2.2, RFC 5530; Dovecot's texts).
SASL_FAILURE_RESPONSES: dict[sasl.FailureKind, Response] = {
    sasl.FailureKind.ABORTED: r.AUTHENTICATE_ABORTED,
    sasl.FailureKind.BAD_BASE64: r.INVALID_BASE64,
    sasl.FailureKind.MALFORMED: r.AUTHENTICATION_FAILED,
    sasl.FailureKind.TOO_LONG: r.AUTHENTICATION_FAILED,
    sasl.FailureKind.CREDENTIALS: r.AUTHENTICATION_FAILED,
    sasl.FailureKind.TOKEN: r.AUTHENTICATION_FAILED,
}


@dataclass(frozen=True)
class StartTLS(Event):
    """STARTTLS was accepted: run the TLS handshake, then call `tls_started()` (RFC 3501 §6.2.1).

    Until then the engine ignores what arrives: it is not to be trusted.
    """

    tag: str


@dataclass(frozen=True)
class CommandCompleted(Event):
    """For the trace: a command got its tagged completion (RFC 3501 §7.1).

    Attributes:
        tag: the command's tag.
        command: its name as sent, `UID FETCH` for the UID forms.
        status: OK, NO or BAD.
    """

    tag: str
    command: str
    status: Status


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The connection is over; `reason` says why, for the trace."""

    reason: str = ""


# --- responses no shared table holds ---------------------------------------------------------------------------


def _bad(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.BAD, text, code, explain, rfc)


def _no(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.NO, text, code, explain, rfc)


def _ok(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.OK, text, code, explain, rfc)


TOO_MANY_INVALID = Response(
    Status.BYE,
    "Too many invalid IMAP commands.",
    None,
    "The client sent one bad command after another; the server gives up on it and hangs up.",
    "RFC 3501 §7.1.5",
)
TLS_UNAVAILABLE = _bad(
    "TLS support isn't enabled.", "This server has no certificate, so it cannot start TLS.", "RFC 3501 §6.2.1"
)
COMMAND_NOT_AFTER_LOGIN = _bad(
    "Command not permitted when logged in.",
    "STARTTLS is only valid before logging in: TLS must protect the password.",
    "RFC 3501 §6.2",
)
EXPECTED_DONE = _bad(
    "Expected DONE.",
    "While idling the only thing a client may send is DONE; the IDLE command ends here.",
    "RFC 2177 §3",
)
NO_MESSAGES = _ok(
    "No messages found.", "None of the messages named exist any more, so nothing was done.", "RFC 3501 §6.4.8"
)
MOVE_OK = _ok(
    "Move completed.", "The messages moved: copied to the target, then expunged here.", "RFC 6851 §3; RFC 4315 §3"
)
FIRST_UNSEEN_TEXT = "First unseen."


def invalid_messageset(command: str) -> Response:
    """`BAD Error in IMAP command FETCH: Invalid messageset`: a sequence number beyond EXISTS (RFC 3501 §9)."""
    return _bad(
        f"Error in IMAP command {command}: Invalid messageset",
        "A message sequence number is larger than the number of messages in the mailbox (or it is empty).",
        "RFC 3501 §6.4.5, §9 (seq-number)",
    )


def refused(refusal: access.Refusal) -> Response:
    """A NO for a refusal the store gave, with its response code (RFC 5530 §3)."""
    reason = refusal.reason[:1].upper() + refusal.reason[1:]
    return _no(
        reason if reason.endswith(".") else reason + ".",
        "The mail store refused the operation; the response code in brackets says why.",
        "RFC 3501 §7.1.2; RFC 5530 §3",
        ResponseCode(refusal.code) if refusal.code else None,
    )


def _capability_line(capabilities: Sequence[str]) -> tuple[bytes, str, str]:
    return (
        w.format_untagged(Atom("CAPABILITY"), *(Atom(c) for c in capabilities)),
        "The extensions this server supports, and the login methods it offers now.",
        "RFC 3501 §7.2.1",
    )


# --- binding a store account to the engine --------------------------------------------------------------------


SetFlags = Callable[[Iterable[int], ev.StoreMode, Iterable[str]], Mapping[int, tuple[str, ...]]]


class _FlagSetter(Generic[M]):
    """STORE on one view, turning the command's mode into the store's own mode type."""

    def __init__(self, view: access.MailView[M], flag_mode: Callable[[str], M]) -> None:
        self.view = view
        self.flag_mode = flag_mode

    def __call__(self, uids: Iterable[int], mode: ev.StoreMode, flags: Iterable[str]) -> Mapping[int, tuple[str, ...]]:
        return self.view.store(uids, self.flag_mode(mode.value), flags)


class _Opener(Protocol):
    def __call__(self, name: str, read_only: bool) -> tuple[access.MailView[Never], SetFlags]: ...


class _Binding(Generic[M]):
    """An account and its STORE mode type, kept together so the engine need not be generic."""

    def __init__(self, account: access.MailAccount[M], flag_mode: Callable[[str], M]) -> None:
        self.account = account
        self.flag_mode = flag_mode

    def __call__(self, name: str, read_only: bool) -> tuple[access.MailView[Never], SetFlags]:
        view = self.account.select(name, read_only=read_only)
        return view, _FlagSetter(view, self.flag_mode)


@dataclass(frozen=True)
class _Refused:
    refusal: access.Refusal


T = TypeVar("T")


def _attempt(operation: Callable[[], T]) -> T | _Refused:
    """Run a store operation; a refusal comes back as a value, anything else is a bug and propagates."""
    try:
        return operation()
    except Exception as exc:
        if isinstance(exc, access.Refusal):
            return _Refused(exc)
        raise


class _Mode(Enum):
    COMMAND = "reading commands"
    SASL = "reading AUTHENTICATE responses"
    IDLE = "idling until DONE"
    TLS = "waiting for the TLS handshake"
    CLOSED = "closed"


_LITERAL_IN_OUTPUT = re.compile(rb"\{([0-9]+)\+?\}\r\n")


def summarize(data: bytes) -> str:
    """The first line of a response with literal contents elided as `{1234}`, kept short for the trace."""
    out = bytearray()
    pos = 0
    while True:
        match = _LITERAL_IN_OUTPUT.search(data, pos)
        if match is None:
            out += data[pos:]
            break
        out += data[pos : match.start()] + b"{" + match.group(1) + b"}"
        pos = match.end() + int(match.group(1))
    text = bytes(out).split(b"\r\n", 1)[0].decode("utf-8", errors="replace")
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."


def command_name(command: ev.Command) -> str:
    """The command's name as sent: `FETCH`, `UID FETCH`, `UID EXPUNGE` (RFC 3501 §6.4.8, RFC 4315 §2.1)."""
    name = type(command).__name__.upper()
    if isinstance(command, ev.Fetch | ev.Store | ev.Search | ev.Copy | ev.Move) and command.uid:
        return "UID " + name
    if isinstance(command, ev.Expunge) and command.uids is not None:
        return "UID EXPUNGE"
    return name


# --- the engine ------------------------------------------------------------------------------------------------


class IMAPServer(sasl.SaslAnswers):
    """The server side of one IMAP connection.

    Attributes:
        state: the RFC 3501 §3 state, moved only through the TRANSITIONS table.
        tls: the connection is encrypted (IMAPS, or after STARTTLS and `tls_started()`).
        user: who logged in, once `accept_login()` was called.
        now: simulated seconds, kept current by the node: the INTERNALDATE of an APPEND
            that gives none (RFC 3501 §6.3.11). The engine has no clock of its own.
        account, view: the logged-in account and the selected mailbox, if any.
        bad_in_a_row: consecutive BAD responses, against `config.max_bad_commands`.
    """

    secret_event = SecretNeeded  # what the node answers with supply_secret()
    token_event = TokenCredentials  # ... and with accept_token() or refuse_token()

    def __init__(
        self, config: ServerConfig | None = None, *, rng: sasl.RandomSource | random.Random | None = None
    ) -> None:
        """Greet at once: `* OK [CAPABILITY ...] host ready.` (RFC 3501 §7.1.1).

        Args:
            rng: where the CRAM-MD5 challenge and SCRAM nonces come from; `secrets` when None.
        """
        self.config = config or ServerConfig()
        self._rng = rng
        self.state = State.NOT_AUTHENTICATED
        self.tls = self.config.tls_active
        self.user: str | None = None
        self.now = 0.0  # simulated seconds, set by the node: INTERNALDATE of an APPEND without a date
        self.account: access.MailAccount[Never] | None = None
        self.view: access.MailView[Never] | None = None
        self.bad_in_a_row = 0
        self._open: _Opener | None = None
        self._set_flags: SetFlags | None = None
        self._reader = CommandReader(max_line=self.config.max_line, max_literal=self.config.max_literal)
        self._mode = _Mode.COMMAND
        self._outbox: list[Output] = []
        self._queued: deque[Event] = deque()
        self._awaiting: Awaiting | None = None
        self._eof = False
        self._sasl: sasl.SaslServer | None = None
        self._sasl_tag = ""
        self._idle_tag = ""
        self._parsed: dict[int, ParsedMessage] = {}
        greeting = r.greeting(self.config.hostname, self.capabilities)
        self._status(greeting.untagged(), greeting)

    # --- the node's side ----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The server has finished: write what is pending, then close the connection."""
        return self._mode is _Mode.CLOSED

    @property
    def idling(self) -> bool:
        """The client is in IDLE: `wake()` writes updates to it at once (RFC 2177)."""
        return self._mode is _Mode.IDLE

    @property
    def capabilities(self) -> list[str]:
        """What CAPABILITY lists now; it changes with TLS and login (RFC 3501 §6.1.1, §6.2.1)."""
        caps = list(BASE_CAPABILITIES)
        if self.state is State.NOT_AUTHENTICATED:
            if self.config.starttls and not self.tls:
                caps.append("STARTTLS")
            if self._plaintext_allowed():
                caps.extend(f"AUTH={m}" for m in self._mechanisms())
            else:
                # Mechanisms that never send the password (CRAM-MD5, SCRAM) stay on offer (RFC 3501 §6.2.3).
                caps.append("LOGINDISABLED")
                caps.extend(f"AUTH={m}" for m in self._mechanisms() if m not in PLAINTEXT_MECHANISMS)
        return caps

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; b"" means the client closed (or reset) the connection."""
        if self._mode is _Mode.CLOSED:
            return
        if not data:
            self._eof = True
        elif self._mode is not _Mode.TLS:  # clear text during the handshake is not to be trusted (§6.2.1)
            self._reader.feed(data)

    def events(self) -> Iterator[Event]:
        """Process what has arrived, yielding events until more input is needed.

        After an event in NEEDS_ANSWER, answer it before asking for the next one.
        """
        while True:
            if self._awaiting is not None:
                raise LocalProtocolError(f"answer the {type(self._awaiting).__name__} event first")
            event = self._queued.popleft() if self._queued else self._next_event()
            if event is None:
                return
            if isinstance(event, NEEDS_ANSWER):
                self._awaiting = event
            yield event

    def accept_login(self, account: access.MailAccount[M], flag_mode: Callable[[str], M]) -> None:
        """The credentials are good: work on this account from now on (RFC 3501 §6.2.2, §6.2.3).

        Args:
            account: the user's mail (the store's `Account`).
            flag_mode: turns "FLAGS", "+FLAGS" or "-FLAGS" into the store's STORE mode;
                the store's `FlagMode` enum class does exactly that.
        """
        if not isinstance(self._awaiting, Credentials | SaslVerified):
            raise LocalProtocolError("accept_login() answers Credentials or SaslVerified")
        event = self._take_awaiting()
        self.account = account
        self._open = _Binding(account, flag_mode)
        self.user = event.user
        self._mode = _Mode.COMMAND
        kind = ev.Authenticate if event.mechanism else ev.Login
        self._complete(event.tag, kind.__name__.upper(), r.login_ok(self._after_login()), kind)

    def refuse_login(self, response: Response = r.AUTHENTICATION_FAILED) -> None:
        """The credentials are wrong: `NO [AUTHENTICATIONFAILED] Authentication failed.` (RFC 5530 §3)."""
        if response.status is not Status.NO:
            raise LocalProtocolError("a refused login is answered NO")
        event = self._take_awaiting()
        self._sasl = None
        self._mode = _Mode.COMMAND
        kind = ev.Authenticate if event.mechanism else ev.Login
        self._complete(event.tag, kind.__name__.upper(), response, kind)

    def tls_started(self) -> None:
        """The host finished the TLS handshake: what came before is forgotten (RFC 3501 §6.2.1)."""
        if self._mode is not _Mode.TLS:
            raise LocalProtocolError("tls_started() without an accepted STARTTLS")
        if not self.config.keep_plaintext_after_starttls:
            self._reader.clear()
        self.tls = True
        self._mode = _Mode.COMMAND

    def wake(self) -> bool:
        """Another session or a delivery changed the mailbox: while IDLE, tell the client now (RFC 2177 §3).

        Returns whether anything was written. Outside IDLE the updates wait for the next command.
        """
        if self._mode is not _Mode.IDLE or self.view is None or not self.view.has_pending:
            return False
        return self._flush(allow_expunge=True)

    def autologout(self) -> None:
        """The client was silent past the autologout timer: `* BYE` and close (RFC 3501 §5.4)."""
        if self._mode is _Mode.CLOSED:
            return
        self._status(r.BYE_IDLE_TIMEOUT.untagged(), r.BYE_IDLE_TIMEOUT)
        self._queued.append(self._close("the client was silent too long"))

    def close_views(self) -> None:
        """Deselect the mailbox, if any, so the \\Recent this session held ends (RFC 3501 §2.3.2)."""
        if self.view is not None:
            self.view.close()
            self.view = None
            self._set_flags = None
            self._parsed.clear()

    def outgoing(self) -> list[Output]:
        """Take the response units written since the last call."""
        out, self._outbox = self._outbox, []
        return out

    def data_to_send(self) -> bytes:
        """Take the bytes to write since the last call."""
        return b"".join(o.data for o in self.outgoing())

    # --- writing ------------------------------------------------------------------------------------------

    def _write(self, data: bytes, explain: str, rfc: str, response: Response | None = None) -> None:
        self._outbox.append(Output(data, summarize(data), explain, rfc, response))

    def _status(self, data: bytes, response: Response) -> None:
        self._write(data, response.explain, response.rfc, response)

    def _untagged(self, response: Response) -> None:
        self._status(response.untagged(), response)
        if response.status is Status.BAD:
            self._count_bad()

    def _complete(self, tag: str, command: str, response: Response, kind: type[ev.Command] | None) -> None:
        """The tagged completion: the state change the table gives `kind` (None: none), the line, the trace event."""
        if kind is not None and is_valid(self.state, kind):
            self.state = next_state(self.state, kind, ok=response.status is Status.OK)
        self._status(response.tagged(tag), response)
        self._queued.append(CommandCompleted(tag, command, response.status))
        if response.status is Status.BAD:
            self._count_bad()
        else:
            self.bad_in_a_row = 0

    def _count_bad(self) -> None:
        self.bad_in_a_row += 1
        limit = self.config.max_bad_commands
        if limit and self.bad_in_a_row >= limit and self._mode is not _Mode.CLOSED:
            self._status(TOO_MANY_INVALID.untagged(), TOO_MANY_INVALID)
            self._queued.append(self._close("too many invalid commands"))

    def _continuation(self, text: str, explain: str, rfc: str) -> None:
        self._write(w.format_continuation(text), explain, rfc)

    def _close(self, reason: str) -> ConnectionClosed:
        self.close_views()
        self._mode = _Mode.CLOSED
        self.state = State.LOGOUT
        self._reader.clear()
        self._sasl = None
        return ConnectionClosed(reason)

    def _take_awaiting(self) -> Awaiting:
        event = self._awaiting
        if event is None:
            raise LocalProtocolError("no login is waiting for an answer")
        self._awaiting = None
        return event

    # --- reading ------------------------------------------------------------------------------------------

    def _next_event(self) -> Event | None:
        """Process input until an event happens or more input is needed."""
        while not self._queued and self._mode in (_Mode.COMMAND, _Mode.SASL, _Mode.IDLE):
            if not self._step():
                break
        if self._queued:
            return self._queued.popleft()
        if self._eof and self._mode is not _Mode.CLOSED:
            return self._close("the client closed the connection")
        return None

    def _step(self) -> bool:
        """Handle one command, literal announcement or line; False when more input is needed."""
        if self._mode is _Mode.SASL:
            line = self._reader.next_line()
            if line is None:
                return False
            self._sasl_line(line.content, line.too_long)
            return True
        if self._mode is _Mode.IDLE:
            line = self._reader.next_line()
            if line is None:
                return False
            self._idle_line(line)
            return True
        item = self._reader.next_event()
        if item is None:
            return False
        if isinstance(item, NeedsContinuation):
            self._continuation(
                r.CONTINUE_LITERAL,
                f"The server is ready for the {item.size} octets of the literal the client announced.",
                "RFC 3501 §7.5",
            )
        elif isinstance(item, LiteralTooLarge):
            self._reject(item.tag, r.LITERAL_TOO_BIG)
            if not item.synchronizing and self._mode is not _Mode.CLOSED:
                self._status(r.BYE_LITERAL_TOO_BIG.untagged(), r.BYE_LITERAL_TOO_BIG)
                self._queued.append(self._close("a non-synchronising literal over the limit"))
        elif isinstance(item, ev.CommandError):
            self._reject(item.tag, r.bad_command(item.text), item.command or "")
        else:
            self._command(item)
        return True

    def _reject(self, tag: str | None, response: Response, command: str = "") -> None:
        if tag is None:
            self._untagged(response)
        else:
            self._complete(tag, command, response, None)  # a command that could not be read changes no state

    def _plaintext_allowed(self) -> bool:
        return self.tls or not self.config.plaintext_requires_tls

    def _mechanisms(self) -> list[str]:
        return [m for m in self.config.sasl_mechanisms if m in sasl.SASL_SERVERS]

    def _after_login(self) -> list[str]:
        """The capabilities once logged in: Dovecot sends them with the OK so the client need not ask."""
        return list(BASE_CAPABILITIES)

    # --- dispatch -----------------------------------------------------------------------------------------

    def _command(self, command: ev.Command) -> None:
        """Consult the state table, then run the command (RFC 3501 §3, §6)."""
        name = command_name(command)
        if not is_valid(self.state, type(command)):
            self._complete(command.tag, name, self._wrong_state(command), None)
            return
        match command:
            case ev.Capability():
                self._write(*_capability_line(self.capabilities))
                self._finish(command, r.CAPABILITY_OK)
            case ev.Noop():
                self._finish(command, r.NOOP_OK)
            case ev.Logout():
                self._untagged(r.BYE_LOGOUT)
                self.close_views()
                self._complete(command.tag, name, r.LOGOUT_OK, ev.Logout)
                self._queued.append(self._close("the client said LOGOUT"))
            case ev.StartTLS():
                self._starttls(command)
            case ev.Login():
                self._login(command)
            case ev.Authenticate():
                self._authenticate(command)
            case ev.Select() | ev.Examine():
                self._select(command)
            case ev.Create() | ev.Delete() | ev.Rename() | ev.Subscribe() | ev.Unsubscribe():
                self._manage(command)
            case ev.List() | ev.Lsub():
                self._list(command)
            case ev.Status():
                self._status_command(command)
            case ev.Append():
                self._append(command)
            case ev.Namespace():
                self._write(
                    w.format_untagged(Atom("NAMESPACE"), [("", "/")], None, None),
                    "Personal mailboxes have no prefix and use '/' between levels; there are no shared ones.",
                    "RFC 2342 §5",
                )
                self._finish(command, r.NAMESPACE_OK)
            case ev.Enable():
                self._write(
                    w.format_untagged(Atom("ENABLED")),
                    "None of the extensions asked for needs enabling here, so the ENABLED list is empty.",
                    "RFC 5161 §3.2",
                )
                self._finish(command, r.ENABLE_OK)
            case ev.Idle():
                self._idle(command)
            case ev.Check():
                self._finish(command, r.CHECK_OK)
            case ev.Close() | ev.Unselect():
                self._close_mailbox(command)
            case ev.Expunge():
                self._expunge(command)
            case ev.Search():
                self._search(command)
            case ev.Fetch():
                self._fetch(command)
            case ev.Store():
                self._store(command)
            case ev.Copy() | ev.Move():
                self._copy(command)
            case _:
                self._complete(
                    command.tag, name, r.bad_command(f"Error in IMAP command {name}: Unknown command."), None
                )

    def _wrong_state(self, command: ev.Command) -> Response:
        if self.state is State.NOT_AUTHENTICATED:
            return r.NOT_AUTHENTICATED
        if isinstance(command, ev.Login | ev.Authenticate):
            return r.ALREADY_AUTHENTICATED
        if isinstance(command, ev.StartTLS):
            return COMMAND_NOT_AFTER_LOGIN
        return r.NO_MAILBOX_SELECTED

    def _finish(self, command: ev.Command, response: Response) -> None:
        """Untagged updates from other sessions, then the tagged completion (RFC 3501 §7, §5.5)."""
        if self.view is not None:
            # RFC 3501 §7.4.1: no EXPUNGE during FETCH, STORE or SEARCH, whose numbers the client may be using.
            holds = isinstance(command, ev.Fetch | ev.Store | ev.Search) and not command.uid
            self._flush(allow_expunge=not holds)
        self._complete(command.tag, command_name(command), response, type(command))

    def _flush(self, *, allow_expunge: bool) -> bool:
        """Write what the view queued: EXISTS, RECENT, EXPUNGE, FETCH FLAGS, FLAGS (RFC 3501 §7.3, §7.4)."""
        assert self.view is not None
        updates = self.view.pending(allow_expunge=allow_expunge)
        for update in updates:
            if isinstance(update, access.CountUpdate):
                if access.is_recent_update(update):
                    self._write(
                        w.format_untagged(update.count, Atom("RECENT")),
                        f"{_count(update.count, 'message is', 'messages are')} new since a session last looked"
                        " (\\Recent).",
                        "RFC 3501 §7.3.2",
                    )
                else:
                    self._write(
                        w.format_untagged(update.count, Atom("EXISTS")),
                        f"The mailbox now holds {_count(update.count, 'message', 'messages')}.",
                        "RFC 3501 §7.3.1",
                    )
            elif isinstance(update, access.FlagsUpdate):
                self._write(
                    w.format_fetch(update.seq, [("FLAGS", w.flag_list(update.flags))]),
                    f"The flags of message {update.seq} changed, in another session or by this command.",
                    "RFC 3501 §7.4.2",
                )
            elif isinstance(update, access.ExpungeUpdate):
                self._write(
                    w.format_untagged(update.seq, Atom("EXPUNGE")),
                    f"Message {update.seq} is gone; every message after it moves down by one.",
                    "RFC 3501 §7.4.1",
                )
            else:
                self._write(
                    w.format_untagged(Atom("FLAGS"), w.flag_list(update.flags)),
                    "The flags this mailbox uses changed: a new keyword appeared.",
                    "RFC 3501 §7.2.6",
                )
        return bool(updates)

    # --- not authenticated (RFC 3501 §6.2) ----------------------------------------------------------------

    def _starttls(self, command: ev.StartTLS) -> None:
        if self.tls:
            self._finish(command, r.TLS_ALREADY_ACTIVE)
            return
        if not self.config.starttls:
            self._finish(command, TLS_UNAVAILABLE)
            return
        self._finish(command, r.STARTTLS_OK)
        # RFC 3501 §6.2.1: anything pipelined after STARTTLS came in clear text; it is dropped.
        if not self.config.keep_plaintext_after_starttls:
            self._reader.clear()
        self._mode = _Mode.TLS
        self._queued.append(StartTLS(command.tag))

    def _login(self, command: ev.Login) -> None:
        if not self._plaintext_allowed():
            self._untagged(r.LOGINDISABLED_ALERT)
            self._finish(command, r.PRIVACY_REQUIRED)
            return
        self._queued.append(Credentials(command.tag, command.user, command.password))

    def _authenticate(self, command: ev.Authenticate) -> None:
        mechanism = command.mechanism
        if mechanism in PLAINTEXT_MECHANISMS and mechanism in self._mechanisms() and not self._plaintext_allowed():
            self._finish(command, r.PRIVACY_REQUIRED)
            return
        if mechanism not in self._mechanisms():
            self._finish(command, r.UNSUPPORTED_MECHANISM)
            return
        server = sasl.create_server(mechanism, hostname=self.config.hostname, rng=self._rng)
        if server is None:
            self._finish(command, r.UNSUPPORTED_MECHANISM)
            return
        self._sasl = server
        self._sasl_tag = command.tag
        self._mode = _Mode.SASL
        self._continue_sasl(server.begin(command.initial_response))

    def _sasl_line(self, content: bytes, too_long: bool) -> None:
        if too_long:
            self._sasl_fail(r.bad_command("Error in IMAP command AUTHENTICATE: Too long line."))
            return
        assert self._sasl is not None
        self._continue_sasl(self._sasl.feed(content.decode("ascii", errors="replace")))

    def _continue_sasl(self, outcome: sasl.Outcome) -> None:
        """One SASL round (RFC 3501 §6.2.2, RFC 4959): a `+` challenge, an event for the node, or a failure."""
        mechanism = self._sasl
        assert mechanism is not None
        tag = self._sasl_tag
        if isinstance(outcome, sasl.Challenge):
            self._continuation(
                sasl.encode(outcome.data) if outcome.data else "",
                "A SASL challenge, base64-encoded; the client answers with one base64 line, or '*' to cancel.",
                "RFC 3501 §6.2.2, §7.5",
            )
        elif isinstance(outcome, sasl.Credentials):
            self._sasl = None
            self._queued.append(Credentials(tag, outcome.username, outcome.password, mechanism.name, outcome.authzid))
        elif isinstance(outcome, sasl.SecretRequest):
            self._queued.append(SecretNeeded(tag, outcome.mechanism, outcome.username, outcome.authzid))
        elif isinstance(outcome, sasl.BearerCredentials):
            self._queued.append(
                TokenCredentials(tag, outcome.mechanism, outcome.username, outcome.token, outcome.host, outcome.port)
            )
        elif isinstance(outcome, sasl.Success):
            self._sasl = None
            self._queued.append(SaslVerified(tag, mechanism.name, outcome.username, outcome.authzid))
        else:
            self._sasl_fail(SASL_FAILURE_RESPONSES[outcome.kind])

    def _sasl_fail(self, response: Response) -> None:
        self._sasl = None
        self._mode = _Mode.COMMAND
        self._complete(self._sasl_tag, "AUTHENTICATE", response, ev.Authenticate)

    # --- authenticated (RFC 3501 §6.3) --------------------------------------------------------------------

    def _select(self, command: ev.Select | ev.Examine) -> None:
        opener = self._open
        assert opener is not None
        read_only = isinstance(command, ev.Examine)
        self.close_views()  # RFC 3501 §6.3.1: selecting closes the current mailbox, even if this fails
        opened = _attempt(lambda: opener(command.mailbox, read_only))
        if isinstance(opened, _Refused):
            response = self._named_refusal(opened, command.mailbox)
            self._complete(command.tag, command_name(command), response, type(command))
            return
        self.view, self._set_flags = opened
        view = self.view
        self._write(
            w.format_untagged(Atom("FLAGS"), w.flag_list(view.defined_flags)),
            "The flags messages in this mailbox can have.",
            "RFC 3501 §7.2.6",
        )
        if read_only:
            flags = _ok("Read-only mailbox.", "No flag can be changed: the mailbox was EXAMINEd.", "RFC 3501 §6.3.2")
        else:
            flags = _ok(
                "Flags permitted.",
                "The flags the client may change for good; \\* means it may make new keywords too.",
                "RFC 3501 §7.1",
            )
        self._untagged(flags.with_code(w.permanentflags_code(view.permanent_flags)))
        self._write(
            w.format_untagged(view.exists, Atom("EXISTS")),
            f"The mailbox holds {_count(view.exists, 'message', 'messages')}.",
            "RFC 3501 §7.3.1",
        )
        self._write(
            w.format_untagged(view.recent_count, Atom("RECENT")),
            f"{_count(view.recent_count, 'of them is', 'of them are')} new to this session (\\Recent).",
            "RFC 3501 §7.3.2",
        )
        if view.first_unseen is not None:
            self._untagged(
                _ok(
                    FIRST_UNSEEN_TEXT,
                    f"Message {view.first_unseen} is the first one not yet read.",
                    "RFC 3501 §7.1",
                    w.unseen_code(view.first_unseen),
                )
            )
        self._untagged(
            _ok(
                "UIDs valid",
                "UIDs the client cached stay valid as long as this number does not change.",
                "RFC 3501 §2.3.1.1, §7.1",
                w.uidvalidity_code(view.uidvalidity),
            )
        )
        self._untagged(
            _ok(
                "Predicted next UID",
                "The UID the next message to arrive will get.",
                "RFC 3501 §2.3.1.1, §7.1",
                w.uidnext_code(view.uidnext),
            )
        )
        self._complete(command.tag, command_name(command), r.EXAMINE_OK if read_only else r.SELECT_OK, type(command))

    def _named_refusal(self, refusal: _Refused, mailbox: str) -> Response:
        """The shared response for a refusal's code where there is one, naming the mailbox like Dovecot."""
        code = refusal.refusal.code
        if code == "NONEXISTENT":
            return r.nonexistent(mailbox)
        if code == "TRYCREATE":
            return r.trycreate(mailbox)
        if code == "ALREADYEXISTS":
            return r.ALREADY_EXISTS
        return refused(refusal.refusal)

    def _manage(self, command: ev.Create | ev.Delete | ev.Rename | ev.Subscribe | ev.Unsubscribe) -> None:
        """CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 §6.3.3-§6.3.7)."""
        account = self.account
        assert account is not None
        operation: Callable[[], object]
        match command:
            case ev.Create():
                operation, done = (lambda: account.create(command.mailbox)), r.CREATE_OK
            case ev.Delete():
                operation, done = (lambda: account.delete(command.mailbox)), r.DELETE_OK
            case ev.Rename():
                operation, done = (lambda: account.rename(command.mailbox, command.new_name)), r.RENAME_OK
            case ev.Subscribe():
                operation, done = (lambda: account.subscribe(command.mailbox)), r.SUBSCRIBE_OK
            case ev.Unsubscribe():
                operation, done = (lambda: account.unsubscribe(command.mailbox)), r.UNSUBSCRIBE_OK
        result = _attempt(operation)
        if isinstance(result, _Refused):
            if isinstance(command, ev.Delete) and command.mailbox == "INBOX":
                self._finish(command, r.CANNOT_DELETE_INBOX)
            else:
                self._finish(command, self._named_refusal(result, command.mailbox))
            return
        self._finish(command, done)

    def _list(self, command: ev.List | ev.Lsub) -> None:
        """LIST and LSUB (RFC 3501 §6.3.8-§6.3.9); `LIST "" ""` asks only for the delimiter."""
        assert self.account is not None
        lsub = isinstance(command, ev.Lsub)
        verb = "LSUB" if lsub else "LIST"
        rfc = "RFC 3501 §7.2.3" if lsub else "RFC 3501 §7.2.2"
        if not lsub and command.pattern == "":
            self._write(
                w.format_list(["\\Noselect"], "/", "", verb),
                "An empty pattern asks only for the hierarchy delimiter: '/' separates levels here.",
                "RFC 3501 §6.3.8",
            )
            self._finish(command, r.LIST_OK)
            return
        if lsub:
            entries = self.account.list_subscribed(command.reference, command.pattern)
        else:
            entries = self.account.list_folders(command.reference, command.pattern)
        for entry in entries:
            attributes = list(entry.attributes)
            if not lsub:
                attributes.append("\\HasChildren" if entry.has_children else "\\HasNoChildren")
            self._write(
                w.format_list(attributes, "/", entry.name, verb),
                f"A mailbox matching the pattern: {entry.name}"
                + (" (it cannot be selected, it only holds others)." if "\\Noselect" in attributes else "."),
                rfc,
            )
        self._finish(command, r.LSUB_OK if lsub else r.LIST_OK)

    def _status_command(self, command: ev.Status) -> None:
        """STATUS (RFC 3501 §6.3.10): counts without selecting, so no \\Recent is taken."""
        account = self.account
        assert account is not None
        counts = _attempt(lambda: account.status(command.mailbox))
        if isinstance(counts, _Refused):
            self._finish(command, self._named_refusal(counts, command.mailbox))
            return
        values = {
            "MESSAGES": counts.messages,
            "RECENT": counts.recent,
            "UIDNEXT": counts.uidnext,
            "UIDVALIDITY": counts.uidvalidity,
            "UNSEEN": counts.unseen,
        }
        items = [(item, values[item]) for item in dict.fromkeys(command.items) if item in values]
        self._write(
            w.format_status(command.mailbox, items),
            f"The counts asked for, for {command.mailbox}, without selecting it.",
            "RFC 3501 §7.2.4",
        )
        self._finish(command, r.STATUS_OK)

    def _append(self, command: ev.Append) -> None:
        """APPEND (RFC 3501 §6.3.11), answered with the new UID (RFC 4315 §3)."""
        account = self.account
        assert account is not None
        when = self.now
        if command.internal_date is not None:
            when = (command.internal_date - self.config.epoch).total_seconds()
        stored = _attempt(
            lambda: account.deliver(command.mailbox, command.message, internal_date=when, flags=command.flags)
        )
        if isinstance(stored, _Refused):
            self._finish(command, self._named_refusal(stored, command.mailbox))
            return
        counts = _attempt(lambda: account.status(command.mailbox))
        if isinstance(counts, _Refused):  # pragma: no cover - the folder was there a moment ago
            self._finish(command, self._named_refusal(counts, command.mailbox))
            return
        self._finish(command, r.append_ok(counts.uidvalidity, stored.uid))

    def _idle(self, command: ev.Idle) -> None:
        """IDLE (RFC 2177): `+ idling`, updates as they happen, until DONE."""
        self._continuation(
            r.CONTINUE_IDLE,
            "The server will now report changes as they happen, until the client sends DONE.",
            "RFC 2177 §3",
        )
        self._idle_tag = command.tag
        self._mode = _Mode.IDLE
        if self.view is not None:
            self._flush(allow_expunge=True)

    def _idle_line(self, line: Line) -> None:
        self._mode = _Mode.COMMAND
        if line.too_long or not is_idle_done(line):
            self._complete(self._idle_tag, "IDLE", EXPECTED_DONE, ev.Idle)
            return
        if self.view is not None:
            self._flush(allow_expunge=True)
        self._complete(self._idle_tag, "IDLE", r.IDLE_OK, ev.Idle)

    # --- selected (RFC 3501 §6.4) -------------------------------------------------------------------------

    def _selected(self) -> access.MailView[Never]:
        if self.view is None:
            raise LocalProtocolError("no mailbox is selected")
        return self.view

    def _close_mailbox(self, command: ev.Close | ev.Unselect) -> None:
        """CLOSE expunges silently then deselects (RFC 3501 §6.4.2); UNSELECT only deselects (RFC 3691)."""
        view = self._selected()
        if isinstance(command, ev.Close) and not view.read_only:
            _attempt(view.expunge)  # no EXPUNGE responses: close() drops what it queued
        self.close_views()
        done = r.CLOSE_OK if isinstance(command, ev.Close) else r.UNSELECT_OK
        self._complete(command.tag, command_name(command), done, type(command))

    def _entries(
        self, messages: ev.SequenceSet, uid: bool, command: ev.Command
    ) -> Sequence[access.MessageEntry] | None:
        """The messages a set names; None (and a BAD written) when a sequence number is out of range (§9)."""
        view = self._selected()
        if uid:
            return view.by_uid(messages.ranges)  # RFC 3501 §6.4.8: UIDs not there are simply ignored
        exists = view.exists
        for low, high in messages.ranges:
            for number in (low, high):
                value = exists if number is None else number
                if not 1 <= value <= exists:
                    self._finish(command, invalid_messageset(command_name(command)))
                    return None
        return view.by_sequence(messages.ranges)

    def _parsed_message(self, entry: access.MessageEntry) -> ParsedMessage:
        parsed = self._parsed.get(entry.uid)
        if parsed is None:
            parsed = self._parsed[entry.uid] = ParsedMessage.parse(entry.message.content)
        return parsed

    def _internal_date(self, entry: access.MessageEntry) -> datetime:
        return self.config.epoch + timedelta(seconds=entry.message.arrived)

    def _expunge(self, command: ev.Expunge) -> None:
        """EXPUNGE (RFC 3501 §6.4.3) or UID EXPUNGE (RFC 4315 §2.1); the EXPUNGE lines come from the view."""
        view = self._selected()
        if view.read_only:
            self._finish(command, r.READ_ONLY_MAILBOX)
            return
        uids = None if command.uids is None else [e.uid for e in view.by_uid(command.uids.ranges)]
        result = _attempt(lambda: view.expunge(uids))
        self._finish(command, refused(result.refusal) if isinstance(result, _Refused) else r.EXPUNGE_OK)

    def _search(self, command: ev.Search) -> None:
        """SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8) over every message of the view."""
        view = self._selected()
        if command.charset is not None and command.charset not in SEARCH_CHARSETS:
            self._finish(command, r.BAD_CHARSET)
            return
        entries = view.by_sequence([(1, None)]) if view.exists else []
        targets = [
            SearchTarget(
                sequence=entry.seq,
                uid=entry.uid,
                flags=entry.flags,
                internal_date=self._internal_date(entry),
                message=self._parsed_message(entry),
            )
            for entry in entries
            if not entry.expunged  # RFC 2180 §4.1.3: a message another session expunged matches nothing
        ]
        found = search(command.key, targets, uid=command.uid)
        self._write(
            w.format_search(found),
            ("The UIDs" if command.uid else "The sequence numbers") + " of the messages that match.",
            "RFC 3501 §7.2.5",
        )
        self._finish(command, r.SEARCH_OK)

    def _fetch(self, command: ev.Fetch) -> None:
        """FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8): one `* n FETCH (...)` per message."""
        view = self._selected()
        entries = self._entries(command.messages, command.uid, command)
        if entries is None:
            return
        # RFC 3501 §6.4.5: BODY[...] (not PEEK), RFC822 and RFC822.TEXT set \Seen.
        sets_seen = any(
            (isinstance(item, ev.BodySection) and not item.peek)
            or item in (ev.FetchAttribute.RFC822, ev.FetchAttribute.RFC822_TEXT)
            for item in command.items
        )
        for entry in entries:
            current = entry
            changed = False
            if sets_seen and not entry.expunged:
                changed = bool(view.mark_seen([entry.uid]))
                if changed:
                    current = view.by_uid([(entry.uid, entry.uid)])[0]
            items = [self._fetch_item(item, current) for item in dict.fromkeys(command.items)]
            if changed and ev.FetchAttribute.FLAGS not in command.items:
                items.append(("FLAGS", w.flag_list(current.flags)))  # RFC 3501 §6.4.5: the \Seen change is told
            self._write(
                w.format_fetch(entry.seq, items),
                f"The data asked for, for message {entry.seq} (UID {entry.uid}).",
                "RFC 3501 §7.4.2",
            )
        self._finish(command, r.FETCH_OK)

    def _fetch_item(self, item: ev.FetchItem, entry: access.MessageEntry) -> tuple[str, ImapValue]:
        if isinstance(item, ev.BodySection):
            data = self._parsed_message(entry).section(item.section, item.partial)
            return item.response_name, None if data is None else Literal(data)
        parsed = self._parsed_message(entry) if item not in _CHEAP_ITEMS else None
        match item:
            case ev.FetchAttribute.UID:
                return "UID", entry.uid
            case ev.FetchAttribute.FLAGS:
                return "FLAGS", w.flag_list(entry.flags)
            case ev.FetchAttribute.INTERNALDATE:
                return "INTERNALDATE", w.format_date_time(self._internal_date(entry))
        assert parsed is not None
        match item:
            case ev.FetchAttribute.RFC822_SIZE:
                return "RFC822.SIZE", parsed.size
            case ev.FetchAttribute.ENVELOPE:
                return "ENVELOPE", parsed.envelope()
            case ev.FetchAttribute.BODYSTRUCTURE:
                return "BODYSTRUCTURE", parsed.body_structure()
            case ev.FetchAttribute.BODY:
                return "BODY", parsed.body_structure(extensible=False)
            case ev.FetchAttribute.RFC822:
                return "RFC822", Literal(parsed.raw)
            case ev.FetchAttribute.RFC822_HEADER:
                return "RFC822.HEADER", Literal(parsed.header)
            case _:
                return "RFC822.TEXT", Literal(parsed.body)

    def _store(self, command: ev.Store) -> None:
        """STORE and UID STORE (RFC 3501 §6.4.6): the new flags in `* n FETCH` unless .SILENT."""
        view = self._selected()
        if view.read_only:
            self._finish(command, r.READ_ONLY_MAILBOX)
            return
        entries = self._entries(command.messages, command.uid, command)
        if entries is None:
            return
        set_flags = self._set_flags
        assert set_flags is not None
        action = command.action
        result = _attempt(lambda: set_flags([e.uid for e in entries], action.mode, action.flags))
        if isinstance(result, _Refused):
            self._finish(command, refused(result.refusal))
            return
        if not action.silent:
            for entry in entries:
                flags = result.get(entry.uid)
                if flags is None:
                    continue
                items: list[tuple[str, ImapValue]] = [("FLAGS", w.flag_list(flags))]
                if command.uid:
                    items.append(("UID", entry.uid))  # RFC 3501 §6.4.8: UID STORE responses carry the UID
                self._write(
                    w.format_fetch(entry.seq, items),
                    f"Message {entry.seq} now has these flags.",
                    "RFC 3501 §6.4.6, §7.4.2",
                )
        self._finish(command, r.STORE_OK)

    def _copy(self, command: ev.Copy | ev.Move) -> None:
        """COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3)."""
        view = self._selected()
        moving = isinstance(command, ev.Move)
        if moving and view.read_only:
            self._finish(command, r.READ_ONLY_MAILBOX)
            return
        entries = self._entries(command.messages, command.uid, command)
        if entries is None:
            return
        uids = [e.uid for e in entries if not e.expunged]
        if not uids:
            self._finish(command, NO_MESSAGES)
            return
        result = _attempt(lambda: view.move(uids, command.mailbox) if moving else view.copy(uids, command.mailbox))
        if isinstance(result, _Refused):
            self._finish(command, self._named_refusal(result, command.mailbox))
            return
        if not result.source_uids:
            self._finish(command, NO_MESSAGES)
            return
        if not moving:
            self._finish(command, r.copy_ok(result.uidvalidity, result.source_uids, result.destination_uids))
            return
        # RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs, the tagged OK is plain.
        self._untagged(
            _ok(
                "Moved UIDs.",
                "COPYUID pairs each moved message's old UID with its UID in the target; EXPUNGEs follow.",
                "RFC 6851 §4.3; RFC 4315 §3",
                w.copyuid_code(result.uidvalidity, result.source_uids, result.destination_uids),
            )
        )
        self._finish(command, MOVE_OK)


_CHEAP_ITEMS = (ev.FetchAttribute.UID, ev.FetchAttribute.FLAGS, ev.FetchAttribute.INTERNALDATE)


def _count(n: int, one: str, many: str) -> str:
    """ "1 message", "3 messages": explanations read as sentences."""
    return f"{n} {one if n == 1 else many}"
