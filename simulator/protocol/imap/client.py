"""The IMAP client engine of a mail program on a device: one session, sans-IO (RFC 3501, 2177, 4315, 4959, 7888).

    client = IMAPClient(ClientConfig(username="bob@example.org", password="builder", profile="sync"))
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1 IDLE] mail.example.org ready.\\r\\n")
    wire = client.data_to_send()              # A0001 LOGIN ...
    ... feed responses, write what data_to_send() returns ...
    for event in client.events():             # MessageFetched, FlagsSeen, SessionComplete, ...

It reads the greeting, asks CAPABILITY when the greeting did not say, upgrades
with STARTTLS when configured to (asking CAPABILITY again afterwards, RFC 3501
§6.2.1), logs in with LOGIN or AUTHENTICATE (any SASL mechanism), selects the mailbox and
synchronises it the way a mail program does:

1. `UID FETCH 1:* (UID FLAGS)`: what is on the server, and each message's flags.
2. `UID FETCH <new> (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])` for the UIDs the
   device does not have. UIDs only mean the same messages while UIDVALIDITY stays
   the same (RFC 3501 §2.3.1.1): when it changed, everything is new, and the
   device's local changes, which name old UIDs, are dropped.
3. `UID STORE n +FLAGS.SILENT (...)` for the flags changed on the device, then
   `\\Deleted` on the messages deleted there, and EXPUNGE (UID EXPUNGE with UIDPLUS,
   RFC 4315 §2.1, which removes only those).

Profile "sync" then logs out. Profile "idle" issues IDLE (RFC 2177) and waits:
on `* n EXISTS` it sends DONE, fetches the UIDs above the highest it has, and
idles again. The host ends the session with `stop()` and re-issues IDLE with
`refresh_idle()` (RFC 2177 §3: at least every 29 minutes).

One tagged command is on the wire at a time. Untagged responses are read
whenever they come: EXPUNGE and FETCH keep the map of sequence numbers to UIDs
right. Nothing the server sends makes the client raise; a response it cannot
parse, or one that breaks the protocol, ends the session with `SessionFailed`.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError, RemoteProtocolError
from simulator.protocol.imap import commands
from simulator.protocol.imap import responses_reader as rr
from simulator.protocol.imap.commands import CommandInfo
from simulator.protocol.imap.readers import LITERAL_MINUS_LIMIT
from simulator.protocol.imap.utf7 import encode_mailbox_name
from simulator.protocol.imap.writers import CRLF, Status, compact_set, encode_astring
from simulator.protocol.values import Value

PROFILES = ("sync", "idle")
LOGINS = ("login", "sasl-plain", "sasl")
STARTTLS_MODES = ("never", "opportunistic", "required")

# What a mail program fetches of a new message: everything, without setting \Seen (RFC 3501 §6.4.5).
FETCH_NEW_ITEMS = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"
LISTING_ITEMS = "(UID FLAGS)"
DELETED = "\\Deleted"
HIDDEN = "****"


@dataclass(frozen=True)
class ClientConfig:
    """What the device does in its session.

    Attributes:
        username, password: the account to log in to.
        login: "login" (LOGIN, RFC 3501 §6.2.3) or "sasl-plain" (AUTHENTICATE PLAIN when AUTH=PLAIN
            is offered, with the initial response on the command line when SASL-IR is, RFC 4959), or
            "sasl" (AUTHENTICATE `sasl_mechanism`, which the server must offer as AUTH=...).
        sasl_mechanism: for login "sasl": PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 (RFC 7677), XOAUTH2
            or OAUTHBEARER (RFC 7628; these send `token`).
        token: the OAuth 2.0 bearer token for XOAUTH2 and OAUTHBEARER (RFC 6750).
        starttls: "never", "opportunistic" (if CAPABILITY offers STARTTLS) or "required".
        profile: "sync" (synchronise, then LOGOUT) or "idle" (synchronise, then IDLE until `stop()`).
        mailbox: the mailbox to synchronise.
        uidvalidity: the mailbox's UIDVALIDITY when the device last synchronised, None if never.
        known: UID -> flags of the messages the device already has; trusted only if `uidvalidity`
            is the mailbox's current one.
        set_flags: UID -> flags added on the device since, to push with UID STORE +FLAGS.SILENT.
        delete: UIDs deleted on the device, to mark \\Deleted and expunge.
    """

    username: str = ""
    password: str = field(default="", repr=False)
    login: str = "login"
    sasl_mechanism: str = "PLAIN"
    token: str = field(default="", repr=False)
    starttls: str = "never"
    profile: str = "sync"
    mailbox: str = "INBOX"
    uidvalidity: int | None = None
    known: Mapping[int, tuple[str, ...]] = field(default_factory=dict, hash=False)
    set_flags: Mapping[int, tuple[str, ...]] = field(default_factory=dict, hash=False)
    delete: Collection[int] = field(default_factory=frozenset, hash=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES or self.login not in LOGINS or self.starttls not in STARTTLS_MODES:
            raise LocalProtocolError(f"unknown profile, login or starttls mode in {self!r}")
        if self.sasl_mechanism.upper() not in sasl.CLIENT_MECHANISMS:
            raise LocalProtocolError(f"no client for SASL mechanism {self.sasl_mechanism}")


class ClientState(Enum):
    """Where the session is; the server's view of it is RFC 3501 §3's four states."""

    GREETING = "waiting for the greeting"
    CAPABILITY = "CAPABILITY sent"
    STARTTLS = "STARTTLS sent"
    TLS_HANDSHAKE = "TLS handshake in progress"
    AUTHENTICATING = "logging in (not authenticated state)"
    SELECTING = "opening the mailbox (authenticated state)"
    SYNCING = "synchronising the mailbox (selected state)"
    IDLE_REQUESTED = "IDLE sent, waiting for the server's go-ahead"
    IDLING = "idling: the server pushes news"
    DONE_SENT = "DONE sent, waiting for IDLE to complete"
    LOGOUT = "LOGOUT sent"
    CLOSED = "connection closed"


@dataclass(frozen=True)
class Output:
    """One write on the wire with its note for learners."""

    data: bytes
    summary: str
    explain: str
    rfc: str


# --- events ------------------------------------------------------------------------------


class Event(Value):
    """Base class of the IMAP client's events (all immutable)."""

    __slots__ = ()


@dataclass(frozen=True)
class Greeting(Event):
    """The server's first words: OK (log in next), PREAUTH (already logged in) or BYE (RFC 3501 §7.1.1)."""

    response: rr.StatusResponse


@dataclass(frozen=True)
class Capabilities(Event):
    """What the server supports, from CAPABILITY or a [CAPABILITY] code (RFC 3501 §7.2.1)."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class TLSReady(Event):
    """STARTTLS was accepted: the host must run the TLS handshake, then call `tls_started()`."""


@dataclass(frozen=True)
class Authenticated(Event):
    """Logged in; `method` is LOGIN, AUTHENTICATE and the SASL mechanism (AUTHENTICATE PLAIN ...), or PREAUTH."""

    user: str
    method: str


@dataclass(frozen=True)
class LoginFailed(Event):
    """The server refused the login (RFC 3501 §6.2.3: NO)."""

    response: rr.StatusResponse


@dataclass(frozen=True)
class Alert(Event):
    """An [ALERT] text, which RFC 3501 §7.1 says must be shown to the user."""

    text: str


@dataclass(frozen=True)
class Selected(Event):
    """The mailbox is open (RFC 3501 §6.3.1).

    Attributes:
        uidvalidity_changed: the device knew the mailbox under another UIDVALIDITY, so its
            cached UIDs name nothing any more and it must discard them (RFC 3501 §2.3.1.1).
    """

    mailbox: str
    uidvalidity: int | None
    exists: int
    uidnext: int | None
    flags: tuple[str, ...] = ()
    permanent_flags: tuple[str, ...] | None = None
    read_only: bool = False
    uidvalidity_changed: bool = False


@dataclass(frozen=True)
class FlagsSeen(Event):
    """A message's flags as the server has them (a listing, or a change pushed by the server)."""

    uid: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class MessageFetched(Event):
    """A message new to the device, fetched whole without setting \\Seen (BODY.PEEK[], RFC 3501 §6.4.5)."""

    uid: int
    flags: tuple[str, ...]
    content: bytes = field(repr=False)
    internal_date: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class FlagsStored(Event):
    """Flags the device pushed with UID STORE; `ok` False when the server refused (RFC 3501 §6.4.6)."""

    uids: tuple[int, ...]
    flags: tuple[str, ...]
    ok: bool = True


@dataclass(frozen=True)
class Expunged(Event):
    """`* n EXPUNGE`: message number n (UID `uid`, if known) is gone; later numbers moved down (RFC 3501 §7.4.1)."""

    uid: int | None
    number: int


@dataclass(frozen=True)
class NewMail(Event):
    """`* n EXISTS` grew after the mailbox was opened: new messages arrived (RFC 3501 §7.3.1)."""

    exists: int


@dataclass(frozen=True)
class Idling(Event):
    """The server accepted IDLE and will push news until DONE (RFC 2177 §3)."""


@dataclass(frozen=True)
class SyncSummary(Value):
    """What the session did to the device's copy of the mailbox.

    Attributes:
        uidvalidity: the mailbox's UIDVALIDITY; the device stores it for the next session.
        fetched: UIDs fetched whole, in order.
        server_flags: UID -> flags of every message left on the server, as last known.
        removed: UIDs the device knew that are no longer on the server (deleted elsewhere).
        stored: UIDs whose flags were pushed.
        expunged: UIDs the server reported expunged during the session.
        stale: the device's UIDs were from another UIDVALIDITY: its changes were not pushed.
    """

    uidvalidity: int | None
    fetched: tuple[int, ...]
    server_flags: tuple[tuple[int, tuple[str, ...]], ...]
    removed: tuple[int, ...] = ()
    stored: tuple[int, ...] = ()
    expunged: tuple[int, ...] = ()
    stale: bool = False


@dataclass(frozen=True)
class SessionComplete(Event):
    """The session ended with LOGOUT after doing all its work."""

    summary: SyncSummary


@dataclass(frozen=True)
class SessionFailed(Event):
    """The session could not do its work; `response` is what the server said, if anything."""

    reason: str
    response: rr.ServerResponse | None = None


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The client is done with the connection; the host closes it."""


# --- commands on the wire ------------------------------------------------------------------


@dataclass
class _Pending:
    """The command on the wire, awaiting its tagged completion."""

    tag: str
    kind: str  # which handler reads the completion: CAPABILITY, LOGIN, SELECT, LISTING, FETCH, STORE ...
    segments: deque[tuple[bytes, str]] = field(default_factory=deque)  # parts awaiting a '+' (literals)
    uids: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    answered: bool = False  # AUTHENTICATE: the SASL response was sent after a '+'


# The note beside each step the device takes, for the trace.
_NOTES: dict[str, CommandInfo] = {
    "LISTING": CommandInfo(
        "UID FETCH",
        "tag UID FETCH 1:* (UID FLAGS)",
        "The device asks for every message's UID and flags, to compare with what it already has.",
        "RFC 3501 §6.4.8, §6.4.5",
    ),
    "FETCH": CommandInfo(
        "UID FETCH",
        "tag UID FETCH uids (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
        "The device downloads only the messages it does not have; BODY.PEEK leaves them unread (no \\Seen).",
        "RFC 3501 §6.4.8, §6.4.5",
    ),
    "STORE": CommandInfo(
        "UID STORE",
        "tag UID STORE uids +FLAGS.SILENT (flags)",
        "The device tells the server about flags changed on it; .SILENT spares the echo of the new flags.",
        "RFC 3501 §6.4.6, §6.4.8",
    ),
    "DELETE": CommandInfo(
        "UID STORE",
        "tag UID STORE uids +FLAGS.SILENT (\\Deleted)",
        "Deleting in IMAP takes two steps: mark the message \\Deleted, then expunge.",
        "RFC 3501 §6.4.6, §2.3.2",
    ),
    "UID EXPUNGE": CommandInfo(
        "UID EXPUNGE",
        "tag UID EXPUNGE uids",
        "UIDPLUS lets the device expunge only the messages it deleted, not others marked elsewhere.",
        "RFC 4315 §2.1",
    ),
    "SASL": commands.SASL_RESPONSE,
    "LITERAL": commands.LITERAL_DATA,
    "DONE": commands.IDLE_DONE,
}


class IMAPClient:
    """The client side of one IMAP connection, for a device's retrieval profile."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        tls: bool = False,
        rng: sasl.RandomSource | random.Random | None = None,
    ) -> None:
        """Start a session; it begins when the greeting arrives (RFC 3501 §7.1).

        Args:
            tls: the connection is already TLS (IMAPS, RFC 8314).
            rng: where the SCRAM client nonce comes from; `secrets` when None.
        """
        self.config = config or ClientConfig()
        self._rng = rng
        self._sasl: sasl.SaslClient | None = None
        self.state = ClientState.GREETING
        self.tls = tls
        self.capabilities: frozenset[str] = frozenset()
        self.authenticated = False
        self.uidvalidity: int | None = None
        self.uidnext: int | None = None
        self._reader = rr.ResponseReader()
        self._pending: _Pending | None = None
        self._events: deque[Event] = deque()
        self._outbox: list[Output] = []
        self._tags = 0
        self._plan: deque[tuple[str, tuple[int, ...], tuple[str, ...]]] = deque()
        # The sequence-number map: index n-1 holds the UID of message n, None while unknown (RFC 3501 §2.3.1.2).
        self._uids: list[int | None] = []
        self._flags: dict[int, tuple[str, ...]] = {}  # server-side flags by UID
        self._mailbox_flags: tuple[str, ...] = ()
        self._permanent_flags: tuple[str, ...] | None = None
        self._selected = False
        self._trusted = False  # the device's UIDs are valid for this mailbox
        self._wanted: frozenset[int] = frozenset()
        self._wanted_from: int | None = None
        self._highest = 0  # the highest UID the device has (listed at the start or fetched since)
        self._fetched: list[int] = []
        self._stored: list[int] = []
        self._expunged: list[int] = []
        self._synced = False
        self._failed = False
        self._stopping = False
        self._new_mail = False

    # --- the host's side -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" means the server closed the connection."""
        if self.state is ClientState.CLOSED:
            return
        if not data:
            self._connection_lost()
            return
        if self.state is ClientState.TLS_HANDSHAKE:
            return  # clear text during the handshake may be injected (RFC 3501 §6.2.1, §11.1)
        self._reader.feed(data)
        while self.state not in (ClientState.CLOSED, ClientState.TLS_HANDSHAKE):
            response = self._reader.next_response()
            if response is None:
                return
            try:
                self._on_response(response)
            except RemoteProtocolError as exc:
                self._fail(str(exc), response)

    def tls_started(self) -> None:
        """The host finished the TLS handshake: forget the capabilities and ask again (RFC 3501 §6.2.1)."""
        if self.state is not ClientState.TLS_HANDSHAKE:
            raise LocalProtocolError("tls_started() without an accepted STARTTLS")
        self.tls = True
        self.capabilities = frozenset()
        self._reader = rr.ResponseReader()
        self._capability()

    def stop(self) -> None:
        """End the session: DONE if idling, then LOGOUT (RFC 2177 §3).

        Work under way (a synchronisation, a fetch) finishes first; then the client logs
        out instead of idling again.
        """
        if self.state in (ClientState.CLOSED, ClientState.LOGOUT):
            return
        self._stopping = True
        if self.state is ClientState.IDLING:
            self._done()

    def refresh_idle(self) -> bool:
        """Re-issue IDLE (DONE, then IDLE), as RFC 2177 §3 asks at least every 29 minutes.

        Returns whether DONE was sent: only while idling.
        """
        if self.state is not ClientState.IDLING:
            return False
        self._done()
        return True

    def events(self) -> Iterator[Event]:
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
    def sequence_map(self) -> tuple[int | None, ...]:
        """The UID of each message by sequence number (index 0 is message 1), None where not yet known."""
        return tuple(self._uids)

    # --- writing ---------------------------------------------------------------------------

    def _next_tag(self) -> str:
        self._tags += 1
        return f"A{self._tags:04d}"

    def _command(
        self,
        kind: str,
        words: list[bytes],
        *,
        info: CommandInfo,
        secret: int | None = None,
        uids: tuple[int, ...] = (),
        flags: tuple[str, ...] = (),
    ) -> None:
        """Send `tag words...`, splitting at synchronising literals, which wait for '+' (RFC 3501 §7.5).

        Args:
            words: the arguments in wire form, from `encode_astring` where they are strings.
            secret: the index of a word to hide in the summary (a password).
        """
        tag = self._next_tag()
        segments: list[tuple[bytes, str]] = []  # each after the first waits for a '+'
        current = tag.encode("ascii")
        shown = [tag]
        note = ""
        for index, word in enumerate(words):
            display = HIDDEN if index == secret else _display(word)
            shown.append(display)
            current += b" "
            if not word.startswith(b"{"):
                current += word
                continue
            head, _, body = word.partition(CRLF)
            if self._literal_plus(len(body)):
                # RFC 7888 §3: a non-synchronising literal `{n+}` goes on without waiting.
                current += head[:-1] + b"+}" + CRLF + body
                continue
            segments.append((current + head + CRLF, note))
            current = body
            note = f"(literal for {tag}: {display})"
        segments.append((current + CRLF, note))
        summary = " ".join(shown)
        (first, _), *rest = segments
        self._pending = _Pending(tag, kind, deque(rest), uids=uids, flags=flags)
        self._write(first, summary if not rest else f"{summary} (waits for '+' before each literal)", info)

    def _literal_plus(self, size: int) -> bool:
        return "LITERAL+" in self.capabilities or ("LITERAL-" in self.capabilities and size <= LITERAL_MINUS_LIMIT)

    def _simple(self, kind: str, name: str, *arguments: str) -> None:
        self._command(kind, [name.encode("ascii"), *(a.encode("ascii") for a in arguments)], info=_info(name))

    def _write(self, data: bytes, summary: str, info: CommandInfo) -> None:
        self._outbox.append(Output(data, summary, info.explain, info.rfc))

    # --- reading ---------------------------------------------------------------------------

    def _on_response(self, response: rr.ServerResponse) -> None:
        if isinstance(response, rr.Unparsed):
            raise RemoteProtocolError(f"the server sent a response that cannot be parsed: {response.reason}")
        if self.state is ClientState.GREETING:
            self._on_greeting(response)
        elif isinstance(response, rr.Continuation):
            self._on_continuation(response)
        elif isinstance(response, rr.StatusResponse) and response.tag is not None:
            self._on_tagged(response)
        else:
            self._on_untagged(response)

    def _on_greeting(self, response: rr.ServerResponse) -> None:
        if not isinstance(response, rr.StatusResponse) or response.tag is not None:
            raise RemoteProtocolError("the server's first line is not a greeting (RFC 3501 §7.1.1)")
        if response.status not in (Status.OK, Status.PREAUTH, Status.BYE):
            raise RemoteProtocolError(f"a greeting must be OK, PREAUTH or BYE, not {response.status.value}")
        self._events.append(Greeting(response))
        self._alert(response)
        if response.status is Status.BYE:
            self._fail(f"the server refused the connection: {response.text}", response)
            return
        if response.capabilities is not None:
            self._set_capabilities(response.capabilities)
        if response.status is Status.PREAUTH:
            # RFC 3501 §6.2.1: STARTTLS is only valid before authentication, which PREAUTH has skipped.
            self.authenticated = True
            self._events.append(Authenticated(self.config.username, "PREAUTH"))
            if self.config.starttls == "required" and not self.tls:
                self._give_up("TLS is required, but the server pre-authenticated the connection in clear", response)
                return
        if response.capabilities is None:
            self._capability()
        else:
            self._after_capabilities()

    def _on_tagged(self, response: rr.StatusResponse) -> None:
        pending = self._pending
        if pending is None or response.tag != pending.tag:
            raise RemoteProtocolError(f"a tagged response for {response.tag}, which is not the command on the wire")
        self._pending = None
        self._alert(response)
        if response.capabilities is not None:
            self._set_capabilities(response.capabilities)
        _HANDLERS[pending.kind](self, pending, response)

    def _on_continuation(self, response: rr.Continuation) -> None:
        pending = self._pending
        if pending is None:
            raise RemoteProtocolError("a continuation request '+' with no command waiting for one")
        if pending.segments:
            data, summary = pending.segments.popleft()
            self._write(data, summary, _NOTES["LITERAL"])
        elif pending.kind == "AUTHENTICATE":
            # Each challenge gets one base64 line; without SASL-IR the first, empty one asks for the initial
            # response (RFC 4959 §3). A client that cannot go on answers '*', which cancels (RFC 3501 §6.2.2).
            pending.answered = True
            self._sasl_answer(response.text)
        elif pending.kind == "IDLE" and self.state is ClientState.IDLE_REQUESTED:
            if self._stopping or self._new_mail:
                self._done()
                return
            self.state = ClientState.IDLING
            self._events.append(Idling())
        else:
            raise RemoteProtocolError(f"a continuation request '+' while {pending.kind} expects none")

    def _on_untagged(self, response: rr.ServerResponse) -> None:
        if isinstance(response, rr.StatusResponse):
            self._on_untagged_status(response)
        elif isinstance(response, rr.CapabilityData):
            self._set_capabilities(response.capabilities)
        elif isinstance(response, rr.FlagsData):
            self._mailbox_flags = response.flags
        elif isinstance(response, rr.Exists):
            self._on_exists(response.count)
        elif isinstance(response, rr.Expunge):
            self._on_expunge(response.number)
        elif isinstance(response, rr.FetchData):
            self._on_fetch(response)
        # RECENT, SEARCH, LIST, STATUS, ENABLED, NAMESPACE and extensions change nothing this client tracks.

    def _on_untagged_status(self, response: rr.StatusResponse) -> None:
        self._alert(response)
        if response.status is Status.BYE:
            if self.state is not ClientState.LOGOUT:
                self._fail(f"the server ended the session: BYE {response.text}".rstrip(), response)
            return
        if response.status is Status.PREAUTH:
            raise RemoteProtocolError("PREAUTH is only valid as the greeting (RFC 3501 §7.1.4)")
        if response.capabilities is not None:
            self._set_capabilities(response.capabilities)
        # The codes SELECT reports in untagged OKs (RFC 3501 §6.3.1).
        uidvalidity = response.code_number("UIDVALIDITY")
        if uidvalidity is not None:
            self.uidvalidity = uidvalidity
        uidnext = response.code_number("UIDNEXT")
        if uidnext is not None:
            self.uidnext = uidnext
        permanent = response.code_atoms("PERMANENTFLAGS")
        if permanent is not None:
            self._permanent_flags = permanent

    def _on_exists(self, count: int) -> None:
        before = len(self._uids)
        if count >= before:
            self._uids.extend([None] * (count - before))
        else:
            # RFC 3501 §7.3.1: EXISTS never shrinks the mailbox; only EXPUNGE does.
            raise RemoteProtocolError(f"* {count} EXISTS, but {before} messages exist and none was expunged")
        if self._selected and count > before:
            self._events.append(NewMail(count))
            if self.config.profile == "idle":
                self._new_mail = True
                if self.state is ClientState.IDLING:
                    self._done()

    def _on_expunge(self, number: int) -> None:
        if number > len(self._uids):
            raise RemoteProtocolError(f"* {number} EXPUNGE, but only {len(self._uids)} messages exist")
        # RFC 3501 §7.4.1: every message after it moves down one number at once.
        uid = self._uids.pop(number - 1)
        if uid is not None:
            self._flags.pop(uid, None)
            self._expunged.append(uid)
        self._events.append(Expunged(uid, number))

    def _on_fetch(self, data: rr.FetchData) -> None:
        if data.number > len(self._uids):
            raise RemoteProtocolError(f"* {data.number} FETCH, but only {len(self._uids)} messages exist")
        known = self._uids[data.number - 1]
        uid = data.uid if data.uid is not None else known
        if data.uid is not None:
            if known is not None and known != data.uid:
                raise RemoteProtocolError(f"message {data.number} has UID {known}, yet FETCH says UID {data.uid}")
            self._uids[data.number - 1] = data.uid
        if uid is None:
            return  # flags of a message whose UID the client never learnt: nothing to file them under
        if data.flags is not None:
            self._flags[uid] = data.flags
        body = data.section("BODY[]")
        if body is None:
            body = data.section("RFC822")
        pending = self._pending
        fetching = pending is not None and pending.kind == "FETCH"
        if fetching and body is not None and self._wants(uid):
            self._fetched.append(uid)
            self._highest = max(self._highest, uid)
            flags = data.flags if data.flags is not None else self._flags.get(uid, ())
            self._events.append(MessageFetched(uid, flags, body, data.internal_date, data.size))
        elif data.flags is not None and not (fetching and uid in self._fetched):
            self._events.append(FlagsSeen(uid, data.flags))

    def _wants(self, uid: int) -> bool:
        if uid in self._fetched:
            return False
        if self._wanted_from is not None:
            # RFC 3501 §6.4.8: `n:*` always matches the highest UID, even below n; skip what the device has.
            return uid >= self._wanted_from
        return uid in self._wanted

    def _set_capabilities(self, names: tuple[str, ...]) -> None:
        self.capabilities = frozenset(name.upper() for name in names)
        self._events.append(Capabilities(names))

    def _alert(self, response: rr.StatusResponse) -> None:
        if response.code is not None and response.code.name == "ALERT":
            self._events.append(Alert(response.text))

    # --- the steps of a session ------------------------------------------------------------

    def _capability(self) -> None:
        self.state = ClientState.CAPABILITY
        self._simple("CAPABILITY", "CAPABILITY")

    def _on_capability(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up("the server would not list its capabilities", response)
            return
        self._after_capabilities()

    def _after_capabilities(self) -> None:
        if self.authenticated:
            self._select()
            return
        wants_tls = self.config.starttls != "never" and not self.tls
        if wants_tls and "STARTTLS" in self.capabilities:
            self.state = ClientState.STARTTLS
            self._simple("STARTTLS", "STARTTLS")
        elif wants_tls and self.config.starttls == "required":
            self._give_up("TLS is required, but the server does not offer STARTTLS", None)
        else:
            self._login()

    def _on_starttls(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if response.ok:
            # Whatever followed the OK came in clear text and may have been injected (RFC 3501 §6.2.1, §11.1).
            self._reader.clear()
            self.state = ClientState.TLS_HANDSHAKE
            self._events.append(TLSReady())
        elif self.config.starttls == "required":
            self._give_up("STARTTLS was refused", response)
        else:
            self._login()

    def _login(self) -> None:
        self.state = ClientState.AUTHENTICATING
        user = self.config.username
        if self.config.login == "sasl":
            mechanism = self.config.sasl_mechanism.upper()
            if f"AUTH={mechanism}" not in self.capabilities:
                self._give_up(f"the server does not offer AUTH={mechanism}", None)
                return
            self._authenticate(mechanism)
            return
        if self.config.login == "sasl-plain" and "AUTH=PLAIN" in self.capabilities:
            self._authenticate("PLAIN")
            return
        if "LOGINDISABLED" in self.capabilities:
            reason = "the server forbids LOGIN on this connection (LOGINDISABLED): the password would go in clear"
            self._give_up(reason, None)
            return
        words = [b"LOGIN", encode_astring(user), encode_astring(self.config.password)]
        self._command("LOGIN", words, info=_info("LOGIN"), secret=2)

    def _authenticate(self, mechanism: str) -> None:
        """AUTHENTICATE, the initial response on the command line when SASL-IR allows (RFC 3501 §6.2.2, RFC 4959)."""
        client = sasl.client_for(mechanism, self.config, self._rng)
        if client is None:
            self._give_up(f"the user name or password cannot be used with {mechanism} (RFC 4013 §2.3)", None)
            return
        self._sasl = client
        words = [b"AUTHENTICATE", mechanism.encode("ascii")]
        if "SASL-IR" in self.capabilities:
            initial = client.initial_response()
            if initial is not None:
                words.append(sasl.encode(initial).encode("ascii"))  # RFC 4959 §3: '=' is the empty response
        self._command("AUTHENTICATE", words, info=_info("AUTHENTICATE"), secret=2 if len(words) == 3 else None)

    def _sasl_answer(self, text: str) -> None:
        client = self._sasl
        try:
            if client is None:
                raise sasl.SaslMalformed("no exchange in progress")
            challenge = base64.b64decode(text.strip().encode("ascii"), validate=True)
            answer = base64.b64encode(client.respond(challenge))
        except (sasl.SaslError, binascii.Error, UnicodeEncodeError):
            self._write(b"*" + CRLF, "* (cancel the authentication)", _NOTES["SASL"])
            return
        self._write(answer + CRLF, f"(base64 SASL {client.name} response: {HIDDEN})", _NOTES["SASL"])

    def _on_login(self, pending: _Pending, response: rr.StatusResponse) -> None:
        client, self._sasl = self._sasl, None
        if not response.ok:
            self._events.append(LoginFailed(response))
            self._give_up("the login was refused", response)
            return
        if isinstance(client, sasl.ScramSha256Client) and not client.server_verified:
            # RFC 5802 §5: the session is trusted only once the server proved it knows the secret.
            self._events.append(LoginFailed(response))
            self._give_up("the server did not prove that it knows the password (SCRAM ServerSignature)", response)
            return
        self.authenticated = True
        method = f"AUTHENTICATE {client.name}" if pending.kind == "AUTHENTICATE" and client else "LOGIN"
        self._events.append(Authenticated(self.config.username, method))
        if response.capabilities is None:
            # Capabilities may change once logged in; without a [CAPABILITY] code, ask (RFC 3501 §6.2.3, §7.1).
            self._capability()
        else:
            self._select()

    def _select(self) -> None:
        self.state = ClientState.SELECTING
        self._uids = []
        self._flags = {}
        self.uidvalidity = self.uidnext = None
        name = encode_astring(encode_mailbox_name(self.config.mailbox))
        self._command("SELECT", [b"SELECT", name], info=_info("SELECT"))

    def _on_select(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up(f"the mailbox {self.config.mailbox} could not be opened", response)
            return
        self._selected = True
        known = self.config.uidvalidity
        changed = known is not None and self.uidvalidity != known
        # RFC 3501 §2.3.1.1: UIDs name the same messages only while UIDVALIDITY stays the same.
        self._trusted = known is not None and self.uidvalidity == known
        read_only = response.code is not None and response.code.name == "READ-ONLY"
        self._events.append(
            Selected(
                self.config.mailbox,
                self.uidvalidity,
                len(self._uids),
                self.uidnext,
                self._mailbox_flags,
                self._permanent_flags,
                read_only,
                changed,
            )
        )
        self.state = ClientState.SYNCING
        if self._uids:
            self._command("LISTING", _words("UID FETCH 1:*", LISTING_ITEMS), info=_NOTES["LISTING"])
        else:
            self._after_listing()

    def _on_listing(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up("the server would not list the mailbox's UIDs", response)
            return
        self._after_listing()

    def _after_listing(self) -> None:
        on_server = sorted(self._flags)
        known = set(self.config.known) if self._trusted else set()
        self._highest = max(on_server, default=0)
        new = [uid for uid in on_server if uid not in known]
        if new:
            self._wanted = frozenset(new)
            self._wanted_from = None
            self._command("FETCH", _words(f"UID FETCH {compact_set(new)}", FETCH_NEW_ITEMS), info=_NOTES["FETCH"])
        else:
            self._push_changes()

    def _on_fetch_done(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up("the server would not hand over the new messages", response)
            return
        if self._synced:
            self._resume()
        else:
            self._push_changes()

    def _push_changes(self) -> None:
        """Plan the STOREs and the EXPUNGE for the device's own changes (RFC 3501 §6.4.6, §6.4.3)."""
        if self._trusted:
            groups: dict[tuple[str, ...], list[int]] = {}
            for uid, flags in sorted(self.config.set_flags.items()):
                if uid in self._flags and flags:
                    groups.setdefault(tuple(flags), []).append(uid)
            for flags, uids in groups.items():
                self._plan.append(("STORE", tuple(uids), flags))
            doomed = tuple(sorted(uid for uid in set(self.config.delete) if uid in self._flags))
            if doomed:
                self._plan.append(("DELETE", doomed, (DELETED,)))
                self._plan.append(("EXPUNGE", doomed, ()))
        self._next_step()

    def _next_step(self) -> None:
        if not self._plan:
            self._synced = True
            self._resume()
            return
        kind, uids, flags = self._plan.popleft()
        if kind == "EXPUNGE":
            if "UIDPLUS" in self.capabilities:
                self._command("EXPUNGE", _words(f"UID EXPUNGE {compact_set(uids)}"), info=_NOTES["UID EXPUNGE"])
            else:
                self._command("EXPUNGE", [b"EXPUNGE"], info=_info("EXPUNGE"))
            return
        words = _words(f"UID STORE {compact_set(uids)} +FLAGS.SILENT", "(" + " ".join(flags) + ")")
        self._command(kind, words, info=_NOTES[kind], uids=uids, flags=flags)

    def _on_store(self, pending: _Pending, response: rr.StatusResponse) -> None:
        if response.ok:
            # .SILENT means no echo: the client files the flags it asked for itself (RFC 3501 §6.4.6).
            for uid in pending.uids:
                if uid in self._flags:
                    self._flags[uid] = _union(self._flags[uid], pending.flags)
            if pending.kind == "STORE":
                self._stored.extend(pending.uids)
        elif pending.kind == "DELETE":
            # Expunge nothing that was not marked: with plain EXPUNGE that could remove others' marks only.
            self._plan = deque(step for step in self._plan if step[0] != "EXPUNGE")
        self._events.append(FlagsStored(pending.uids, pending.flags, response.ok))
        self._next_step()

    def _on_expunge_done(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up("the server would not expunge the deleted messages", response)
            return
        self._next_step()

    def _resume(self) -> None:
        """After the synchronisation or an IDLE: log out, fetch what arrived, or idle (again)."""
        self.state = ClientState.SYNCING
        if self.config.profile == "sync" or self._stopping:
            self._logout()
        elif self._new_mail:
            self._fetch_since()
        elif "IDLE" not in self.capabilities:
            self._give_up("the server does not offer IDLE, so it cannot push new mail (RFC 2177)", None)
        else:
            self.state = ClientState.IDLE_REQUESTED
            self._simple("IDLE", "IDLE")

    def _fetch_since(self) -> None:
        self._new_mail = False
        self._wanted_from = self._highest + 1
        words = _words(f"UID FETCH {self._wanted_from}:*", FETCH_NEW_ITEMS)
        self._command("FETCH", words, info=_NOTES["FETCH"])

    def _done(self) -> None:
        """End IDLE with DONE; the server then completes the IDLE command (RFC 2177 §3)."""
        self.state = ClientState.DONE_SENT
        self._write(b"DONE" + CRLF, "DONE", _NOTES["DONE"])

    def _on_idle(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending
        if not response.ok:
            self._give_up("the server refused IDLE", response)
            return
        self._resume()

    def _logout(self) -> None:
        self.state = ClientState.LOGOUT
        self._simple("LOGOUT", "LOGOUT")

    def _on_logout(self, pending: _Pending, response: rr.StatusResponse) -> None:
        del pending, response
        self._finish()

    # --- endings ---------------------------------------------------------------------------

    def _finish(self) -> None:
        """LOGOUT done (or the server closed after it): report the work, then close."""
        if self._synced and not self._failed:
            self._events.append(SessionComplete(self._summary()))
        self._close()

    def _summary(self) -> SyncSummary:
        removed = (
            tuple(sorted(uid for uid in self.config.known if uid not in self._flags and uid not in self._expunged))
            if self._trusted
            else ()
        )
        return SyncSummary(
            uidvalidity=self.uidvalidity,
            fetched=tuple(self._fetched),
            server_flags=tuple(sorted(self._flags.items())),
            removed=removed,
            stored=tuple(self._stored),
            expunged=tuple(self._expunged),
            stale=not self._trusted and bool(self.config.known or self.config.set_flags or self.config.delete),
        )

    def _give_up(self, reason: str, response: rr.ServerResponse | None) -> None:
        """Stop the work politely: report, then LOGOUT, valid in every state (RFC 3501 §6.1.3)."""
        self._events.append(SessionFailed(reason, response))
        self._failed = True
        self._plan.clear()
        self._logout()

    def _fail(self, reason: str, response: rr.ServerResponse | None) -> None:
        """Give up at once: the connection is unusable or the server is leaving."""
        self._events.append(SessionFailed(reason, response))
        self._failed = True
        self._close()

    def _connection_lost(self) -> None:
        if self.state is ClientState.LOGOUT:
            self._finish()  # RFC 3501 §6.1.3: after BYE the server may close before the tagged OK arrives
            return
        self._fail("the connection was lost", None)

    def _close(self) -> None:
        self.state = ClientState.CLOSED
        self._pending = None
        self._plan.clear()
        self._events.append(ConnectionClosed())


def _info(name: str) -> CommandInfo:
    return commands.COMMANDS[name]


def _words(*parts: str) -> list[bytes]:
    return [word.encode("ascii") for part in parts for word in part.split(" ")]


def _display(word: bytes) -> str:
    """A word as the trace shows it: a literal as its contents."""
    if word.startswith(b"{"):
        word = word.partition(CRLF)[2]
    return word.decode("utf-8", errors="replace")


def _union(flags: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    have = {flag.upper() for flag in flags}
    return flags + tuple(flag for flag in added if flag.upper() not in have)


# The method that reads the tagged completion of each kind of command.
_HANDLERS: dict[str, Callable[[IMAPClient, _Pending, rr.StatusResponse], None]] = {
    "CAPABILITY": IMAPClient._on_capability,
    "STARTTLS": IMAPClient._on_starttls,
    "LOGIN": IMAPClient._on_login,
    "AUTHENTICATE": IMAPClient._on_login,
    "SELECT": IMAPClient._on_select,
    "LISTING": IMAPClient._on_listing,
    "FETCH": IMAPClient._on_fetch_done,
    "STORE": IMAPClient._on_store,
    "DELETE": IMAPClient._on_store,
    "EXPUNGE": IMAPClient._on_expunge_done,
    "IDLE": IMAPClient._on_idle,
    "LOGOUT": IMAPClient._on_logout,
}
